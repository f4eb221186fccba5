/// Per-feature standardization of a frozen backbone's features: z = (x - mean) * scale, with the
/// mean and 1/std of the features of a sample of the training images (`sample`) as epoch 1
/// transforms them. The sample, not every image, so that a stage that keeps no features
/// (`--cache-features 0`) computes the same statistics as one that caches them, at the cost of
/// running the backbone on the sample once before its first step.
///
/// The head trains on z rather than x. Pooled features after ReLU sit far from zero (a
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

    /// Images in the sample the statistics are taken from: the statistics of 1,024 images
    /// are within a few percent of the whole set's, and cost a few seconds to compute.
    static let sampleSize = 1024

    /// The dataset indices of the sample of a training set of `images`: all of them up to
    /// `sampleSize`, else that many drawn without replacement from `seed`; in dataset order.
    static func sample(images: Int, seed: UInt64) -> [Int] {
        var order = Array(0..<images)
        guard images > sampleSize else { return order }
        var random = SeededRandom(seed: seed, epoch: 0, stream: .standardization)
        random.shuffle(&order)
        return order.prefix(sampleSize).sorted()
    }

    /// The statistics of `table`'s readable rows among `rows` (none readable gives the identity).
    init(of table: FeatureTable, rows sample: [Int]) {
        let width = table.width
        var sum = [Double](repeating: 0, count: width), squares = [Double](repeating: 0, count: width)
        var rows = 0
        for r in sample where table.readable[r] {
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

    /// Replaces every row x of a batch of features (count, 1, 1, width) by z.
    func apply(to batch: inout Batch) {
        let width = mean.count
        batch.images.withUnsafeMutableBufferPointer { values in
            for r in 0..<batch.count {
                let row = values.baseAddress! + r * width
                for c in 0..<width { row[c] = (row[c] - mean[c]) * scale[c] }
            }
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
