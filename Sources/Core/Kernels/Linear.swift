/// Fully connected layer, forward and backward, through the GEMM wrapper.
///
///     x (n, f)   weight (o, f) as torchvision's   bias (o)   y (n, o)
enum Linear {
    static func forward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                        y: UnsafeMutablePointer<Float>, n: Int, f: Int, o: Int) {
        gemm(transB: true, m: n, n: o, k: f, a: x, lda: f, b: weight, ldb: f, c: y, ldc: o)
        if let bias { addBias(y, bias, rows: n, channels: o) }
    }

    /// Accumulates dWeight and dBias when given; writes dx when given.
    static func backward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                         dx: UnsafeMutablePointer<Float>?, dWeight: UnsafeMutablePointer<Float>?,
                         dBias: UnsafeMutablePointer<Float>?, n: Int, f: Int, o: Int) {
        if let dWeight { gemm(transA: true, m: o, n: f, k: n, a: dy, lda: o, b: x, ldb: f, beta: 1, c: dWeight, ldc: f) }
        if let dBias { sumRows(dy, rows: n, channels: o, into: dBias) }
        if let dx { gemm(m: n, n: f, k: o, a: dy, lda: o, b: weight, ldb: f, c: dx, ldc: f) }
    }
}
