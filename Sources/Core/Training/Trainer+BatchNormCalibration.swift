/// Batch-norm statistics measured on the training images before a backbone from random
/// initialisation is frozen.
///
/// Such a backbone's running statistics are 0 and 1, which describe nothing: a freeze stage
/// would train the head on features normalised by them, and the next stage, normalising by batch
/// statistics, would hand the head other features (a loss 17 times the freeze stage's at the
/// stage change of the demo). So before its first step such a run sets every batch norm's running
/// mean and variance to the average of its batch statistics over the first `calibrationImages`
/// images of epoch 1, in epoch 1's order and augmentation (PyTorch's `momentum=None`, a
/// cumulative average; what a PyTorch script's `model.train()` freeze stage drifts towards).
/// Pretrained statistics are left as they are: measured again on the images, they made a freeze
/// stage's head worse on a real set (tools/bench_stage_change.py; the README has the figures).
extension Trainer {
    /// Images the statistics are averaged over (8 batches of 32).
    static let calibrationImages = 256

    /// Whether this run's statistics are measured: from random initialisation, with batch norms,
    /// its first stage freezing the whole backbone.
    var measuresBatchNormStatistics: Bool {
        pretrained == nil && stages.first.map(freezesWholeBackbone) == true
            && graph.nodes.contains { if case .batchNorm = $0.operation { true } else { false } }
    }

    /// Whether they are measured now: before the first step (a resumed run reads them from its files).
    var calibratesBatchNorm: Bool { measuresBatchNormStatistics && state.globalStep == 0 && state.stage == 0 }

    /// The batches the statistics are averaged over: the first of epoch 1.
    var calibrationPlan: [[Int]] { Array(train.plan(epoch: 1).prefix(max(1, Self.calibrationImages / options.batchSize))) }

    /// Measures the running statistics (see above) with forward passes in training mode.
    func calibrateBatchNorm() throws {
        let plan = calibrationPlan
        // A training step's buffers, briefly: where they do not fit, the run goes on unmeasured.
        let executor: Executor
        do { executor = try Executor(model: model, batchSize: options.batchSize, training: true) } catch let error as MemoryError {
            onEvent(.info("batch norm: running statistics not measured (\(error)); they stay 0 and 1"))
            return
        }
        // As PyTorch's reset_running_stats(): num_batches_tracked then counts the batches averaged,
        // and measuring again (a run resumed before its first step) gives the same values.
        for slot in model.slots where slot.spec.name.hasSuffix("num_batches_tracked") { slot.value[0] = 0 }
        var seen = 0
        for (k, batch) in train.epoch(1, plan: plan).enumerated() {
            executor.momentumOverride = 1 / Float(k + 1)
            var rng = SplitMix64(seed: options.seed, UInt64(k))
            _ = batch.images.withUnsafeBufferPointer { executor.forward($0.baseAddress!, count: batch.count, rng: &rng) }
            seen += batch.count
        }
        model.markChanged()
        onEvent(.info("batch norm: running statistics measured on \(seen) training images "
                      + "(the backbone starts from random initialisation)"))
    }
}
