import Foundation

/// The learning-rate range test on a trainer's run (`finetune lr-find`, `train --lr auto`):
/// the sweep of `LearningRateFinder` taken with the configuration of the run's first stage,
/// its optimiser, batches, augmentation and loss, then the weights put back as they were.
extension Trainer {
    /// Runs the range test on the run's first stage: for two-stage and freeze the head with the
    /// backbone frozen, for full and discriminative the whole network, the backbone at the
    /// stage's rate ratio. Each step trains at the sweep's rate with a fresh optimiser of the
    /// configured kind (on mixed batches with --mixup or --cutmix where the stage mixes), continuing
    /// into further epochs when one has fewer batches than the
    /// sweep has steps. Afterwards every tensor of the model (weights and batch-norm buffers)
    /// is restored and the gradients are zero; nothing is written to the run folder. A frozen
    /// stage's head is swept as the run trains it: in its own model, on the backbone's features
    /// computed batch by batch through the inference path, standardized where the run's are.
    /// - Parameters:
    ///   - calibrate: measure the batch-norm statistics first, as the run would before its first
    ///     step (`Trainer+BatchNormCalibration.swift`); nil: when the run would.
    /// - Returns: the finder, with its points, why it stopped and its suggestions.
    public func findLearningRate(_ sweep: LearningRateFinder.Sweep = .init(), calibrate: Bool? = nil) throws -> LearningRateFinder {
        ComputeThreads.set(options.threads)
        let saved = try Model(graph: graph)
        saved.copyValues(from: model)
        defer {
            model.copyValues(from: saved)
            model.zeroGradients()
        }
        if calibrate ?? calibratesBatchNorm { try calibrateBatchNorm() }
        let stage = stages[0]
        // A frozen stage: the head alone, on features (see Trainer+FeatureCache.swift), none kept.
        let cached = try freezesWholeBackbone(stage)
            ? CachedHead(classifier: model, cache: FeatureCache(model: model, views: 0, train: train, validation: validation,
                                                                standardizes: options.standardizeCachedFeatures),
                         batchSize: options.batchSize)
            : nil
        if let cached, !prepareFeatures(cached, epoch: 1) {
            var stopped = LearningRateFinder(sweep: sweep)
            stopped.interrupt()
            return stopped
        }
        let trained = cached?.model ?? model
        let (step, trainable) = try trainingStep(for: stage, cached: cached)
        let optimizer = makeOptimizer()
        let head = graph.groups.count - 1
        let backboneRatio = cached == nil ? (stage.backboneLR ?? stage.lr) / stage.lr : 1
        var batches = EpochChain { epoch in
            cached?.cache.trainingBatches(epoch: epoch, loader: self.train).batches ?? AnySequence(self.train.epoch(epoch))
        }
        var finder = LearningRateFinder(sweep: sweep)
        let started = Date()
        onEvent(.info("lr-find: \(sweep.steps) steps from \(sweep.startLR) to \(sweep.endLR), stage \(stage.name) "
                      + (freezesWholeBackbone(stage) ? "(the head; the backbone frozen)"
                         : "(the whole network" + (backboneRatio == 1 ? ")" : ", the backbone at \(backboneRatio) times the rate)"))))
        while finder.stop == nil {
            if shouldStop() {
                finder.interrupt()
                break
            }
            let index = finder.points.count
            let lr = Float(finder.nextLearningRate)
            for slot in trainable { slot.grad!.zero() }
            // One optimiser step: `accumulate` batches, their gradients summed, the loss their mean.
            var loss = 0.0, correct = 0, seen = 0
            for micro in 0..<options.accumulate {
                var batch = try batches.next()
                // Mixed as the stage's steps are (where they run the whole network on images).
                let targets = cached == nil && options.mixup.isActive ? mix(&batch, index: index * options.accumulate + micro) : nil
                var rng = micro == 0 ? SplitMix64(seed: options.seed, UInt64(index))
                    : SplitMix64(seed: options.seed, UInt64(index), UInt64(micro))
                let result = step.run(batch, targets: targets, gradientScale: 1 / Float(options.accumulate), rng: &rng)
                loss += Double(result.loss) / Double(options.accumulate)
                correct += result.correct
                seen += batch.count
                if !result.loss.isFinite { break }
            }
            if loss.isFinite {
                if let maxNorm = options.clipGrad { GradientClipping.clip(trainable, maxNorm: maxNorm) }
                optimizer.step(trainable) { cached != nil || $0.group == head ? lr : lr * backboneRatio }
                trained.markChanged()
            }
            finder.record(loss: loss)
            let elapsed = Date().timeIntervalSince(started)
            let done = finder.points.count
            let rate = Double(done * options.batchSize * options.accumulate) / max(elapsed, 1e-9)
            let left = elapsed / Double(done) * Double(sweep.steps - done)
            onEvent(.progress(Progress(stage: "lr-find", epoch: 1, stageEpochs: 1, runEpoch: 1, runEpochs: 1,
                                       batch: done, batches: sweep.steps, loss: finder.points.last!.smoothedLoss,
                                       accuracy: Double(correct) / Double(max(seen, 1)), imagesPerSecond: rate,
                                       learningRate: lr, elapsed: elapsed, epochETA: left, runETA: left)))
        }
        return finder
    }

    /// `--lr auto`: before the run's first step, runs the range test (with the statistics the run
    /// has already measured) and sets `lr`, the options the state saves and the stages to the
    /// suggestion of `AutomaticLearningRate.method`. A run whose options hold a rate found (a
    /// resumed one) keeps it.
    func resolveAutomaticLearningRate() throws {
        guard var automatic = options.automaticLR, automatic.found == nil else { return }
        let finder = try findLearningRate(automatic.sweep, calibrate: false)
        if finder.stop == .interrupted {
            throw TrainingError.interrupted("stopped during the learning-rate range test of --lr auto; nothing was trained or saved")
        }
        guard let chosen = finder.suggestion(automatic.method) else {
            throw TrainingError.diverged("--lr auto: the range test's loss diverged after \(finder.points.count) steps, "
                                         + "too few to suggest a rate; pass --lr, or look at the curve of `finetune lr-find`")
        }
        let lr = Float(chosen.learningRate)
        automatic.found = lr
        var o = options
        o.lr = lr
        o.automaticLR = automatic
        try o.validate()
        options = o
        state.options = o
        stages = Stage.plan(o, groups: graph.groups)
        let others = finder.suggestions.filter { $0.method != automatic.method }
            .map { "\($0.method.rawValue) \(Self.rateText($0.learningRate))" }.joined(separator: ", ")
        onEvent(.info("--lr auto: the range test suggests \(Self.rateText(chosen.learningRate)) (\(automatic.method.rawValue)"
                      + (others.isEmpty ? "" : "; \(others)") + "); training at --lr \(lr)"))
    }

    /// The report's text of the head's learning rate: how `--lr auto` found it, if it did.
    var learningRateText: String {
        guard let automatic = options.automaticLR, automatic.found != nil else { return "\(options.lr)" }
        let s = automatic.sweep
        return "\(options.lr), found by the learning-rate range test (--lr auto: its \(automatic.method.rawValue) suggestion, "
            + "\(s.steps) steps from \(s.startLR) to \(s.endLR))"
    }

    /// A rate in three significant digits: 0.00158, 1.58e-05.
    static func rateText(_ rate: Double) -> String { String(format: "%.3g", rate) }
}

/// The training batches of epoch 1, 2, ... one after another, as many as asked for.
private struct EpochChain {
    let batches: (Int) -> AnySequence<Batch>
    var epoch = 1
    var current: AnySequence<Batch>.Iterator

    init(batches: @escaping (Int) -> AnySequence<Batch>) {
        self.batches = batches
        current = batches(1).makeIterator()
    }

    mutating func next() throws -> Batch {
        if let batch = current.next() { return batch }
        epoch += 1
        current = batches(epoch).makeIterator()
        guard let batch = current.next() else {
            throw TrainingError.data("no training batch could be read (epoch \(epoch) had none): the range test needs images")
        }
        return batch
    }
}
