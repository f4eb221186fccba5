import Foundation
import CBLAS

/// The one matrix-multiply choke point: every convolution with a reduction, every linear layer
/// and their backward passes call this wrapper over OpenBLAS's `cblas_sgemm`.
///
/// Row-major: C (m x n) = alpha * op(A) * op(B) + beta * C, where op(A) is m x k and op(B) k x n.
/// `lda`, `ldb`, `ldc` are the row strides of A, B and C as stored.
@inline(__always)
func gemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
          a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
          beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
    guard m > 0, n > 0 else { return }
    if k == 0 {
        if beta == 0 { for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) } }
        return
    }
    if GEMMSplit.enabled, m >= 64 {
        // Row blocks of C on our own threads, each a single-threaded OpenBLAS call.
        let threads = ComputeThreads.count
        let rows = (m + threads - 1) / threads
        parallelFor(threads) { ts in
            for t in ts {
                let m0 = t * rows, mt = min(m, m0 + rows) - m0
                if mt <= 0 { continue }
                let aBlock = transA ? a + m0 : a + m0 * lda
                cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                            Int32(mt), Int32(n), Int32(k), alpha, aBlock, Int32(lda), b, Int32(ldb), beta, c + m0 * ldc, Int32(ldc))
            }
        }
        return
    }
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

enum GEMMSplit {
    static let enabled = ProcessInfo.processInfo.environment["FT_SPLIT"] == "1"
}

/// Threads used by OpenBLAS and by the parallel loops of the other kernels.
public enum ComputeThreads {
    nonisolated(unsafe) public private(set) static var count = 2

    public static func set(_ n: Int) {
        count = max(1, n)
        openblas_set_num_threads(GEMMSplit.enabled ? 1 : Int32(count))
    }
}
