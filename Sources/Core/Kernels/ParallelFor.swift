import Dispatch

/// Runs `body(range)` over `0..<count` split into contiguous chunks, one per compute thread.
/// Kernels use it for work outside GEMM (depthwise convolution, normalisation, pooling).
@inline(__always)
func parallelFor(_ count: Int, minimumPerThread: Int = 1, _ body: (Range<Int>) -> Void) {
    let threads = min(ComputeThreads.count, max(1, count / max(1, minimumPerThread)))
    if threads <= 1 || count < 2 {
        body(0..<count)
        return
    }
    let chunk = (count + threads - 1) / threads
    DispatchQueue.concurrentPerform(iterations: threads) { t in
        let start = t * chunk
        if start < count { body(start..<min(count, start + chunk)) }
    }
}
