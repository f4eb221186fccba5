import CBLAS
import Foundation

/// The one matrix-multiply choke point: every convolution with a reduction, every linear layer
/// and their backward passes call this wrapper over OpenBLAS's `cblas_sgemm`.
///
/// Row-major: C (m x n) = alpha * op(A) * op(B) + beta * C, where op(A) is m x k and op(B) k x n.
/// `lda`, `ldb`, `ldc` are the row strides of A, B and C as stored.
///
/// OpenBLAS runs single-threaded; this wrapper splits C into one block of rows (or of columns,
/// when there are few rows) per compute thread. One thread pool for GEMM and the other kernels
/// keeps OpenBLAS's spinning threads from competing with them for the cores.
@inline(__always)
func gemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
          a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
          beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
    guard m > 0, n > 0 else { return }
    if k == 0 {
        if beta == 0 { for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) } }
        return
    }
    _ = ComputeThreads.singleThreadedBLAS
    let threads = ComputeThreads.count
    let byRows = m >= 32 * threads || m >= n
    let length = byRows ? m : n
    let parts = min(threads, max(1, length / 16), max(1, m * n * k / 100_000))
    let chunk = (length + parts - 1) / parts
    parallelFor(parts) { range in
        for t in range {
            let start = t * chunk, size = min(length, start + chunk) - start
            guard size > 0 else { continue }
            // A block of rows of C reads the same rows of op(A); a block of columns, the same columns of op(B).
            let aBlock = byRows ? (transA ? a + start : a + start * lda) : a
            let bBlock = byRows ? b : (transB ? b + start * ldb : b + start)
            let cBlock = byRows ? c + start * ldc : c + start
            cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                        Int32(byRows ? size : m), Int32(byRows ? n : size), Int32(k), alpha,
                        aBlock, Int32(lda), bBlock, Int32(ldb), beta, cBlock, Int32(ldc))
        }
    }
}
