/// Batch normalisation over NHWC rows, forward (training and inference) and backward,
/// with PyTorch's semantics: batch statistics in training (biased variance to normalise,
/// unbiased variance into the running estimate, `running = (1 - momentum) * running + momentum * batch`),
/// running statistics in inference.
///
///     x, y          (rows, c)   rows = n * h * w
///     gamma, beta   (c)         weight and bias
///     mean, invStd  (c)         saved by the training forward for backward
enum BatchNorm {
    /// Per-channel count, mean and sum of squared deviations of some rows; `merged` combines
    /// those of disjoint row sets (the samples of several lanes) exactly.
    struct Moments {
        var rows: Int
        var mean: [Double]
        var squares: [Double]

        /// Over all rows of every part: m2 = sum of the parts' m2 + rows_i (mean_i - mean)².
        static func merged(_ parts: [Moments]) -> Moments {
            guard parts.count > 1 else { return parts[0] }
            let rows = parts.reduce(0) { $0 + $1.rows }, c = parts[0].mean.count
            var mean = [Double](repeating: 0, count: c), squares = mean
            for p in parts { for i in 0..<c { mean[i] += p.mean[i] * Double(p.rows) / Double(rows) } }
            for p in parts {
                for i in 0..<c {
                    let d = p.mean[i] - mean[i]
                    squares[i] += p.squares[i] + Double(p.rows) * d * d
                }
            }
            return Moments(rows: rows, mean: mean, squares: squares)
        }
    }

    /// The moments of x's rows in one pass: sums of d = x - k and d², shifted by the first row k
    /// so that sum d² - (sum d)² / rows does not cancel when the mean is large next to the spread.
    static func moments(x: UnsafePointer<Float>, rows: Int, channels c: Int) -> Moments {
        let sums = columnSums(rows: rows, channels: 2 * c) { row, acc in
            let xr = x + row * c, squares = acc + c  // no index arithmetic inside the loop: it vectorises
            for i in 0..<c {
                let d = xr[i] - x[i]
                acc[i] += d
                squares[i] += d * d
            }
        }
        let inv = 1 / Double(rows)
        return Moments(rows: rows, mean: (0..<c).map { Double(x[$0]) + sums[$0] * inv },
                       squares: (0..<c).map { max(0, sums[c + $0] - sums[$0] * sums[$0] * inv) })
    }

    /// Training forward: normalises with batch statistics, saves them, updates running ones.
    /// - Parameters:
    ///   - allRows: turns the moments of these rows into those of the whole batch, where the
    ///     batch is split between lanes (identity otherwise).
    ///   - runningMean, runningVar: updated when given (by one lane of a split batch).
    static func forwardTraining(x: UnsafePointer<Float>, rows: Int, channels c: Int,
                                gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, eps: Float, momentum: Float,
                                runningMean: UnsafeMutablePointer<Float>?, runningVar: UnsafeMutablePointer<Float>?,
                                mean: UnsafeMutablePointer<Float>, invStd: UnsafeMutablePointer<Float>,
                                activation: Activation? = nil, y: UnsafeMutablePointer<Float>,
                                allRows: (Moments) -> Moments = { $0 }) {
        let m = allRows(moments(x: x, rows: rows, channels: c))
        let unbias = m.rows > 1 ? Float(m.rows) / Float(m.rows - 1) : 1
        for i in 0..<c {
            mean[i] = Float(m.mean[i])
            let variance = Float(m.squares[i] / Double(m.rows))
            if let runningMean, let runningVar {
                runningMean[i] = (1 - momentum) * runningMean[i] + momentum * mean[i]
                runningVar[i] = (1 - momentum) * runningVar[i] + momentum * variance * unbias
            }
            invStd[i] = 1 / (variance + eps).squareRoot()
        }
        normalize(x: x, rows: rows, channels: c, mean: mean, invStd: invStd, gamma: gamma, beta: beta,
                  activation: activation, y: y)
    }

    /// Inference forward with running statistics.
    static func forwardInference(x: UnsafePointer<Float>, rows: Int, channels c: Int,
                                 gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, eps: Float,
                                 runningMean: UnsafePointer<Float>, runningVar: UnsafePointer<Float>,
                                 y: UnsafeMutablePointer<Float>) {
        let invStd = (0..<c).map { 1 / (runningVar[$0] + eps).squareRoot() }
        normalize(x: x, rows: rows, channels: c, mean: runningMean, invStd: invStd, gamma: gamma, beta: beta, y: y)
    }

    /// y = (x - mean) * (invStd * gamma) + beta, then the activation (row by row, in cache).
    static func normalize(x: UnsafePointer<Float>, rows: Int, channels c: Int, mean: UnsafePointer<Float>,
                          invStd: UnsafePointer<Float>, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
                          activation: Activation? = nil, y: UnsafeMutablePointer<Float>) {
        let sc = (0..<c).map { gamma[$0] * invStd[$0] }
        sc.withUnsafeBufferPointer { scale in
            let a = scale.baseAddress!
            parallelFor(rows, minimumPerThread: 64) { range in
                for r in range {
                    let xr = x + r * c, yr = y + r * c
                    for i in 0..<c { yr[i] = (xr[i] - mean[i]) * a[i] + beta[i] }
                    if let activation { ActivationKernel.apply(activation, yr, count: c) }
                }
            }
        }
    }

    /// Backward of the training forward. Accumulates dGamma/dBeta when given; writes dx when given.
    ///
    /// With `activation` (which the forward applied to its output y), dy is the gradient of the
    /// activation's output; it is turned in place into the gradient of the normalised values,
    /// from y for ReLU-like activations or from the normalised values recomputed from x for SiLU.
    /// Call it once per step, for dx and the parameters together. Where the batch is split
    /// between lanes, `allRows` turns the sums of dy and dy·xhat over these rows into those over
    /// the whole batch, of `batchRows` rows.
    static func backward(x: UnsafePointer<Float>, dy: UnsafeMutablePointer<Float>, rows: Int, channels c: Int,
                         gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
                         mean: UnsafePointer<Float>, invStd: UnsafePointer<Float>,
                         activation: Activation? = nil, y: UnsafePointer<Float>? = nil,
                         dx: UnsafeMutablePointer<Float>?, dGamma: UnsafeMutablePointer<Float>?,
                         dBeta: UnsafeMutablePointer<Float>?, batchRows: Int? = nil,
                         allRows: ([Double]) -> [Double] = { $0 }) {
        let scale = (0..<c).map { gamma[$0] * invStd[$0] }
        // sums[0..<c] = sum dy; sums[c..<2c] = sum dy * xhat
        let sums = scale.withUnsafeBufferPointer { scale in
            columnSums(rows: rows, channels: 2 * c) { row, acc in
                let xr = x + row * c, dr = dy + row * c
                if let activation {
                    ActivationKernel.multiplyByDerivative(activation, dy: dr, y: y! + row * c, count: c) { i in
                        (xr[i] - mean[i]) * scale[i] + beta[i]
                    }
                }
                let dyXhat = acc + c  // no index arithmetic inside the loop: it vectorises
                for i in 0..<c {
                    acc[i] += dr[i]
                    dyXhat[i] += dr[i] * (xr[i] - mean[i]) * invStd[i]
                }
            }
        }
        let total = allRows(sums)
        let sumDy = total[0..<c].map { Float($0) }, sumDyXhat = total[c...].map { Float($0) }
        if let dBeta { for i in 0..<c { dBeta[i] += sumDy[i] } }
        if let dGamma { for i in 0..<c { dGamma[i] += sumDyXhat[i] } }
        guard let dx else { return }
        // dx = gamma * invStd * (dy - mean(dy) - xhat * mean(dy * xhat)), as (x - mean) * a + dy * b + k per channel.
        let inv = 1 / Float(batchRows ?? rows)
        var a = [Float](repeating: 0, count: c), b = a, k = a
        for i in 0..<c {
            let g = gamma[i] * invStd[i], m = sumDyXhat[i] * inv * invStd[i]
            a[i] = -g * m
            b[i] = g
            k[i] = -g * sumDy[i] * inv
        }
        a.withUnsafeBufferPointer { a in b.withUnsafeBufferPointer { b in k.withUnsafeBufferPointer { k in
            let pa = a.baseAddress!, pb = b.baseAddress!, pk = k.baseAddress!
            parallelFor(rows, minimumPerThread: 64) { range in
                for r in range {
                    let xr = x + r * c, dr = dy + r * c, out = dx + r * c
                    for i in 0..<c { out[i] = (xr[i] - mean[i]) * pa[i] + dr[i] * pb[i] + pk[i] }
                }
            }
        } } }
    }
}

/// Sums per-row contributions over all rows: `addRow` adds one row into Float accumulators,
/// which are flushed into Double totals every 8 rows (Float vectors for speed, Double for the
/// long sums; flushing every 32 rows already cost MobileNetV2's gradient parity a factor of 100,
/// as BN's gradient sums cancel). Each thread keeps private partials, added in a fixed order (deterministic).
func columnSums(rows: Int, channels width: Int, _ addRow: (Int, UnsafeMutablePointer<Float>) -> Void) -> [Double] {
    let threads = max(1, min(ComputeThreads.count, rows / 256))
    let partial = UnsafeMutablePointer<Double>.allocate(capacity: threads * width)
    let block = UnsafeMutablePointer<Float>.allocate(capacity: threads * width)
    defer { partial.deallocate(); block.deallocate() }
    partial.initialize(repeating: 0, count: threads * width)
    block.initialize(repeating: 0, count: threads * width)
    let chunk = (rows + threads - 1) / threads
    parallelFor(threads) { ts in
        for t in ts {
            let acc = partial + t * width, f = block + t * width
            var r = t * chunk
            let end = min(rows, (t + 1) * chunk)
            while r < end {
                let stop = min(end, r + 8)
                for row in r..<stop { addRow(row, f) }
                for i in 0..<width { acc[i] += Double(f[i]); f[i] = 0 }
                r = stop
            }
        }
    }
    var out = Array(UnsafeBufferPointer(start: partial, count: width))
    for t in 1..<threads {
        for i in 0..<width { out[i] += partial[t * width + i] }
    }
    return out
}
