/// Loss, accuracy and confusion matrix of a model over a dataset, in inference mode.
public struct Evaluation: Sendable {
    public var loss: Double
    public var accuracy: Double
    public var confusion: ConfusionMatrix
    /// Images that could not be read and were skipped.
    public var skipped: Int

    /// Runs every batch of `loader` (unshuffled) through `executor` (planned for inference).
    public static func run(_ executor: Executor, loader: DataLoader, classes: [String], epoch: Int = 0) -> Evaluation {
        let batches = loader.epoch(epoch)
        var eval = run(executor, batches: batches, classes: classes)
        eval.skipped = batches.skipped
        return eval
    }

    /// Runs `batches` through `executor` (planned for inference); `skipped` is left 0.
    public static func run(_ executor: Executor, batches: some Sequence<Batch>, classes: [String]) -> Evaluation {
        var confusion = ConfusionMatrix(classes: classes)
        var lossSum = 0.0, seen = 0
        var rng = SplitMix64(seed: 0)
        let k = classes.count
        for batch in batches where batch.count > 0 {
            let logits = batch.images.withUnsafeBufferPointer {
                executor.forward($0.baseAddress!, count: batch.count, rng: &rng)
            }
            let loss = batch.labels.withUnsafeBufferPointer {
                SoftmaxCrossEntropy.forwardBackward(logits: logits, labels: $0.baseAddress!, n: batch.count, classes: k)
            }
            lossSum += Double(loss) * Double(batch.count)
            seen += batch.count
            for i in 0..<batch.count {
                confusion.add(truth: Int(batch.labels[i]), prediction: argmax(logits + i * k, count: k))
            }
        }
        return Evaluation(loss: seen == 0 ? .nan : lossSum / Double(seen), accuracy: confusion.accuracy,
                          confusion: confusion, skipped: 0)
    }
}

/// Index of the largest of `count` values (the first one on ties).
func argmax(_ p: UnsafePointer<Float>, count: Int) -> Int {
    var best = 0
    for i in 1..<max(count, 1) where p[i] > p[best] { best = i }
    return best
}
