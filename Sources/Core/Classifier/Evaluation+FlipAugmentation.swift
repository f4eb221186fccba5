extension Evaluation {
    /// The plain evaluation of `loader`'s images (unshuffled, epoch 0) and the test-time
    /// augmented one (`FlipAugmentation`), in one pass: each batch is decoded once and run as it
    /// is and flipped. The plain result is what `run(_:loader:classes:)` gives.
    static func runWithFlip(_ executor: Executor, loader: DataLoader, classes: [String]) -> (plain: Evaluation, augmented: Evaluation) {
        var plain = Tally(classes: classes), augmented = Tally(classes: classes)
        let k = classes.count
        let batches = loader.epoch(0)
        for var batch in batches where batch.count > 0 {
            let (logits, flipped) = batch.images.withUnsafeMutableBufferPointer {
                FlipAugmentation.logits(executor, images: $0.baseAddress!, count: batch.count, height: batch.height,
                                        width: batch.width, classes: k)
            }
            logits.withUnsafeBufferPointer { plain.add(logits: $0.baseAddress!, of: batch) }
            for i in 0..<batch.count {
                let rows = (i * k)..<((i + 1) * k)
                augmented.add(probabilities: FlipAugmentation.average(logits[rows], flipped[rows]).probabilities,
                              truth: Int(batch.labels[i]))
            }
        }
        var results = (plain: plain.evaluation, augmented: augmented.evaluation)
        results.plain.skipped = batches.skipped
        results.augmented.skipped = batches.skipped
        return results
    }
}
