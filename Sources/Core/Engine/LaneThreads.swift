import Foundation

/// Threads that run one closure per lane at once, lane 0 on the caller's thread, each with
/// its kernels single-threaded; lanes can wait for each other (`exchange`). The threads live as
/// long as this object, so lanes of a training step meet at every batch norm without waiting
/// on a thread pool.
final class LaneThreads: @unchecked Sendable {
    let count: Int
    private let state: State

    init(count: Int) {
        self.count = count
        state = State(count: count)
        for lane in 1..<max(1, count) {
            let thread = Thread { [state] in state.serve(lane) }
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    deinit { state.stop() }

    /// Runs `body(lane)` for lanes 0..<active at once and returns when all have returned.
    func run(active: Int, _ body: (Int) -> Void) {
        precondition(active >= 1 && active <= count)
        withoutActuallyEscaping(body) { body in state.run(active: active, body) }
    }

    /// Called by every active lane with its part; returns all parts in lane order once every
    /// lane has given its own.
    func exchange<T>(_ lane: Int, _ part: T) -> [T] {
        state.exchange(lane, part).map { $0 as! T }
    }

    private final class State: @unchecked Sendable {
        let count: Int
        private let condition = NSCondition()
        private var work: ((Int) -> Void)?
        private var active = 0
        private var round = 0, finished = 0, stopping = false
        // exchange: two sets of parts, used alternately, so a lane that has left one exchange
        // can give its part to the next before a slower lane has read this one.
        private var parts: [[Any?]]
        private var arrived = 0, exchanges = 0

        init(count: Int) {
            self.count = count
            parts = Array(repeating: Array(repeating: nil, count: count), count: 2)
        }

        func run(active: Int, _ body: @escaping (Int) -> Void) {
            condition.lock()
            work = body
            self.active = active
            finished = 0
            arrived = 0
            round += 1
            condition.broadcast()
            condition.unlock()
            ComputeThreads.serially { body(0) }
            condition.lock()
            finished += 1
            while finished < active { condition.wait() }
            work = nil
            condition.unlock()
        }

        func serve(_ lane: Int) {
            var seen = 0
            while true {
                condition.lock()
                while round == seen && !stopping { condition.wait() }
                if stopping { condition.unlock(); return }
                seen = round
                var body = lane < active ? work : nil
                condition.unlock()
                guard body != nil else { continue }
                ComputeThreads.serially { body!(lane) }
                body = nil  // `run` lends the closure: no reference may outlive the round
                condition.lock()
                finished += 1
                condition.broadcast()
                condition.unlock()
            }
        }

        func exchange(_ lane: Int, _ part: Any) -> [Any] {
            condition.lock()
            defer { condition.unlock() }
            let set = exchanges % 2, mine = exchanges
            parts[set][lane] = part
            arrived += 1
            if arrived == active {
                arrived = 0
                exchanges += 1
                condition.broadcast()
            } else {
                while exchanges == mine { condition.wait() }
            }
            return parts[set][0..<active].map { $0! }
        }

        func stop() {
            condition.lock()
            stopping = true
            condition.broadcast()
            condition.unlock()
        }
    }
}
