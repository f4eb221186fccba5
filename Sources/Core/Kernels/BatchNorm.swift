/// Batch normalisation over NHWC rows, forward (training and inference) and backward,
/// with PyTorch's semantics: batch statistics in training (biased variance to normalise,
/// unbiased variance into the running estimate, `running = (1 - momentum) * running + momentum * batch`),
/// running statistics in inference.
///
///     x, y          (rows, c)   rows = n * h * w
///     gamma, beta   (c)         weight and bias
///     mean, invStd  (c)         saved by the training forward for backward
enum BatchNorm {
    /// Training forward: normalises with batch statistics, saves them, updates running ones.
    static func forwardTraining(x: UnsafePointer<Float>, rows: Int, channels c: Int,
                                gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, eps: Float, momentum: Float,
                                runningMean: UnsafeMutablePointer<Float>, runningVar: UnsafeMutablePointer<Float>,
                                mean: UnsafeMutablePointer<Float>, invStd: UnsafeMutablePointer<Float>,
                                y: UnsafeMutablePointer<Float>) {
        columnSums(rows: rows, channels: c, into: mean) { row, acc in
            let xr = x + row * c
            for i in 0..<c { acc[i] += xr[i] }
        }
        let inv = 1 / Float(rows)
        for i in 0..<c { mean[i] *= inv }
        // Second pass: variance about the mean (stable where E[x^2] - E[x]^2 is not).
        columnSums(rows: rows, channels: c, into: invStd) { row, acc in
            let xr = x + row * c
            for i in 0..<c { let d = xr[i] - mean[i]; acc[i] += d * d }
        }
        let unbias = rows > 1 ? Float(rows) / Float(rows - 1) : 1
        for i in 0..<c {
            let variance = invStd[i] * inv
            runningMean[i] = (1 - momentum) * runningMean[i] + momentum * mean[i]
            runningVar[i] = (1 - momentum) * runningVar[i] + momentum * variance * unbias
            invStd[i] = 1 / (variance + eps).squareRoot()
        }
        normalize(x: x, rows: rows, channels: c, mean: mean, invStd: invStd, gamma: gamma, beta: beta, y: y)
    }

    /// Inference forward with running statistics.
    static func forwardInference(x: UnsafePointer<Float>, rows: Int, channels c: Int,
                                 gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, eps: Float,
                                 runningMean: UnsafePointer<Float>, runningVar: UnsafePointer<Float>,
                                 y: UnsafeMutablePointer<Float>) {
        let invStd = FloatBuffer(count: c)
        for i in 0..<c { invStd[i] = 1 / (runningVar[i] + eps).squareRoot() }
        normalize(x: x, rows: rows, channels: c, mean: runningMean, invStd: invStd.pointer, gamma: gamma, beta: beta, y: y)
    }

    /// y = (x - mean) * invStd * gamma + beta.
    static func normalize(x: UnsafePointer<Float>, rows: Int, channels c: Int, mean: UnsafePointer<Float>,
                          invStd: UnsafePointer<Float>, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
                          y: UnsafeMutablePointer<Float>) {
        let scale = FloatBuffer(count: c), shift = FloatBuffer(count: c)
        for i in 0..<c {
            scale[i] = gamma[i] * invStd[i]
            shift[i] = beta[i] - mean[i] * scale[i]
        }
        let sc = scale.pointer, sh = shift.pointer
        parallelFor(rows, minimumPerThread: 64) { range in
            for r in range {
                let xr = x + r * c, yr = y + r * c
                for i in 0..<c { yr[i] = xr[i] * sc[i] + sh[i] }
            }
        }
    }

    /// Backward of the training forward. Accumulates dGamma/dBeta when given; writes dx when given.
    static func backward(x: UnsafePointer<Float>, dy: UnsafePointer<Float>, rows: Int, channels c: Int,
                         gamma: UnsafePointer<Float>, mean: UnsafePointer<Float>, invStd: UnsafePointer<Float>,
                         dx: UnsafeMutablePointer<Float>?, dGamma: UnsafeMutablePointer<Float>?,
                         dBeta: UnsafeMutablePointer<Float>?) {
        // sums[0..<c] = sum dy; sums[c..<2c] = sum dy * xhat
        let sums = FloatBuffer(count: 2 * c)
        columnSums(rows: rows, channels: 2 * c, into: sums.pointer) { row, acc in
            let xr = x + row * c, dr = dy + row * c
            for i in 0..<c {
                acc[i] += dr[i]
                acc[c + i] += dr[i] * (xr[i] - mean[i]) * invStd[i]
            }
        }
        let sumDy = sums.pointer, sumDyXhat = sums.pointer + c
        if let dBeta { for i in 0..<c { dBeta[i] += sumDy[i] } }
        if let dGamma { for i in 0..<c { dGamma[i] += sumDyXhat[i] } }
        guard let dx else { return }
        let inv = 1 / Float(rows)
        parallelFor(rows, minimumPerThread: 64) { range in
            for r in range {
                let xr = x + r * c, dr = dy + r * c, out = dx + r * c
                for i in 0..<c {
                    let xhat = (xr[i] - mean[i]) * invStd[i]
                    out[i] = gamma[i] * invStd[i] * (dr[i] - sumDy[i] * inv - xhat * sumDyXhat[i] * inv)
                }
            }
        }
    }
}

/// Sums per-row contributions into `out` (width floats, overwritten): each thread accumulates its
/// rows into a private partial, and the partials are added in a fixed order (deterministic).
func columnSums(rows: Int, channels width: Int, into out: UnsafeMutablePointer<Float>,
                _ addRow: (Int, UnsafeMutablePointer<Float>) -> Void) {
    let threads = max(1, min(ComputeThreads.count, rows / 256))
    let partial = FloatBuffer(count: threads * width)
    let chunk = (rows + threads - 1) / threads
    parallelFor(threads) { ts in
        for t in ts {
            let acc = partial.pointer + t * width
            for r in (t * chunk)..<min(rows, (t + 1) * chunk) { addRow(r, acc) }
        }
    }
    out.update(from: partial.pointer, count: width)
    for t in 1..<max(threads, 1) {
        let p = partial.pointer + t * width
        for i in 0..<width { out[i] += p[i] }
    }
}
