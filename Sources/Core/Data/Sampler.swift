// Sampler: the order in which a training epoch visits the samples (`--sampler`).
//
// `shuffle` visits every sample once, in a seeded random order. `balanced` is PyTorch's
// `WeightedRandomSampler(weights, num_samples=len(dataset), replacement=True)` with each
// sample's weight 1 / (samples of its class): as many draws as the dataset has samples, with
// replacement, each with probability proportional to its weight, so every class is drawn
// equally often on average, a rare class's images several times an epoch and a common class's
// not all. Both orders derive from (seed, epoch) alone, so a resumed run visits what an
// uninterrupted one would. (A sample drawn twice in one epoch gets the same augmentation both
// times: its random draws derive from (seed, epoch, sample).)

public enum Sampler: String, Codable, CaseIterable, Sendable {
    case shuffle
    case balanced

    /// The dataset indices `epoch` visits.
    /// - Parameters:
    ///   - labels: the class of each sample.
    public func order(labels: [Int32], seed: UInt64, epoch: Int) -> [Int] {
        switch self {
        case .shuffle:
            var order = Array(labels.indices)
            var random = SeededRandom(seed: seed, epoch: epoch, stream: .shuffle)
            random.shuffle(&order)
            return order
        case .balanced:
            var counts: [Int32: Int] = [:]
            for label in labels { counts[label, default: 0] += 1 }
            // cumulative[i]: the weights of samples 0...i; a draw u in [0, total) picks the first i with u < cumulative[i].
            var cumulative = [Double](repeating: 0, count: labels.count), total = 0.0
            for (i, label) in labels.enumerated() {
                total += 1 / Double(counts[label]!)
                cumulative[i] = total
            }
            var random = SeededRandom(seed: seed, epoch: epoch, stream: .sampler)
            return labels.indices.map { _ in
                let u = random.unit() * total
                var low = 0, high = labels.count - 1
                while low < high {
                    let mid = (low + high) / 2
                    if u < cumulative[mid] { high = mid } else { low = mid + 1 }
                }
                return low
            }
        }
    }
}
