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
            let rows = byRows ? size : m, columns = byRows ? n : size
            // OpenBLAS scales C by beta one float at a time (its beta kernel for beta = 0 was a
            // tenth of MobileNetV2's inference); beta = 1 skips it, so C is zeroed here instead.
            if beta == 0 { for i in 0..<rows { (cBlock + i * ldc).update(repeating: 0, count: columns) } }
            cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                        Int32(rows), Int32(columns), Int32(k), alpha,
                        aBlock, Int32(lda), bBlock, Int32(ldb), beta == 0 ? 1 : beta, cBlock, Int32(ldc))
        }
    }
}
