/// One batch through a training executor: forward, the loss and its gradient, backward (which
/// adds into the trainable parameters' gradients). The run loop and the learning-rate finder
/// take their steps through it; zeroing gradients and the optimiser's step are theirs.
struct TrainingStep {
    let executor: Executor
    let classes: Int
    let labelSmoothing: Float
    /// The weight of each class in the loss; nil: all 1.
    let classWeights: [Float]?

    struct Result {
        /// The batch's mean loss (not finite when training diverged).
        var loss: Float
        /// Samples whose largest logit is their label's.
        var correct: Int
    }

    /// - Parameters:
    ///   - targets: soft targets, (count, classes), for a mixed batch (`Mixup`); nil: the labels.
    ///     A sample is then correct where its largest logit is its largest target's class.
    ///   - gradientScale: multiplies the loss's gradient (1/k for one of k accumulated batches).
    ///   - rng: draws dropout and stochastic-depth masks.
    /// - Returns: the loss and the correct count; with a loss that is not finite nothing was
    ///   added to the gradients.
    func run(_ batch: Batch, targets: [Float]? = nil, gradientScale: Float = 1, rng: inout SplitMix64) -> Result {
        let n = batch.count
        return batch.images.withUnsafeBufferPointer { images in
            let logits = executor.forward(images.baseAddress!, count: n, rng: &rng)
            var dLogits = [Float](repeating: 0, count: n * classes)
            let loss = dLogits.withUnsafeMutableBufferPointer { d in
                (classWeights ?? []).withUnsafeBufferPointer { w in
                    let weights = classWeights == nil ? nil : w.baseAddress
                    if let targets {
                        return targets.withUnsafeBufferPointer { t in
                            SoftmaxCrossEntropy.forwardBackward(logits: logits, targets: t.baseAddress!, n: n, classes: classes,
                                                                classWeights: weights, dLogits: d.baseAddress!)
                        }
                    }
                    return batch.labels.withUnsafeBufferPointer { labels in
                        SoftmaxCrossEntropy.forwardBackward(logits: logits, labels: labels.baseAddress!, n: n, classes: classes,
                                                            labelSmoothing: labelSmoothing, classWeights: weights,
                                                            dLogits: d.baseAddress!)
                    }
                }
            }
            var correct = 0
            for i in 0..<n {
                let label = targets.map { t in t.withUnsafeBufferPointer { argmax($0.baseAddress! + i * classes, count: classes) } }
                    ?? Int(batch.labels[i])
                if argmax(logits + i * classes, count: classes) == label { correct += 1 }
            }
            guard loss.isFinite else { return Result(loss: loss, correct: correct) }
            if gradientScale != 1 {
                for i in dLogits.indices { dLogits[i] *= gradientScale }
            }
            executor.backward(dLogits)  // reads the images through forward's pointer: inside this closure
            return Result(loss: loss, correct: correct)
        }
    }
}
