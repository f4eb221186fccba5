import Foundation

/// Fine-tunes a backbone with a new head on an image folder: the stages of a strategy, one
/// shared loop, validation every epoch, checkpoints, early stopping, resume, report.
///
/// The output folder holds `best.safetensors` (and a copy named with its accuracy, as the
/// recipes did: `resnet18.photos.0.9375.safetensors`), `last.safetensors`, `training-state.json`,
/// `metrics.jsonl` and `report.html`. Every file is written atomically.
public final class Trainer {
    /// What the trainer reports while it runs; the CLI renders it.
    public enum Event {
        /// A message for the user (what starts, what was skipped, where files are).
        case info(String)
        /// Progress inside an epoch; `eta` is the seconds left in it.
        case progress(stage: String, epoch: Int, epochs: Int, batch: Int, batches: Int,
                      loss: Double, accuracy: Double, imagesPerSecond: Double, eta: Double)
        /// A finished epoch (also written to metrics.jsonl).
        case epoch(MetricsRecord)
        /// Progress while backbone features are being cached (`--cache-features`): `what` names
        /// the images ("training images, view 1 of 2"); `eta` is the seconds left for them.
        case caching(what: String, done: Int, total: Int, imagesPerSecond: Double, eta: Double)
    }

    public let options: TrainingOptions
    public let backbone: Backbone
    public let graph: Graph
    public let model: Model
    public let stages: [Stage]
    public let train: DataLoader
    public let validation: DataLoader
    public let classes: [String]
    let output: URL
    let onEvent: (Event) -> Void
    /// Polled between steps; true stops the run after saving `last` (Ctrl-C).
    let shouldStop: () -> Bool
    var state: TrainingState
    var records: [MetricsRecord] = []
    let start = Date()
    let pretrained: Bool

    /// Prepares a run: data, graph, weights (pretrained or random), or the state of a run to resume.
    public init(options: TrainingOptions, catalog: PluginCatalog, resume: Bool = false,
                onEvent: @escaping (Event) -> Void, shouldStop: @escaping () -> Bool = { false }) throws {
        self.options = options
        self.onEvent = onEvent
        self.shouldStop = shouldStop
        output = URL(fileURLWithPath: options.output)
        backbone = try catalog.backbone(named: options.backbone)
        let size = options.inputSize ?? backbone.inputSize
        let (trainSet, valSet) = try Self.datasets(options)
        classes = trainSet.classes
        try ModelFile.checkClassNames(classes, file: options.data)  // as the model file will be read back
        let head = try HeadSpec(parsing: options.head, dropout: options.dropout)
        graph = try backbone.makeClassifier(classes: classes.count, head: head, inputSize: size)
        model = try Model(graph: graph)
        stages = Stage.plan(options, groups: graph.groups)
        let evalResize = Int((Double(size) * Double(backbone.evalResize) / Double(backbone.inputSize)).rounded())
        let normalize = Normalize(mean: backbone.mean, std: backbone.std)
        var augmentations: [any RandomTransform] = []
        if options.horizontalFlip { augmentations.append(RandomHorizontalFlip()) }
        if options.verticalFlip { augmentations.append(RandomVerticalFlip()) }
        if options.rotation > 0 { augmentations.append(RandomRotation(degrees: options.rotation)) }
        if options.shear > 0 { augmentations.append(RandomShear(degrees: options.shear)) }
        if options.colorJitter > 0 {
            augmentations.append(ColorJitter(brightness: options.colorJitter, contrast: options.colorJitter,
                                             saturation: options.colorJitter))
        }
        train = DataLoader(dataset: trainSet,
                           transform: TrainTransform(crop: RandomResizedCrop(size: size), augmentations: augmentations,
                                                     normalize: normalize),
                           // The last incomplete batch is left out (it differs each epoch, as the order is
                           // reshuffled): batch statistics over a handful of images make BN unstable.
                           options: .init(batchSize: options.batchSize, shuffle: true,
                                          dropLast: trainSet.count > options.batchSize, seed: options.seed,
                                          workers: options.workers, maxPixels: options.maxImagePixels))
        validation = DataLoader(dataset: valSet,
                                transform: EvalTransform(resize: evalResize, crop: size, normalize: normalize),
                                options: .init(batchSize: options.batchSize, shuffle: false, seed: options.seed,
                                               workers: options.workers, maxPixels: options.maxImagePixels))
        pretrained = options.weights != nil
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        if resume {
            state = try TrainingState.read(from: output)
            try model.load(try ModelFile(contentsOf: output.appendingPathComponent("last.safetensors"))
                .graphAndWeights(backbone: backbone, file: "last.safetensors").weights)
            records = Self.readRecords(output)
            if state.finished { onEvent(.info("the run in \(options.output) had finished; nothing left to train")) }
            let stage = min(state.stage, stages.count - 1)
            onEvent(.info("resuming at epoch \(epochsBefore(stage) + state.epochInStage + 1) (stage \(stages[stage].name)), batch \(state.batchInEpoch + 1)"))
        } else {
            model.initialize(seed: options.seed)
            if let weights = options.weights {
                let file = try StateDict.load(contentsOf: URL(fileURLWithPath: weights))
                try model.load(try file.matched(to: graph, classifier: .drop))
                onEvent(.info("loaded pretrained backbone weights from \(weights)"))
            } else {
                onEvent(.info("no --weights: the backbone starts from random initialisation "
                              + "(for a real fine-tune pass a pretrained file, e.g. --weights \(backbone.weightsHint.split(separator: " ").last ?? "weights.pth"))"))
            }
            state = TrainingState(options: options, stage: 0, epochInStage: 0, batchInEpoch: 0, globalStep: 0,
                                  epochLossSum: 0, epochCorrect: 0, epochSeen: 0, bestAccuracy: nil, bestEpoch: nil,
                                  bestFile: nil, epochsWithoutImprovement: 0,
                                  optimizer: nil, finished: false)
            try? FileManager.default.removeItem(at: output.appendingPathComponent("metrics.jsonl"))
        }
        onEvent(.info("\(trainSet.count) training and \(valSet.count) validation images, \(classes.count) classes: "
                      + classes.joined(separator: ", ")))
    }

    /// The training and validation sets: DIR/train + DIR/val, a manifest file, or one tree split.
    static func datasets(_ o: TrainingOptions) throws -> (ImageDataset, ImageDataset) {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: o.data, isDirectory: &isDir) else {
            throw TrainingError.data("\(o.data) does not exist: pass an image folder (DIR/<class>/*.jpg or DIR/train + DIR/val) or a manifest")
        }
        if !isDir.boolValue {
            return try ImageDataset.manifest(o.data).split(validationFraction: o.valSplit, seed: o.seed)
        }
        let fm = FileManager.default
        if fm.fileExists(atPath: (o.data as NSString).appendingPathComponent("train")),
           fm.fileExists(atPath: (o.data as NSString).appendingPathComponent("val")) {
            return try ImageDataset.trainValidation(o.data)
        }
        return try ImageDataset.folder(o.data).split(validationFraction: o.valSplit, seed: o.seed)
    }

    static func readRecords(_ output: URL) -> [MetricsRecord] {
        guard let text = try? String(contentsOf: output.appendingPathComponent("metrics.jsonl"), encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { try? JSONDecoder().decode(MetricsRecord.self, from: Data($0.utf8)) }
    }
}

extension Trainer {
    /// A fresh optimiser of the configured kind.
    func makeOptimizer() -> any Optimizer {
        switch options.optimizer {
        case .adam: return Adam(weightDecay: options.weightDecay)
        case .adamw: return Adam(weightDecay: options.weightDecay, decoupled: true)
        case .sgd: return SGD(momentum: options.momentum, nesterov: options.nesterov, weightDecay: options.weightDecay)
        }
    }
}
