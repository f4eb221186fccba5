/// Batch normalisation with frozen statistics (`--bn frozen`): in a training step it normalises
/// with the running mean and variance, as inference does, while its scale and shift still train
/// (PyTorch: a BatchNorm2d in eval mode whose weight and bias require gradients; Keras keeps BN
/// so when a pretrained backbone is unfrozen). Per channel it is an affine map
///
///     y = x * s + t,   s = gamma / sqrt(runningVar + eps),   t = beta - runningMean * s
///     dx = dy * s,     dGamma = sum dy * (x - runningMean) / sqrt(runningVar + eps),   dBeta = sum dy
///
/// so a step computes no batch statistics (and lanes exchange none), never updates the running
/// ones, and the network a step trains is the one inference runs.
///
///     x, y, dy, dx      (rows, c)   rows = n * h * w
///     gamma, beta       (c)         trainable weight and bias
///     runningMean/Var   (c)         the pretrained statistics, read only
extension BatchNorm {
    /// Per channel scale s and shift t of the affine map above.
    static func frozenAffine(channels c: Int, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, eps: Float,
                             runningMean: UnsafePointer<Float>, runningVar: UnsafePointer<Float>) -> (scale: [Float], shift: [Float]) {
        let scale = (0..<c).map { gamma[$0] / (runningVar[$0] + eps).squareRoot() }
        return (scale, (0..<c).map { beta[$0] - runningMean[$0] * scale[$0] })
    }

    /// Forward with running statistics, then the fused activation (as in training, the
    /// activation node after it is an alias of this output).
    static func forwardFrozen(x: UnsafePointer<Float>, rows: Int, channels c: Int,
                              gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, eps: Float,
                              runningMean: UnsafePointer<Float>, runningVar: UnsafePointer<Float>,
                              activation: Activation?, y: UnsafeMutablePointer<Float>) {
        let (scale, shift) = frozenAffine(channels: c, gamma: gamma, beta: beta, eps: eps,
                                          runningMean: runningMean, runningVar: runningVar)
        scale.withUnsafeBufferPointer { s in shift.withUnsafeBufferPointer { t in
            let ps = s.baseAddress!, pt = t.baseAddress!
            parallelFor(rows, minimumPerThread: 64) { range in
                for r in range {
                    let xr = x + r * c, yr = y + r * c
                    for i in 0..<c { yr[i] = xr[i] * ps[i] + pt[i] }
                    if let activation { ActivationKernel.apply(activation, yr, count: c) }
                }
            }
        } }
    }

    /// Backward of `forwardFrozen`, in one pass over the rows. With `activation`, dy is the
    /// gradient of the activation's output and is turned in place into that of the affine map's
    /// (from y, or for SiLU from x * s + t), so call it once per step for dx and the parameters
    /// together. Accumulates dGamma/dBeta when given; writes dx when given. No sums are shared
    /// between lanes: each lane's parameter gradients are its own.
    static func backwardFrozen(x: UnsafePointer<Float>, dy: UnsafeMutablePointer<Float>, rows: Int, channels c: Int,
                               gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, eps: Float,
                               runningMean: UnsafePointer<Float>, runningVar: UnsafePointer<Float>,
                               activation: Activation?, y: UnsafePointer<Float>?,
                               dx: UnsafeMutablePointer<Float>?, dGamma: UnsafeMutablePointer<Float>?,
                               dBeta: UnsafeMutablePointer<Float>?) {
        let (scale, shift) = frozenAffine(channels: c, gamma: gamma, beta: beta, eps: eps,
                                          runningMean: runningMean, runningVar: runningVar)
        let invStd = (0..<c).map { 1 / (runningVar[$0] + eps).squareRoot() }
        scale.withUnsafeBufferPointer { s in shift.withUnsafeBufferPointer { t in invStd.withUnsafeBufferPointer { inv in
            let ps = s.baseAddress!, pt = t.baseAddress!, pinv = inv.baseAddress!
            // One row: the activation's derivative into dy, then dx = dy * s.
            func row(_ r: Int) {
                let xr = x + r * c, dr = dy + r * c
                if let activation {
                    ActivationKernel.multiplyByDerivative(activation, dy: dr, y: y! + r * c, count: c) { i in xr[i] * ps[i] + pt[i] }
                }
                if let dx {
                    let out = dx + r * c
                    for i in 0..<c { out[i] = dr[i] * ps[i] }
                }
            }
            guard dGamma != nil || dBeta != nil else {
                parallelFor(rows, minimumPerThread: 64) { range in for r in range { row(r) } }
                return
            }
            // sums[0..<c] = sum dy; sums[c..<2c] = sum dy * xhat, xhat = (x - runningMean) / sqrt(runningVar + eps)
            let sums = columnSums(rows: rows, channels: 2 * c) { r, acc in
                row(r)
                let xr = x + r * c, dr = dy + r * c, dyXhat = acc + c  // no index arithmetic inside the loop: it vectorises
                for i in 0..<c {
                    acc[i] += dr[i]
                    dyXhat[i] += dr[i] * (xr[i] - runningMean[i]) * pinv[i]
                }
            }
            if let dBeta { for i in 0..<c { dBeta[i] += Float(sums[i]) } }
            if let dGamma { for i in 0..<c { dGamma[i] += Float(sums[c + i]) } }
        } } }
    }
}
