/// Per-feature standardization of cached backbone features: z = (x - mean) * scale, with the
/// mean and 1/std of the first training view's features.
///
/// A cached head trains on z rather than x. Pooled features after ReLU sit far from zero (a
/// frozen ResNet18's average about 0.8 with a spread of 0.3), which couples every weight of the
/// head's first linear layer to its bias and makes the head's validation accuracy swing by 5-10
/// points from epoch to epoch; on z it converges steadily. In the uncached recipe the frozen
/// backbone's own batch norms, left in training mode, normalise each batch and play this part,
/// but their batch statistics cannot be cached.
///
/// The affine map folds into the head's first linear layer, so files hold an ordinary head over
/// raw features:
///
///     W z + b = (W diag(scale)) x + (b - W diag(scale) mean)
///
///     weight  (outputs, width)   the first linear layer's, row-major as in files
///     bias    (outputs)
struct FeatureStandardization {
    let mean: [Float]
    let scale: [Float]

    /// The statistics of `table`'s readable rows (an all-unreadable table gives the identity).
    init(of table: FeatureTable) {
        let width = table.width
        var sum = [Double](repeating: 0, count: width), squares = [Double](repeating: 0, count: width)
        var rows = 0
        for r in 0..<table.labels.count where table.readable[r] {
            let row = table.values.pointer + r * width
            for c in 0..<width {
                let v = Double(row[c])
                sum[c] += v
                squares[c] += v * v
            }
            rows += 1
        }
        let n = Double(max(rows, 1))
        mean = sum.map { Float($0 / n) }
        // A feature that never varies (a dead channel) gets scale 1000: its centred values are 0,
        // so its weights never train and fold back to exactly what they were.
        scale = zip(sum, squares).map { s, q in Float(1 / (max(q / n - (s / n) * (s / n), 0) + 1e-6).squareRoot()) }
    }

    /// Replaces every readable row x of `table` by z.
    func apply(to table: FeatureTable) {
        let width = table.width
        for r in 0..<table.labels.count where table.readable[r] {
            let row = table.values.pointer + r * width
            for c in 0..<width { row[c] = (row[c] - mean[c]) * scale[c] }
        }
    }

    /// A layer over z becomes the same layer over x (in place).
    func fold(weight: UnsafeMutablePointer<Float>, bias: UnsafeMutablePointer<Float>, outputs: Int) {
        let width = mean.count
        for o in 0..<outputs {
            let w = weight + o * width
            var shift: Float = 0
            for c in 0..<width {
                w[c] *= scale[c]
                shift += w[c] * mean[c]
            }
            bias[o] -= shift
        }
    }

    /// A layer over x becomes the same layer over z (in place): the inverse of `fold`.
    func unfold(weight: UnsafeMutablePointer<Float>, bias: UnsafeMutablePointer<Float>, outputs: Int) {
        let width = mean.count
        for o in 0..<outputs {
            let w = weight + o * width
            var shift: Float = 0
            for c in 0..<width {
                shift += w[c] * mean[c]
                w[c] /= scale[c]
            }
            bias[o] += shift
        }
    }
}
