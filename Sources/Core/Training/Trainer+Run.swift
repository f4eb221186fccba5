import Foundation

/// The training loop: stages, epochs, steps, validation, checkpoints, early stopping.
extension Trainer {
    /// How a run ended.
    public enum Outcome {
        /// Every stage ran (or early stopping ended it); the best model was evaluated again.
        case finished(best: Evaluation?)
        /// Stopped on request after committing the run's state; `--resume` continues.
        case interrupted
    }

    /// Runs the remaining stages. Throws `TrainingError.diverged` when the loss stops being finite.
    /// The output folder is created here; a run that fails before its first commit removes it again.
    public func run() throws -> Outcome {
        try prepareFolder()
        do { return try runStages() } catch {
            removeFolderIfUnused()
            throw error
        }
    }

    private func runStages() throws -> Outcome {
        ComputeThreads.set(options.threads)
        let evaluator = try Executor(model: model, batchSize: options.batchSize, training: false)
        let batches = train.batchCount
        if options.batchNorm != nil, stages.allSatisfy(freezesWholeBackbone) {
            onEvent(.info("--bn is ignored: no stage of this run trains backbone layers, so batch norm uses its running statistics"))
        }
        if calibratesBatchNorm { try calibrateBatchNorm() }
        try resolveAutomaticLearningRate()  // --lr auto, before the first step
        // The cached head of the stage that ran last, if it was cached (its validation features
        // serve the final evaluation: a cached stage's backbone never trains, nor did any before it).
        var lastCached: CachedHead?
        while state.stage < stages.count {
            let stageIndex = state.stage
            let stage = stages[stageIndex]
            let trainableCount = model.parameters.filter { !stage.frozenGroups.contains($0.group) }.reduce(0) { $0 + $1.value.count }
            onEvent(.info("stage \(stage.name): \(stage.epochs) epochs at lr \(stage.lr)"
                          + (stage.backboneLR.map { " (backbone \($0))" } ?? "")
                          + (freezesWholeBackbone(stage) ? "" : ", batch norm \(stage.batchNorm.rawValue)")
                          + ", \(formatCount(trainableCount)) of \(formatCount(graph.parameterCount)) parameters train"))
            // With cached features the head trains alone, in its own model (see Trainer+FeatureCache.swift).
            let cached = try cachedHead(for: stage)
            lastCached = cached
            let (step, trainable) = try trainingStep(for: stage, cached: cached)
            let optimizer = makeOptimizer()
            let resumedInsideStage = resumedOptimizer != nil && (state.epochInStage > 0 || state.batchInEpoch > 0)
            if let saved = resumedOptimizer, resumedInsideStage {
                do { try optimizer.load(saved, for: trainable) } catch {
                    throw TrainingError.resume("\(folder.url(.optimizer).path): \(error)")
                }
            }
            resumedOptimizer = nil
            // Mixing and the weight average act where steps run the whole network on images.
            let mixes = cached == nil && options.mixup.isActive
            let average = cached == nil ? try startAverage(resumedInsideStage: resumedInsideStage) : nil
            let averageEvaluator = try average.map { try Executor(model: $0.model, batchSize: options.batchSize, training: false) }
            if cached != nil, options.mixup.isActive || options.ema != nil {
                onEvent(.info("stage \(stage.name) trains its head on backbone features: "
                              + [options.mixup.isActive ? "mixing" : nil, options.ema != nil ? "--ema" : nil].compactMap { $0 }.joined(separator: " and ")
                              + " apply where backbone layers train"))
            }
            let schedule = try LearningRateSchedule(parsing: options.schedule, warmupSteps: options.warmupSteps)
            // Optimiser steps: one per `accumulate` batches (all of them in the epoch's last group).
            let accumulate = options.accumulate
            let steps = options.steps(perEpochOf: batches)
            let totalSteps = stage.epochs * steps
            func stageLR(_ step: Int) -> Float { schedule.learningRate(step: step, baseLR: stage.lr, totalSteps: totalSteps) }
            let head = graph.groups.count - 1
            let stageStartStep = state.globalStep - state.epochInStage * steps - options.steps(perEpochOf: state.batchInEpoch)
            while state.stage == stageIndex && state.epochInStage < stage.epochs {
                let epoch = epochsBefore(stageIndex) + state.epochInStage + 1
                var windowLoss = 0.0, windowCorrect = 0, windowSeen = 0, windowStart = Date()
                func interrupt() throws -> Outcome {
                    onEvent(.info("stopping: saving the run in \(options.output)"))
                    cached?.store(into: model)
                    try commit(epoch: epoch, stage: stage, optimizer: optimizer.state(), best: nil, average: average)
                    onEvent(.info("stopped in epoch \(epoch) after \(state.batchInEpoch) of \(batches) batches; saved — "
                                  + "continue with: finetune train --resume \(options.output)"))
                    return .interrupted
                }
                let epochStart = Date()  // the epoch's rate includes computing its features
                let wholeEpoch = state.batchInEpoch == 0  // not the rest of an interrupted one
                var dataRate: (() -> Double?)?  // what the loader could supply, where steps read images
                if state.batchInEpoch < batches {  // (all done: interrupted in validation)
                    let epochBatches: AnySequence<Batch>, skipped: () -> Int
                    if let cached {
                        guard prepareFeatures(cached, epoch: epoch) else { return try interrupt() }
                        (epochBatches, skipped, dataRate) = cached.cache.trainingBatches(epoch: epoch, loader: train)
                    } else {
                        let loaderEpoch = train.epoch(epoch)
                        epochBatches = AnySequence(loaderEpoch)
                        skipped = { loaderEpoch.skipped }
                        dataRate = { loaderEpoch.imagesPerSecond }
                    }
                    var batchIndex = 0
                    for next in epochBatches {
                        defer { batchIndex += 1 }
                        var batch = next
                        if batchIndex < state.batchInEpoch { continue }  // resuming inside this epoch
                        // The batch's place in its step's group of accumulated batches, and the group's size.
                        let micro = batchIndex % accumulate
                        let group = min(accumulate, batches - (batchIndex - micro))
                        if micro == 0 {
                            if shouldStop() { return try interrupt() }  // between steps only
                            for slot in trainable { slot.grad!.zero() }
                        }
                        let n = batch.count
                        let lrFactor = stageLR(state.globalStep - stageStartStep) / stage.lr
                        var rng = micro == 0 ? SplitMix64(seed: options.seed, UInt64(state.globalStep))
                            : SplitMix64(seed: options.seed, UInt64(state.globalStep), UInt64(micro))
                        let targets = mixes ? mix(&batch, index: state.globalStep * accumulate + micro) : nil
                        // The step's loss is the mean of its batches' losses.
                        let result = step.run(batch, targets: targets, gradientScale: 1 / Float(group), rng: &rng)
                        let loss = result.loss, correct = result.correct
                        guard loss.isFinite else {
                            throw TrainingError.diverged("the loss became \(loss) at epoch \(epoch), batch \(batchIndex + 1) (stage \(stage.name)); stopped. "
                                + (committed ? "last.safetensors and best.safetensors hold the last good epochs. " : "")
                                + "Lower --lr (now \(stage.lr * lrFactor)) and train again")
                        }
                        state.epochLossSum += Double(loss) * Double(n)
                        state.epochCorrect += correct
                        state.epochSeen += n
                        windowLoss += Double(loss) * Double(n); windowCorrect += correct; windowSeen += n
                        guard micro == group - 1 else { continue }
                        if let maxNorm = options.clipGrad { GradientClipping.clip(trainable, maxNorm: maxNorm) }
                        optimizer.step(trainable) { slot in
                            (slot.group == head ? stage.lr : (stage.backboneLR ?? stage.lr)) * lrFactor
                        }
                        (cached?.model ?? model).markChanged()
                        average?.update(from: model)
                        state.globalStep += 1
                        state.batchInEpoch = batchIndex + 1
                        let rate = Double(windowSeen) / max(Date().timeIntervalSince(windowStart), 1e-9)
                        if cached == nil, freezesWholeBackbone(stage) {  // a frozen step is the network's inference
                            eta.measuredInference(images: windowSeen, seconds: Date().timeIntervalSince(windowStart))
                        }
                        let epochETA = Double((batches - batchIndex - 1) * options.batchSize) / max(rate, 1e-9)
                            + Double(validation.dataset.count) * (eta.inferenceSecondsPerImage ?? 0)
                        onEvent(.progress(Progress(
                            stage: stage.name, epoch: state.epochInStage + 1, stageEpochs: stage.epochs,
                            runEpoch: epoch, runEpochs: totalEpochs, batch: options.steps(perEpochOf: batchIndex + 1), batches: steps,
                            loss: state.epochLossSum / Double(state.epochSeen),
                            accuracy: Double(state.epochCorrect) / Double(state.epochSeen), imagesPerSecond: rate,
                            learningRate: stage.lr * lrFactor, elapsed: Date().timeIntervalSince(start), epochETA: epochETA,
                            runETA: runRemaining(stage: stageIndex, epochLeft: epochETA, epochsAfter: stage.epochs - state.epochInStage - 1))))
                        // The first steps of a stage one by one: a shock at a stage change shows.
                        if state.globalStep % options.logEvery == 0 || state.globalStep - stageStartStep <= options.logEvery {
                            try append(MetricsRecord(kind: .step, stage: stage.name, epoch: epoch, step: state.globalStep,
                                                     loss: windowLoss / Double(windowSeen), accuracy: Double(windowCorrect) / Double(windowSeen),
                                                     learning_rate: Double(stage.lr * lrFactor), images_per_second: rate,
                                                     elapsed: elapsed))
                            windowLoss = 0; windowCorrect = 0; windowSeen = 0; windowStart = Date()
                        }
                    }
                    if skipped() > 0 {
                        onEvent(.info("epoch \(epoch): skipped \(skipped()) unreadable image(s)"))
                    }
                    state.batchInEpoch = batches
                }
                cached?.store(into: model)
                let validationStart = Date()
                guard let eval = cached?.evaluate(classes: classes) ?? validate(evaluator) else { return try interrupt() }
                var averageEval: Evaluation?
                if let averageEvaluator {
                    guard let e = validate(averageEvaluator) else { return try interrupt() }
                    averageEval = e
                }
                if cached == nil { eta.measuredInference(images: eval.confusion.total, seconds: Date().timeIntervalSince(validationStart)) }
                if wholeEpoch { eta.epochSeconds[stageIndex] = Date().timeIntervalSince(epochStart) }
                let seen = max(state.epochSeen, 1)
                var record = MetricsRecord(
                    kind: .epoch, stage: stage.name, epoch: epoch, step: state.globalStep,
                    loss: state.epochLossSum / Double(seen), accuracy: Double(state.epochCorrect) / Double(seen),
                    learning_rate: Double(stageLR(max(0, state.globalStep - stageStartStep - 1))),
                    images_per_second: Double(state.epochSeen) / max(Date().timeIntervalSince(epochStart), 1e-9),
                    val_loss: eval.loss, val_accuracy: eval.accuracy, elapsed: elapsed)
                record.val_balanced_accuracy = eval.confusion.balancedAccuracy
                record.val_macro_f1 = eval.confusion.macroF1
                if let averageEval {
                    record.ema_val_loss = averageEval.loss
                    record.ema_val_accuracy = averageEval.accuracy
                    record.ema_val_balanced_accuracy = averageEval.confusion.balancedAccuracy
                    record.ema_val_macro_f1 = averageEval.confusion.macroF1
                }
                record.data_images_per_second = dataRate?()
                if steps <= Limits.stepsPerEpoch {
                    let inStage = state.globalStep - stageStartStep  // steps of the stage, this epoch's last included
                    record.step_learning_rates = (inStage - steps..<inStage).map { Double(stageLR($0)) }
                }
                try append(record)
                onEvent(.epoch(record))
                state.epochInStage += 1
                state.batchInEpoch = 0
                state.epochLossSum = 0; state.epochCorrect = 0; state.epochSeen = 0
                var best: ModelFile?
                // The better of the plain and the averaged weights competes for best (the plain on a tie).
                let metric = options.bestMetric
                let fromAverage = averageEval.map { metric.improves(metric.value(of: $0), on: metric.value(of: eval)) } ?? false
                let candidate = fromAverage ? averageEval! : eval, score = metric.value(of: candidate)
                if metric.improves(score, on: state.bestValue) {
                    state.bestValue = score
                    state.bestAccuracy = candidate.accuracy
                    state.bestEpoch = epoch
                    state.bestFromAverage = fromAverage ? true : nil
                    state.epochsWithoutImprovement = 0
                    best = modelFile(epoch: epoch, stage: stage, metrics: ["val_accuracy": candidate.accuracy]
                                        .merging(fromAverage ? ["ema_decay": options.ema ?? 0] : [:]) { a, _ in a },
                                     weights: fromAverage ? average!.model : model)
                } else {
                    state.epochsWithoutImprovement += 1
                }
                var optimizerState = optimizer.state()
                if let patience = options.patience, state.epochsWithoutImprovement >= patience, state.epochInStage < stage.epochs {
                    onEvent(.info("early stopping: no better \(metric.title) for \(patience) epochs (stage \(stage.name))"))
                    advanceStage()
                } else if state.epochInStage == stage.epochs {
                    advanceStage()
                }
                if state.stage != stageIndex { optimizerState = OptimizerState(kind: optimizer.kind, stepCount: 0, parameters: [:]) }
                try commit(epoch: epoch, stage: stage, optimizer: optimizerState, best: best, average: average)
                try writeReport(confusion: nil)
            }
            if state.stage == stageIndex { advanceStage() }
        }
        let best = try evaluateBest(evaluator, cached: lastCached)
        try writeBestCopy()
        return .finished(best: best)
    }

    /// The steps of `stage` and the parameters they train: the cached head's model alone, or the
    /// whole network with the stage's frozen groups and batch-norm mode.
    func trainingStep(for stage: Stage, cached: CachedHead?) throws -> (step: TrainingStep, trainable: [Model.Slot]) {
        let executor = try cached?.executor
            ?? Executor(model: model, batchSize: options.batchSize, training: true, frozenGroups: stage.frozenGroups,
                        batchNorm: stage.batchNorm)
        let trainable = cached?.model.parameters ?? model.parameters.filter { !stage.frozenGroups.contains($0.group) }
        return (TrainingStep(executor: executor, classes: classes.count, labelSmoothing: options.labelSmoothing,
                             classWeights: lossWeights), trainable)
    }

    /// Mixes the run's `k`-th batch in place (`--mixup`, `--cutmix`) and returns its soft targets.
    /// The draws come from stream `mixing` with k in place of the epoch, so a resumed run mixes
    /// as an uninterrupted one.
    func mix(_ batch: inout Batch, index k: Int) -> [Float] {
        var random = SeededRandom(seed: options.seed, epoch: k, stream: .mixing)
        return Mixup.apply(options.mixup.draw(height: batch.height, width: batch.width, using: &random), to: &batch,
                           classes: classes.count, labelSmoothing: options.labelSmoothing)
    }

    /// The weight average of a stage that trains backbone layers (`--ema`): the saved one when
    /// the run resumes inside the stage, else a copy of the weights as the stage starts; nil without --ema.
    private func startAverage(resumedInsideStage: Bool) throws -> ModelEMA? {
        guard let decay = options.ema else { return nil }
        let average = try ModelEMA(copying: model, decay: decay)
        if resumedInsideStage {
            let file = try folder.regularFile(.ema)
            do {
                try average.model.load(try ModelFile(contentsOf: file).graphAndWeights(backbone: backbone, file: file.path).weights)
            } catch {
                throw TrainingError.resume("\(file.path): \(error)")
            }
        }
        return average
    }

    /// Moves the state to the start of the next stage (the end of the run after the last).
    private func advanceStage() {
        state.stage += 1
        state.epochInStage = 0
        state.batchInEpoch = 0
        state.epochsWithoutImprovement = 0
        state.finished = state.stage >= stages.count
    }

    /// The whole network on the validation set; nil when the run was asked to stop meanwhile.
    private func validate(_ evaluator: Executor) -> Evaluation? {
        let batches = validation.epoch(0)
        var eval = Evaluation.run(evaluator, batches: batches.lazy.prefix { _ in !self.shouldStop() }, classes: classes)
        eval.skipped = batches.skipped
        return shouldStop() ? nil : eval
    }

    var totalEpochs: Int { stages.reduce(0) { $0 + $1.epochs } }

    func epochsBefore(_ stage: Int) -> Int { stages.prefix(stage).reduce(0) { $0 + $1.epochs } }

    /// The seconds left in the run (see `RunETA`).
    func runRemaining(stage: Int, epochLeft: Double, epochsAfter: Int) -> Double {
        eta.remaining(stage: stage, epochLeft: epochLeft, epochsAfter: epochsAfter, stages: stages,
                      trainsBackbone: { !self.freezesWholeBackbone($0) },
                      trainImages: train.batchCount * options.batchSize, validationImages: validation.dataset.count)
    }

    /// Reloads the best checkpoint, evaluates it on the validation set and finishes the report
    /// (with its most confidently wrong validation images).
    /// - Parameter cached: the last stage's cached head, whose validation features are used.
    func evaluateBest(_ evaluator: Executor, cached: CachedHead? = nil) throws -> Evaluation? {
        let best = folder.url(.best)
        guard FileManager.default.fileExists(atPath: best.path) else { return nil }
        try model.load(try ModelFile(contentsOf: best).graphAndWeights(backbone: backbone, file: best.path).weights)
        cached?.load(from: model)
        let worst = Limits.reportTopLosses
        let eval = cached?.evaluate(classes: classes, mistakes: worst)
            ?? Evaluation.run(evaluator, loader: validation, classes: classes, mistakes: worst)
        try writeReport(confusion: eval.confusion, topLosses: topLosses(eval.mistakes))
        return eval
    }

    func append(_ record: MetricsRecord) throws {
        records.append(record)
        try metrics.append(record)
    }
}
