import Foundation

/// Layer normalisation over the channels of every pixel (nn.LayerNorm(C) on NHWC rows), forward
/// and backward. Per row r of c values:
///
///     mean = Σ x / c,  var = Σ (x - mean)² / c,  s = 1 / sqrt(var + eps),  x̂ = (x - mean) s
///     y    = x̂ gamma + beta
///     dx   = s (g - mean(g) - x̂ mean(g x̂))  with g = dy gamma
///     dgamma += Σ_rows dy x̂,  dbeta += Σ_rows dy
///
/// Backward recomputes each row's mean and s from x (one pass over c values, in cache), so
/// nothing is kept between forward and backward but the input.
enum LayerNorm {
    static func forward(x: UnsafePointer<Float>, rows: Int, channels c: Int, gamma: UnsafePointer<Float>,
                        beta: UnsafePointer<Float>, eps: Float, y: UnsafeMutablePointer<Float>) {
        parallelFor(rows, minimumPerThread: max(1, 4096 / c)) { range in
            for r in range {
                let xr = x + r * c, yr = y + r * c
                let (mean, s) = moments(xr, c, eps)
                for i in 0..<c { yr[i] = (xr[i] - mean) * s * gamma[i] + beta[i] }
            }
        }
    }

    /// dx written when given; dGamma and dBeta accumulated when given.
    static func backward(x: UnsafePointer<Float>, dy: UnsafePointer<Float>, rows: Int, channels c: Int,
                         gamma: UnsafePointer<Float>, eps: Float, dx: UnsafeMutablePointer<Float>?,
                         dGamma: UnsafeMutablePointer<Float>?, dBeta: UnsafeMutablePointer<Float>?) {
        if let dx {
            parallelFor(rows, minimumPerThread: max(1, 4096 / c)) { range in
                for r in range {
                    let xr = x + r * c, dr = dy + r * c, out = dx + r * c
                    let (mean, s) = moments(xr, c, eps)
                    var sumG: Float = 0, sumGX: Float = 0
                    for i in 0..<c {
                        let g = dr[i] * gamma[i]
                        sumG += g
                        sumGX += g * (xr[i] - mean) * s
                    }
                    let meanG = sumG / Float(c), meanGX = sumGX / Float(c)
                    for i in 0..<c {
                        let xhat = (xr[i] - mean) * s
                        out[i] = s * (dr[i] * gamma[i] - meanG - xhat * meanGX)
                    }
                }
            }
        }
        guard dGamma != nil || dBeta != nil else { return }
        for r in 0..<rows {
            let xr = x + r * c, dr = dy + r * c
            let (mean, s) = moments(xr, c, eps)
            if let dBeta { for i in 0..<c { dBeta[i] += dr[i] } }
            if let dGamma { for i in 0..<c { dGamma[i] += dr[i] * (xr[i] - mean) * s } }
        }
    }

    /// The row's mean and 1 / sqrt(variance + eps), accumulated in Double.
    @inline(__always)
    private static func moments(_ x: UnsafePointer<Float>, _ c: Int, _ eps: Float) -> (mean: Float, invStd: Float) {
        var sum = 0.0
        for i in 0..<c { sum += Double(x[i]) }
        let mean = sum / Double(c)
        var squares = 0.0
        for i in 0..<c { let d = Double(x[i]) - mean; squares += d * d }
        return (Float(mean), Float(1 / (squares / Double(c) + Double(eps)).squareRoot()))
    }
}
