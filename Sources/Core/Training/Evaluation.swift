import Foundation

/// Loss, accuracy and confusion matrix of a model over a dataset, in inference mode.
public struct Evaluation: Sendable {
    public var loss: Double
    public var accuracy: Double
    public var confusion: ConfusionMatrix
    /// Images that could not be read and were skipped.
    public var skipped: Int
    /// The misclassified images with the highest loss, highest first (as many as asked for).
    public var mistakes: [Mistake] = []

    /// A misclassified image: its index in the dataset, its true and predicted class, the
    /// probability given to the prediction and the image's loss.
    public struct Mistake: Sendable, Equatable {
        public var index: Int
        public var truth: Int
        public var prediction: Int
        public var probability: Double
        public var loss: Double
    }

    /// Runs every batch of `loader` (unshuffled) through `executor` (planned for inference).
    /// - Parameter mistakes: how many of the worst misclassified images to keep.
    public static func run(_ executor: Executor, loader: DataLoader, classes: [String], epoch: Int = 0,
                           mistakes: Int = 0) -> Evaluation {
        let batches = loader.epoch(epoch)
        var eval = run(executor, batches: batches, classes: classes, mistakes: mistakes)
        eval.skipped = batches.skipped
        return eval
    }

    /// Runs `batches` through `executor` (planned for inference); `skipped` is left 0.
    /// - Parameter mistakes: how many of the worst misclassified images to keep.
    public static func run(_ executor: Executor, batches: some Sequence<Batch>, classes: [String],
                           mistakes: Int = 0) -> Evaluation {
        var tally = Tally(classes: classes, mistakes: mistakes)
        var rng = SplitMix64(seed: 0)
        for batch in batches where batch.count > 0 {
            let logits = batch.images.withUnsafeBufferPointer {
                executor.forward($0.baseAddress!, count: batch.count, rng: &rng)
            }
            tally.add(logits: logits, of: batch)
        }
        return tally.evaluation
    }

    /// An evaluation's running sums, batch by batch.
    struct Tally {
        var confusion: ConfusionMatrix
        /// How many of the worst misclassified images to keep.
        let mistakes: Int
        var worst: [Mistake] = []
        var lossSum = 0.0, seen = 0

        init(classes: [String], mistakes: Int = 0) {
            confusion = ConfusionMatrix(classes: classes)
            self.mistakes = mistakes
        }

        /// Adds `batch`'s logits, (batch.count, classes).
        mutating func add(logits: UnsafePointer<Float>, of batch: Batch) {
            let k = confusion.classes.count
            let loss = batch.labels.withUnsafeBufferPointer {
                SoftmaxCrossEntropy.forwardBackward(logits: logits, labels: $0.baseAddress!, n: batch.count, classes: k)
            }
            lossSum += Double(loss) * Double(batch.count)
            seen += batch.count
            for i in 0..<batch.count {
                let truth = Int(batch.labels[i]), prediction = argmax(logits + i * k, count: k)
                confusion.add(truth: truth, prediction: prediction)
                if truth != prediction, mistakes > 0 {
                    keep(mistake(logits + i * k, classes: k, index: batch.indices[i], truth: truth, prediction: prediction),
                         in: &worst, limit: mistakes)
                }
            }
        }

        /// Adds one image given as class probabilities (not softmax of logits: averaged ones);
        /// its loss is -log p[truth]. Keeps no mistakes.
        mutating func add(probabilities p: [Double], truth: Int) {
            var prediction = 0
            for c in p.indices where p[c] > p[prediction] { prediction = c }
            confusion.add(truth: truth, prediction: prediction)
            lossSum -= log(p[truth])
            seen += 1
        }

        /// The evaluation so far; `skipped` is 0.
        var evaluation: Evaluation {
            Evaluation(loss: seen == 0 ? .nan : lossSum / Double(seen), accuracy: confusion.accuracy,
                       confusion: confusion, skipped: 0, mistakes: worst)
        }
    }

    /// The loss (softmax cross-entropy) and the prediction's probability from one image's `classes` logits.
    static func mistake(_ z: UnsafePointer<Float>, classes k: Int, index: Int, truth: Int, prediction: Int) -> Mistake {
        let m = Double(z[prediction])
        var sum = 0.0
        for c in 0..<k { sum += exp(Double(z[c]) - m) }
        return Mistake(index: index, truth: truth, prediction: prediction, probability: 1 / sum,
                       loss: log(sum) - (Double(z[truth]) - m))
    }

    /// Inserts `m` into `worst` (highest loss first) when it is among the `limit` highest.
    static func keep(_ m: Mistake, in worst: inout [Mistake], limit: Int) {
        guard limit > 0, worst.count < limit || m.loss > worst[worst.count - 1].loss else { return }
        worst.insert(m, at: worst.firstIndex { $0.loss < m.loss } ?? worst.count)
        if worst.count > limit { worst.removeLast() }
    }
}

/// Index of the largest of `count` values (the first one on ties).
func argmax(_ p: UnsafePointer<Float>, count: Int) -> Int {
    var best = 0
    for i in 1..<max(count, 1) where p[i] > p[best] { best = i }
    return best
}
