import Foundation

/// Checkpoints and the report: `last.safetensors` + `training-state.json` every epoch (and on
/// interruption), `best.safetensors` + a copy named with its accuracy on each improvement.
extension Trainer {
    /// The model as a model file, with where it came from.
    func modelFile(epoch: Int, stage: Stage, metrics: [String: Double]) -> ModelFile {
        let created = ISO8601DateFormatter().string(from: Date())
        var file = ModelFile(backbone: backbone, classes: classes,
                             provenance: Provenance(command: "train", source: options.weights, strategy: options.strategy.rawValue,
                                                    stage: stage.name, epoch: epoch, metrics: metrics, created: created),
                             tensors: model.namedTensors())
        file.head = (try? HeadSpec(parsing: options.head))?.description ?? "linear"
        let size = graph.nodes[0].outputShape.height
        file.inputSize = size
        file.evalResize = Int((Double(size) * Double(backbone.evalResize) / Double(backbone.inputSize)).rounded())
        return file
    }

    func saveLast(epoch: Int, stage: Stage, optimizer: any Optimizer) throws {
        try modelFile(epoch: epoch, stage: stage, metrics: [:]).write(to: output.appendingPathComponent("last.safetensors"))
        state.optimizer = optimizer.state()
        try state.write(to: output)
    }

    func saveBest(epoch: Int, stage: Stage, accuracy: Double) throws {
        let file = modelFile(epoch: epoch, stage: stage, metrics: ["val_accuracy": accuracy])
        try file.write(to: output.appendingPathComponent("best.safetensors"))
        let dataset = URL(fileURLWithPath: options.data).standardizedFileURL.lastPathComponent
            .map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "_" }
        let named = "\(backbone.name).\(String(dataset)).\(String(format: "%.4f", accuracy)).safetensors"
        try file.write(to: output.appendingPathComponent(named))
        if let previous = state.bestFile, previous != named {
            try? FileManager.default.removeItem(at: output.appendingPathComponent(previous))
        }
        state.bestFile = named
    }

    /// The settings shown in the report, in a readable order.
    var reportSettings: [(String, String)] {
        let o = options
        var s: [(String, String)] = [
            ("backbone", o.backbone), ("data", o.data), ("weights", o.weights ?? "none (random initialisation)"),
            ("strategy", o.strategy.rawValue), ("stages", stages.map { "\($0.name) × \($0.epochs)" }.joined(separator: ", ")),
            ("learning rate", "\(o.lr)"), ("optimizer", "\(o.optimizer.rawValue), weight decay \(o.weightDecay)"),
            ("schedule", o.schedule + (o.warmupSteps > 0 ? ", warmup \(o.warmupSteps) steps" : "")),
            ("head", o.head + (o.head == "linear" ? "" : ", dropout \(o.dropout)")),
            ("batch size", "\(o.batchSize)"), ("input size", "\(graph.nodes[0].outputShape.height)"),
            ("classes", classes.joined(separator: ", ")),
            ("images", "\(train.dataset.count) train, \(validation.dataset.count) validation"),
            ("seed", "\(o.seed)"),
        ]
        if o.strategy == .twoStage { s.insert(("fine-tune learning rate", "\(o.finetuneLR)"), at: 6) }
        if o.strategy == .discriminative { s.insert(("backbone lr multiplier", "\(o.backboneLRMultiplier)"), at: 6) }
        if let u = o.unfreeze { s.append(("unfrozen backbone groups", "last \(u)")) }
        if let p = o.patience { s.append(("early stopping patience", "\(p) epochs")) }
        if let n = o.cacheFeatures { s.append(("cached backbone features", "\(n) augmented view\(n == 1 ? "" : "s") per training image")) }
        return s
    }

    func writeReport(confusion: ConfusionMatrix?) throws {
        var report = TrainingReport(title: "\(backbone.name) on \(URL(fileURLWithPath: options.data).lastPathComponent)",
                                    settings: reportSettings, records: records)
        report.confusion = confusion
        report.bestEpoch = state.bestEpoch
        report.bestAccuracy = state.bestAccuracy
        if !pretrained { report.notes.append("The backbone started from random initialisation (no --weights).") }
        try report.write(to: output.appendingPathComponent("report.html"))
    }
}
