import Foundation

/// The report of a run (`TrainingReport`): every setting, the command line, the wall time over
/// the run's sessions, and, once the best model is evaluated, its top losses.
extension Trainer {
    /// The settings shown in the report, in a readable order: every option that shapes the run.
    var reportSettings: [(String, String)] {
        let o = options
        var s: [(String, String)] = []
        if !state.commandLine.isEmpty { s.append(("command line", Self.shellWords(state.commandLine))) }
        if !commandLine.isEmpty, commandLine != state.commandLine { s.append(("resumed with", Self.shellWords(commandLine))) }
        s += [
            ("backbone", o.backbone), ("data", o.data), ("weights", pretrained ?? "none (random initialisation)"),
            ("strategy", o.strategy.rawValue), ("stages", stages.map { "\($0.name) × \($0.epochs)" }.joined(separator: ", ")),
            ("learning rate", learningRateText),
        ]
        if o.strategy == .twoStage { s.append(("fine-tune learning rate", "\(o.finetuneLR)")) }
        if o.strategy == .discriminative || o.backboneLRMult != nil {
            s.append(("backbone lr multiplier", "\(o.effectiveBackboneLRMultiplier)"))
        }
        s += [
            ("optimizer", optimizerText),
            ("schedule", o.schedule + (o.warmupSteps > 0 ? ", warmup \(o.warmupSteps) steps" : "")),
            ("head", o.head + (o.head == "linear" ? "" : ", dropout \(o.dropout)")),
            ("label smoothing", "\(o.labelSmoothing)"),
            ("class weights", lossWeights.map { w in
                o.classWeights!.summary + ": " + zip(classes, w).map { "\($0) \(String(format: "%.4g", $1))" }.joined(separator: ", ")
            } ?? "none (every class 1)"),
            ("batch size", "\(o.batchSize)" + (o.accumulate > 1 ? ", gradients of \(o.accumulate) batches accumulated per step" : "")),
            ("input size", "\(graph.nodes[0].outputShape.height)"),
            ("augmentation", augmentationText),
            ("classes", classes.joined(separator: ", ")),
            ("images", "\(train.dataset.count) train" + (o.maxTrainSamples.map { " (--max-train-samples \($0), stratified and seeded)" } ?? "")
                       + ", \(validation.dataset.count) validation"),
            ("sampler", o.sampler == .balanced ? "balanced (each class drawn equally often, with replacement)" : "shuffle (each image once per epoch)"),
            ("validation images", Self.hasTrainAndValidation(o.data) ? "the val folder" : "a split of \(o.valSplit), stratified and seeded"),
            ("seed", "\(o.seed)"),
            ("threads", "\(o.threads) compute, \(o.workers) decoding"),
            ("logged steps", "every \(o.logEvery)"), ("image pixel limit", "\(o.maxImagePixels)"),
        ]
        if let trains = stages.first(where: { !freezesWholeBackbone($0) }) {
            s.append(("batch norm where the backbone trains", trains.batchNorm == .frozen
                      ? "frozen (running statistics)" : "train (batch statistics)"))
        }
        if measuresBatchNormStatistics {
            s.append(("batch norm statistics", "measured on \(calibrationPlan.joined().count) training images"))
        }
        if let c = o.clipGrad { s.append(("gradient clipping", "total L2 norm at most \(c)")) }
        if let u = o.unfreeze { s.append(("unfrozen backbone groups", "last \(u)")) }
        s.append(("best checkpoint by", o.bestMetric.title))
        if let p = o.patience { s.append(("early stopping patience", "\(p) epochs")) }
        if let decay = o.ema {
            s.append(("weight average (EMA)", "decay \(decay), validated beside the trained weights where backbone layers train"))
        }
        if stages.contains(where: freezesWholeBackbone) {
            let kept = switch o.cacheFeatures {
            case nil: "cached, one augmented view per epoch"
            case 0: "computed batch by batch"
            case let n?: "cached, \(n) augmented view\(n == 1 ? "" : "s") per training image"
            }
            s.append(("frozen-backbone features", kept + (o.standardizeCachedFeatures ? ", standardized" : "")))
        }
        return s
    }

    private var optimizerText: String {
        let o = options
        let momentum = o.optimizer == .sgd ? ", momentum \(o.momentum)" + (o.nesterov ? " (Nesterov)" : "") : ""
        return "\(o.optimizer.rawValue), weight decay \(o.weightDecay)" + momentum
    }

    /// The training images' random transforms, in the order they apply.
    private var augmentationText: String {
        let o = options
        let defaults = TrainingOptions(backbone: "", data: "", output: "")
        let crop = o.cropScale == defaults.cropScale && o.cropRatio == defaults.cropRatio ? ""
            : " (scale \(o.cropScale.lower)–\(o.cropScale.upper), ratio \(o.cropRatio.lower)–\(o.cropRatio.upper))"
        var parts = ["random resized crop" + crop]
        if o.horizontalFlip { parts.append("horizontal flip") }
        if o.verticalFlip { parts.append("vertical flip") }
        if o.rotation > 0 { parts.append("rotation ±\(o.rotation)°") }
        if o.shear > 0 { parts.append("shear ±\(o.shear)°") }
        if o.colorJitter > 0 { parts.append("colour jitter \(o.colorJitter)") }
        switch o.autoAugment {
        case .none: break
        case .trivialWide: parts.append("TrivialAugmentWide")
        case .randAugment: parts.append("RandAugment (\(o.randAugmentOps) ops, magnitude \(o.randAugmentMagnitude) of 30)")
        }
        if o.randomErasing > 0 { parts.append("random erasing p=\(o.randomErasing) (after normalisation)") }
        if o.mixup.mixupAlpha > 0 { parts.append("mixup α \(o.mixup.mixupAlpha)") }
        if o.mixup.cutmixAlpha > 0 { parts.append("CutMix α \(o.mixup.cutmixAlpha)") }
        return parts.joined(separator: ", ")
    }

    /// `arguments` as a shell would take them back: each quoted unless it is plain.
    static func shellWords(_ arguments: [String]) -> String {
        let plain = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%")
        return arguments.map { a in
            !a.isEmpty && a.allSatisfy(plain.contains) ? a : "'" + a.replacingOccurrences(of: "'", with: "'\\''") + "'"
        }.joined(separator: " ")
    }

    /// The report's top losses from the best model's `mistakes`, with thumbnails of the images.
    func topLosses(_ mistakes: [Evaluation.Mistake]) -> [TrainingReport.TopLoss] {
        let decoder = ImageDecoder(maxPixels: options.maxImagePixels)
        return mistakes.prefix(Limits.reportTopLosses).map { m in
            let path = validation.dataset.samples[m.index].path
            return TrainingReport.TopLoss(image: validation.dataset.relativePath(path), truth: classes[m.truth],
                                          prediction: classes[m.prediction], probability: m.probability, loss: m.loss,
                                          jpeg: try? Thumbnail.jpeg(file: path, decoder: decoder))
        }
    }

    func writeReport(confusion: ConfusionMatrix?, topLosses: [TrainingReport.TopLoss] = []) throws {
        var report = TrainingReport(title: "\(backbone.name) on \(URL(fileURLWithPath: options.data).lastPathComponent)",
                                    settings: reportSettings, records: records)
        report.confusion = confusion
        report.topLosses = topLosses
        report.bestEpoch = state.bestEpoch
        report.bestAccuracy = state.bestAccuracy
        report.bestFromAverage = state.bestFromAverage == true
        report.wallTime = elapsed
        report.sessions = state.sessions.count
        if pretrained == nil { report.notes.append("The backbone started from random initialisation (no --weights).") }
        try report.write(to: folder.url(.report))
    }
}
