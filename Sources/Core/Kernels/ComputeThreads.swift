import CBLAS
import Foundation

/// Threads of the compute kernels: GEMM blocks and the parallel loops (OpenBLAS itself runs one).
public enum ComputeThreads {
    nonisolated(unsafe) private static var configured = ProcessInfo.processInfo.activeProcessorCount

    /// Threads a kernel called on this thread may use: the configured count (defaults to the
    /// machine's cores; `finetune --threads` sets it), or 1 inside `serially`.
    public static var count: Int { pthread_getspecific(serialKey) == nil ? configured : 1 }

    public static func set(_ n: Int) {
        configured = max(1, n)
    }

    /// Runs `body` with every kernel it calls on this thread single-threaded: for work that is
    /// already split across threads at a coarser grain (samples of an inference batch).
    public static func serially<T>(_ body: () throws -> T) rethrows -> T {
        let outer = pthread_getspecific(serialKey)
        pthread_setspecific(serialKey, UnsafeRawPointer(bitPattern: 1))
        defer { pthread_setspecific(serialKey, outer) }
        return try body()
    }

    private static let serialKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    /// Done once, before the first GEMM.
    static let singleThreadedBLAS: Void = openblas_set_num_threads(1)
}
