import Foundation

/// The training loop: stages, epochs, steps, validation, checkpoints, early stopping.
extension Trainer {
    /// How a run ended.
    public enum Outcome {
        /// Every stage ran (or early stopping ended it); the best model was evaluated again.
        case finished(best: Evaluation?)
        /// Stopped on request after saving `last` and the training state; `--resume` continues.
        case interrupted
    }

    /// Runs the remaining stages. Throws `TrainingError.diverged` when the loss stops being finite.
    public func run() throws -> Outcome {
        ComputeThreads.set(options.threads)
        let evaluator = try Executor(model: model, batchSize: options.batchSize, training: false)
        let batches = train.batchCount
        // The cached head of the stage that ran last, if it was cached (its validation features
        // serve the final evaluation: a cached stage's backbone never trains, nor did any before it).
        var lastCached: CachedHead?
        while state.stage < stages.count {
            let stage = stages[state.stage]
            let trainableCount = model.parameters.filter { !stage.frozenGroups.contains($0.group) }.reduce(0) { $0 + $1.value.count }
            onEvent(.info("stage \(stage.name): \(stage.epochs) epochs at lr \(stage.lr)"
                          + (stage.backboneLR.map { " (backbone \($0))" } ?? "")
                          + ", \(formatCount(trainableCount)) of \(formatCount(graph.parameterCount)) parameters train"))
            // With cached features the head trains alone, in its own model (see Trainer+FeatureCache.swift).
            let cached = try cachedHead(for: stage)
            lastCached = cached
            let executor = try cached?.executor
                ?? Executor(model: model, batchSize: options.batchSize, training: true, frozenGroups: stage.frozenGroups)
            let trainable = cached?.model.parameters ?? model.parameters.filter { !stage.frozenGroups.contains($0.group) }
            let optimizer = makeOptimizer()
            if let saved = state.optimizer, state.epochInStage > 0 || state.batchInEpoch > 0 {
                try optimizer.load(saved, for: trainable)
            }
            let schedule = try LearningRateSchedule(parsing: options.schedule, warmupSteps: options.warmupSteps)
            let totalSteps = stage.epochs * batches
            func stageLR(_ step: Int) -> Float { schedule.learningRate(step: step, baseLR: stage.lr, totalSteps: totalSteps) }
            let head = graph.groups.count - 1
            let stageStartStep = state.globalStep - state.epochInStage * batches - state.batchInEpoch
            while state.epochInStage < stage.epochs {
                let epoch = epochsBefore(state.stage) + state.epochInStage + 1
                var windowLoss = 0.0, windowCorrect = 0, windowSeen = 0, windowStart = Date()
                func interrupt(after batchIndex: Int) throws -> Outcome {
                    cached?.store(into: model)
                    try saveLast(epoch: epoch, stage: stage, optimizer: optimizer)
                    onEvent(.info("stopped in epoch \(epoch) after \(batchIndex) of \(batches) batches; saved last.safetensors — continue with: finetune train --resume \(options.output)"))
                    return .interrupted
                }
                let epochStart = Date()  // the epoch's rate includes computing its features
                let epochBatches: AnySequence<Batch>, skipped: () -> Int
                if let cached {
                    guard prepareFeatures(cached, epoch: epoch) else { return try interrupt(after: state.batchInEpoch) }
                    epochBatches = AnySequence(cached.cache.trainingBatches(epoch: epoch, plan: train.plan(epoch: epoch)))
                    skipped = { cached.cache.trainingSkipped }
                } else {
                    let loaderEpoch = train.epoch(epoch)
                    epochBatches = AnySequence(loaderEpoch)
                    skipped = { loaderEpoch.skipped }
                }
                var batchIndex = 0
                for batch in epochBatches {
                    defer { batchIndex += 1 }
                    if batchIndex < state.batchInEpoch { continue }  // resuming inside this epoch
                    if shouldStop() { return try interrupt(after: batchIndex) }
                    let n = batch.count
                    let lrFactor = stageLR(state.globalStep - stageStartStep) / stage.lr
                    var rng = SplitMix64(seed: options.seed, UInt64(state.globalStep))
                    let logits = batch.images.withUnsafeBufferPointer { executor.forward($0.baseAddress!, count: n, rng: &rng) }
                    var dLogits = [Float](repeating: 0, count: n * classes.count)
                    let loss = batch.labels.withUnsafeBufferPointer { labels in
                        dLogits.withUnsafeMutableBufferPointer {
                            SoftmaxCrossEntropy.forwardBackward(logits: logits, labels: labels.baseAddress!, n: n, classes: classes.count,
                                                                labelSmoothing: options.labelSmoothing, dLogits: $0.baseAddress!)
                        }
                    }
                    guard loss.isFinite else {
                        throw TrainingError.diverged("the loss became \(loss) at epoch \(epoch), batch \(batchIndex + 1) (stage \(stage.name)); "
                            + "stopped. last.safetensors and best.safetensors hold the last good epochs. Lower --lr (now \(stage.lr * lrFactor)) and train again")
                    }
                    var correct = 0
                    for i in 0..<n where argmax(logits + i * classes.count, count: classes.count) == Int(batch.labels[i]) { correct += 1 }
                    for slot in trainable { slot.grad!.zero() }
                    executor.backward(dLogits)
                    withExtendedLifetime(batch) {}  // backward read the images through forward's pointer
                    optimizer.step(trainable) { slot in
                        (slot.group == head ? stage.lr : (stage.backboneLR ?? stage.lr)) * lrFactor
                    }
                    (cached?.model ?? model).markChanged()
                    state.globalStep += 1
                    state.batchInEpoch = batchIndex + 1
                    state.epochLossSum += Double(loss) * Double(n)
                    state.epochCorrect += correct
                    state.epochSeen += n
                    windowLoss += Double(loss) * Double(n); windowCorrect += correct; windowSeen += n
                    let rate = Double(windowSeen) / max(Date().timeIntervalSince(windowStart), 1e-9)
                    onEvent(.progress(stage: stage.name, epoch: epoch, epochs: totalEpochs, batch: batchIndex + 1, batches: batches,
                                      loss: state.epochLossSum / Double(state.epochSeen),
                                      accuracy: Double(state.epochCorrect) / Double(state.epochSeen), imagesPerSecond: rate,
                                      eta: Double((batches - batchIndex - 1) * options.batchSize) / max(rate, 1e-9)))
                    if state.globalStep % options.logEvery == 0 {
                        try append(MetricsRecord(kind: .step, stage: stage.name, epoch: epoch, step: state.globalStep,
                                                 loss: windowLoss / Double(windowSeen), accuracy: Double(windowCorrect) / Double(windowSeen),
                                                 learning_rate: Double(stage.lr * lrFactor), images_per_second: rate,
                                                 elapsed: Date().timeIntervalSince(start)))
                        windowLoss = 0; windowCorrect = 0; windowSeen = 0; windowStart = Date()
                    }
                }
                if skipped() > 0 {
                    onEvent(.info("epoch \(epoch): skipped \(skipped()) unreadable image(s)"))
                }
                cached?.store(into: model)
                let eval = cached?.evaluate(classes: classes) ?? Evaluation.run(evaluator, loader: validation, classes: classes)
                let seen = max(state.epochSeen, 1)
                let record = MetricsRecord(
                    kind: .epoch, stage: stage.name, epoch: epoch, step: state.globalStep,
                    loss: state.epochLossSum / Double(seen), accuracy: Double(state.epochCorrect) / Double(seen),
                    learning_rate: Double(stageLR(max(0, state.globalStep - stageStartStep - 1))),
                    images_per_second: Double(state.epochSeen) / max(Date().timeIntervalSince(epochStart), 1e-9),
                    val_loss: eval.loss, val_accuracy: eval.accuracy, elapsed: Date().timeIntervalSince(start))
                try append(record)
                onEvent(.epoch(record))
                state.epochInStage += 1
                state.batchInEpoch = 0
                state.epochLossSum = 0; state.epochCorrect = 0; state.epochSeen = 0
                if eval.accuracy > (state.bestAccuracy ?? -1) {
                    state.bestAccuracy = eval.accuracy
                    state.bestEpoch = epoch
                    state.epochsWithoutImprovement = 0
                    try saveBest(epoch: epoch, stage: stage, accuracy: eval.accuracy)
                } else {
                    state.epochsWithoutImprovement += 1
                }
                try saveLast(epoch: epoch, stage: stage, optimizer: optimizer)
                try writeReport(confusion: nil)
                if let patience = options.patience, state.epochsWithoutImprovement >= patience, state.epochInStage < stage.epochs {
                    onEvent(.info("early stopping: no better validation accuracy for \(patience) epochs (stage \(stage.name))"))
                    break
                }
            }
            state.stage += 1
            state.epochInStage = 0
            state.batchInEpoch = 0
            state.epochsWithoutImprovement = 0
            state.optimizer = nil
            try state.write(to: output)
        }
        state.finished = true
        try state.write(to: output)
        return .finished(best: try evaluateBest(evaluator, cached: lastCached))
    }

    var totalEpochs: Int { stages.reduce(0) { $0 + $1.epochs } }

    func epochsBefore(_ stage: Int) -> Int { stages.prefix(stage).reduce(0) { $0 + $1.epochs } }

    /// Reloads the best checkpoint, evaluates it on the validation set and finishes the report.
    /// - Parameter cached: the last stage's cached head, whose validation features are used.
    func evaluateBest(_ evaluator: Executor, cached: CachedHead? = nil) throws -> Evaluation? {
        let best = output.appendingPathComponent("best.safetensors")
        guard FileManager.default.fileExists(atPath: best.path) else { return nil }
        try model.load(try ModelFile(contentsOf: best).graphAndWeights(backbone: backbone, file: best.path).weights)
        cached?.load(from: model)
        let eval = cached?.evaluate(classes: classes) ?? Evaluation.run(evaluator, loader: validation, classes: classes)
        try writeReport(confusion: eval.confusion)
        return eval
    }

    func append(_ record: MetricsRecord) throws {
        records.append(record)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let line = try encoder.encode(record) + Data("\n".utf8)
        let url = output.appendingPathComponent("metrics.jsonl")
        if !FileManager.default.fileExists(atPath: url.path) { _ = FileManager.default.createFile(atPath: url.path, contents: nil) }
        let handle = try FileHandle(forWritingTo: url)
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: line)
    }
}
