import Foundation

/// What one classification call uses alone: an executor (its activation buffers), an image
/// decoder (its TurboJPEG handle) and the input batch, (batchSize, H, W, 3).
final class ClassifierWorker {
    let executor: Executor
    let decoder: ImageDecoder
    var input: [Float]

    init(executor: Executor, decoder: ImageDecoder, input: [Float]) {
        self.executor = executor
        self.decoder = decoder
        self.input = input
    }
}

/// The workers of one `ImageClassifier`, so calls from several threads or tasks run at once
/// without sharing a buffer: a call takes an idle worker, or makes one while fewer than `limit`
/// exist, or else waits for one to come back. The model's weights are shared and only read.
///
/// The first worker is made at once, so the classifier's init reports a model that does not fit
/// in memory. A later one that does not fit is not an error: calls then wait for the workers
/// there are, and no more are made.
final class ClassifierWorkers: @unchecked Sendable {
    private let condition = NSCondition()
    private let make: () throws -> ClassifierWorker
    private var idle: [ClassifierWorker]
    /// Workers made (idle or in use); never below 1.
    private var made = 1
    private var limit: Int

    /// - Parameters:
    ///   - limit: the most workers, at least 1.
    ///   - make: makes one worker; called under no lock, on the thread of the call that needs it.
    init(limit: Int, make: @escaping () throws -> ClassifierWorker) throws {
        precondition(limit >= 1, "a classifier needs at least one worker")
        self.limit = limit
        self.make = make
        idle = [try make()]
    }

    /// Runs `body` with a worker no other call uses meanwhile.
    func withWorker<T>(_ body: (ClassifierWorker) throws -> T) rethrows -> T {
        let worker = take()
        defer { give(worker) }
        return try body(worker)
    }

    private func take() -> ClassifierWorker {
        condition.lock()
        while true {
            if let worker = idle.popLast() {
                condition.unlock()
                return worker
            }
            if made < limit {
                made += 1
                condition.unlock()
                if let worker = try? make() { return worker }
                condition.lock()
                made -= 1
                limit = made  // out of memory: wait for the workers there are
                continue
            }
            condition.wait()
        }
    }

    private func give(_ worker: ClassifierWorker) {
        condition.lock()
        idle.append(worker)
        condition.signal()
        condition.unlock()
    }
}
