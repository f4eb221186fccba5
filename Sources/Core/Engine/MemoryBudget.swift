import Foundation

/// Memory the engine asks for, refused before it is allocated when the machine cannot give it.
///
/// Swift aborts the process when an allocation fails, the kernel kills it when touched memory
/// runs out, and sizes within every limit can still multiply past the machine (a 2048-pixel
/// input at batch 64 needs tens of GB of activations). `Model` (weights and gradients) and
/// `Executor` (activations, gradients and scratch, planned once per batch size) count what they
/// will allocate with `CheckedSize` and `reserve` it first: the answer is an error naming the
/// size and what lowers it, and the reservation is held until the model or executor is freed, so
/// a training run's evaluator and training executor are counted together.
public struct MemoryError: Error, CustomStringConvertible, Equatable {
    /// Bytes asked for; nil when the count does not fit an `Int`.
    public var needed: Int?
    /// Bytes the process may still take: the machine's physical memory, or less where the system
    /// reports less available, minus what the engine already holds.
    public var available: Int
    /// What asks for it, e.g. "training on batches of 32 inputs of 224x224x3 values".
    public var what: String
    /// What lowers it, e.g. "lower --batch-size or --input-size".
    public var hint: String

    public var description: String {
        "not enough memory for \(what): it needs \(needed.map(Self.format) ?? "more bytes than a 64-bit count holds"), "
            + "this machine has \(Self.format(available)) free for it\nhint: \(hint)"
    }

    /// 35_200_000_000 -> "35.2 GB".
    static func format(_ bytes: Int) -> String {
        let value = Double(bytes)
        if value >= 1e12 { return String(format: "%.1f TB", value / 1e12) }
        if value >= 1e9 { return String(format: "%.1f GB", value / 1e9) }
        return String(format: "%.0f MB", (value / 1e6).rounded(.up))
    }
}

/// Bytes reserved by `MemoryBudget.reserve`, returned to the budget when this is freed.
final class MemoryReservation: Sendable {
    let bytes: Int
    fileprivate init(bytes: Int) { self.bytes = bytes }
    deinit { MemoryBudget.held.add(-bytes) }
}

enum MemoryBudget {
    /// Bytes reserved by live models and executors.
    fileprivate static let held = HeldBytes()

    /// Reserves `floats` Float32 values (plus `transient` more that are checked but not held, such
    /// as the input batch a caller provides) or throws `MemoryError`.
    /// - Parameter floats: nil when counting them overflowed.
    static func reserve(floats: Int?, transient: Int? = 0, what: @autoclosure () -> String,
                        hint: @autoclosure () -> String) throws -> MemoryReservation {
        try require(floats: total([floats, transient]), what: what(), hint: hint())
        let bytes = (floats ?? 0) * MemoryLayout<Float>.size  // `require` checked that it fits
        held.add(bytes)
        return MemoryReservation(bytes: bytes)
    }

    /// Throws `MemoryError` unless `floats` Float32 values fit beside what is reserved.
    static func require(floats: Int?, what: @autoclosure () -> String, hint: @autoclosure () -> String) throws {
        let needed = floats.flatMap { CheckedSize.bytes(elements: $0, elementSize: MemoryLayout<Float>.size) }
        let free = max(0, usableBytes - held.bytes)
        if let needed, needed <= free { return }
        throw MemoryError(needed: needed, available: free, what: what(), hint: hint())
    }

    /// The checked sum of `counts`, nil on overflow or a nil term.
    static func total(_ counts: [Int?]) -> Int? {
        var sum = 0
        for c in counts {
            guard let c, let s = CheckedSize.sum(sum, c) else { return nil }
            sum = s
        }
        return sum
    }

    /// What this process may fill: the physical memory, or, where Linux reports them, the memory
    /// the system can still give plus what the process already has resident (reservations not
    /// yet touched take from the former as they fill).
    static var usableBytes: Int {
        let physical = Int(clamping: ProcessInfo.processInfo.physicalMemory)
        guard let available = meminfo("MemAvailable"), let resident = residentBytes,
              let sum = CheckedSize.sum(available, resident) else { return physical }
        return min(physical, sum)
    }

    /// A `/proc/meminfo` field in bytes, or nil.
    private static func meminfo(_ field: String) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
            let parts = line.split(separator: " ")
            guard parts.count >= 2, let kB = Int(parts[1]) else { return nil }
            return CheckedSize.product(kB, 1024)
        }
        return nil
    }

    /// This process's resident memory from `/proc/self/statm`, or nil.
    private static var residentBytes: Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return nil }
        let fields = text.split(separator: " ")
        guard fields.count >= 2, let pages = Int(fields[1]) else { return nil }
        return CheckedSize.product(pages, Int(sysconf(Int32(_SC_PAGESIZE))))
    }
}

/// A counter shared by every thread that makes or frees a model or an executor.
private final class HeldBytes: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0

    var bytes: Int { lock.withLock { value } }
    func add(_ delta: Int) { lock.withLock { value += delta } }
}
