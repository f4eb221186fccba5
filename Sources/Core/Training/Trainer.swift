import Foundation

/// Fine-tunes a backbone with a new head on an image folder: the stages of a strategy, one
/// shared loop, validation every epoch, checkpoints, early stopping, resume, report.
///
/// The output folder (`RunFolder`) holds `best.safetensors` (and, once the run has finished, a
/// copy named with its accuracy, as the recipes did: `resnet18.photos.0.9375.safetensors`),
/// `last.safetensors`, `optimizer.safetensors`, `training-state.json`, `metrics.jsonl` and
/// `report.html`. Every file is written atomically; the files `--resume` reads change together,
/// once per epoch (see `RunFolder`).
public final class Trainer {
    /// What the trainer reports while it runs; the CLI renders it.
    public enum Event {
        /// A message for the user (what starts, what was skipped, where files are).
        case info(String)
        /// Progress inside an epoch, after each step.
        case progress(Progress)
        /// A finished epoch (also written to metrics.jsonl).
        case epoch(MetricsRecord)
        /// Progress while backbone features are being cached (`--cache-features`): `what` names
        /// the images ("training images, view 1 of 2"); `eta` is the seconds left for them.
        case caching(what: String, done: Int, total: Int, imagesPerSecond: Double, eta: Double)
        /// Progress while a weight set named by `--weights` is downloaded.
        case download(DownloadProgress)
    }

    /// Where a run stands after a step.
    public struct Progress: Sendable {
        /// The stage's name, and the epoch within it (from 1) of its `stageEpochs`.
        public var stage: String
        public var epoch: Int
        public var stageEpochs: Int
        /// The epoch across the run's stages (from 1) of its `runEpochs`.
        public var runEpoch: Int
        public var runEpochs: Int
        /// Optimiser steps done in the epoch, of `batches` (one per batch unless `--accumulate`).
        public var batch: Int
        public var batches: Int
        /// The epoch's mean training loss and accuracy so far.
        public var loss: Double
        public var accuracy: Double
        /// Over the steps since the last step record.
        public var imagesPerSecond: Double
        /// The rate of the head for the step just taken.
        public var learningRate: Float
        /// Seconds since this process started the run, and the estimates of what is left in
        /// the epoch and in the whole run (infinity while unknown; see `RunETA`).
        public var elapsed: Double
        public var epochETA: Double
        public var runETA: Double
    }

    /// The options; `--lr auto` sets `lr` once the range test has found it.
    public internal(set) var options: TrainingOptions
    public let backbone: Backbone
    public let graph: Graph
    public let model: Model
    public internal(set) var stages: [Stage]
    public let train: DataLoader
    public let validation: DataLoader
    public let classes: [String]
    /// The weight of each class in the training loss (`--class-weights`); nil: all 1.
    public let lossWeights: [Float]?
    /// The output folder; with `--resume`, the folder resumed, whatever the state says.
    let folder: RunFolder
    let metrics: MetricsLog
    /// Replace the files of another run in the output folder.
    let overwrite: Bool
    let onEvent: (Event) -> Void
    /// Polled between steps; true stops the run after saving (Ctrl-C).
    let shouldStop: () -> Bool
    var state: TrainingState
    var records: [MetricsRecord] = []
    /// When this session of the run started, and the wall time of the run's sessions before it.
    let start = Date()
    var earlierSeconds = 0.0
    /// This process's command line, for the report (the state keeps the one that started the run).
    let commandLine: [String]
    var eta = RunETA()
    /// The weights the backbone started from, as the report and the model files name them: the
    /// file given, or a weight set with its file (`IMAGENET1K_V1 (resnet18-f37072fd.pth)`); nil
    /// from random initialisation.
    let pretrained: String?
    /// The optimiser's saved state, until the resumed stage has loaded it.
    var resumedOptimizer: OptimizerState?
    /// Whether the folder holds a commit of this run (one made here or the one resumed).
    var committed = false
    /// Whether this run created the folder (it is removed again when the run fails before its first commit).
    var createdFolder = false

    /// Prepares a run: data, graph, weights (pretrained or random), or the state of a run to resume.
    /// - Parameters:
    ///   - options: with `resume`, the options of the saved state, `output` being the folder to resume.
    ///   - resume: continue the run in `options.output` from its last commit.
    ///   - overwrite: replace another run's files in `options.output`; without it such a folder is refused.
    ///   - commandLine: the arguments the run was started with (`CommandLine.arguments`), shown in the report.
    ///   - weightSource: where a weight set that `options.weights` names is found or downloaded.
    public init(options: TrainingOptions, catalog: PluginCatalog, resume: Bool = false, overwrite: Bool = false,
                commandLine: [String] = [], weightSource: PretrainedWeights = PretrainedWeights(),
                onEvent: @escaping (Event) -> Void, shouldStop: @escaping () -> Bool = { false }) throws {
        self.options = options
        self.commandLine = TrainingState.recorded(commandLine: commandLine)
        self.onEvent = onEvent
        self.shouldStop = shouldStop
        self.overwrite = overwrite
        folder = RunFolder(URL(fileURLWithPath: options.output))
        metrics = MetricsLog(url: folder.url(.metrics))
        if !resume, !overwrite, let marker = folder.runMarker() {
            throw TrainingError.output("\(options.output) holds another run (\(marker)): pass --overwrite to replace it, "
                                       + "or --resume \(options.output) to continue it")
        }
        backbone = try catalog.backbone(named: options.backbone)
        let size = options.inputSize ?? backbone.inputSize
        // A file, or a weight set the backbone declares (`--weights imagenet`), found in the caches
        // or downloaded; read and checked before the images are scanned, which can take long.
        let chosen = backbone
        let weightSet = try options.weights.flatMap { try WeightsArgument($0).weightSet(of: chosen) }
        pretrained = options.weights.map { value in weightSet.map { "\($0.name) (\($0.file_name))" } ?? value }
        let pretrainedWeights = resume ? nil : try options.weights.map { value in
            let file = try weightSet.map { set in
                try weightSource.file(of: set, progress: { onEvent(.download($0)) }, shouldStop: shouldStop)
            } ?? URL(fileURLWithPath: value)
            return try StateDict.load(contentsOf: file)
        }
        let (allTraining, valSet) = try Self.datasets(options)
        let trainSet = options.maxTrainSamples.map { allTraining.stratifiedSubset(count: $0, seed: options.seed) } ?? allTraining
        if let most = options.maxTrainSamples {
            let present = allTraining.classCounts.filter { $0 > 0 }.count
            guard most >= present else {
                throw TrainingError.data("--max-train-samples \(most) is fewer than the \(present) classes with training images: "
                                         + "give at least one image per class")
            }
            onEvent(.info(most < allTraining.count ? "--max-train-samples: training on \(trainSet.count) of \(allTraining.count) images"
                          : "--max-train-samples \(most): all \(allTraining.count) training images are used"))
        }
        classes = trainSet.classes
        lossWeights = try options.classWeights?.weights(classes: classes, counts: trainSet.classCounts)
        try ModelFile.checkClassNames(classes, file: options.data)  // as the model file will be read back
        let head = try HeadSpec(parsing: options.head, dropout: options.dropout)
        graph = try backbone.makeClassifier(classes: classes.count, head: head, inputSize: size)
        model = try Model(graph: graph)
        stages = Stage.plan(options, groups: graph.groups)
        let evalResize = Int((Double(size) * Double(backbone.evalResize) / Double(backbone.inputSize)).rounded())
        let normalize = Normalize(mean: backbone.mean, std: backbone.std)
        train = DataLoader(dataset: trainSet,
                           transform: Self.trainTransform(options, size: size, normalize: normalize),
                           // The last incomplete batch is left out (it differs each epoch, as the order is
                           // reshuffled): batch statistics over a handful of images make BN unstable.
                           options: .init(batchSize: options.batchSize, shuffle: true, sampler: options.sampler,
                                          dropLast: trainSet.count > options.batchSize, seed: options.seed,
                                          workers: options.workers, maxPixels: options.maxImagePixels))
        validation = DataLoader(dataset: valSet,
                                transform: EvalTransform(resize: evalResize, crop: size, normalize: normalize,
                                                         interpolation: backbone.evalInterpolation),
                                options: .init(batchSize: options.batchSize, shuffle: false, seed: options.seed,
                                               workers: options.workers, maxPixels: options.maxImagePixels))
        if resume {
            try folder.recover()
            let file = folder.url(.state)
            state = try TrainingState(contentsOf: file)
            try state.checkProgress(stageEpochs: stages.map(\.epochs), batches: train.batchCount, file: file.path)
            state.options = options
            earlierSeconds = state.sessions.seconds
            let last = try folder.regularFile(.last)
            try model.load(try ModelFile(contentsOf: last).graphAndWeights(backbone: backbone, file: last.path).weights)
            resumedOptimizer = try OptimizerState(contentsOf: try folder.regularFile(.optimizer), generation: state.generation)
            try metrics.truncate(to: state.metricsBytes)
            let (saved, skipped) = metrics.read()
            records = saved
            for problem in skipped { onEvent(.info("warning: \(problem)")) }
            committed = true
            if state.finished {
                onEvent(.info("the run in \(options.output) had finished; nothing left to train"))
            } else {
                onEvent(.info("resuming at epoch \(epochsBefore(state.stage) + state.epochInStage + 1) "
                              + "(stage \(stages[state.stage].name)), batch \(state.batchInEpoch + 1)"))
            }
        } else {
            model.initialize(seed: options.seed)
            if let pretrained, let file = pretrainedWeights {
                try model.load(try file.matched(to: graph, classifier: .drop, classifierKey: backbone.classifierKey))
                onEvent(.info("loaded pretrained backbone weights " + (weightSet == nil ? "from \(pretrained)" : "\(pretrained) from \(file.file)")))
            } else if let set = backbone.weightSets.first {
                onEvent(.info("no --weights: the backbone starts from random initialisation "
                              + "(for a real fine-tune pass --weights \(WeightsArgument.defaultSetName), its \(set.name) weights)"))
            } else {
                onEvent(.info("no --weights: the backbone starts from random initialisation "
                              + "(for a real fine-tune pass a pretrained file, e.g. --weights \(backbone.weightsHint.split(separator: " ").last ?? "weights.pth"))"))
            }
            state = TrainingState(options: options)
            state.commandLine = self.commandLine
        }
        state.startSession(at: start.timeIntervalSince1970)
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
        if hasTrainAndValidation(o.data) {
            return try ImageDataset.trainValidation(o.data)
        }
        return try ImageDataset.folder(o.data).split(validationFraction: o.valSplit, seed: o.seed)
    }

    /// The run's wall time so far: its earlier sessions and this one until now.
    var elapsed: Double { earlierSeconds + Date().timeIntervalSince(start) }

    /// Whether `data` is a folder with `train` and `val` folders (else one tree to split, or a manifest).
    static func hasTrainAndValidation(_ data: String) -> Bool {
        ["train", "val"].allSatisfy { FileManager.default.fileExists(atPath: (data as NSString).appendingPathComponent($0)) }
    }

    /// The valid records of a run folder's `metrics.jsonl`.
    static func readRecords(_ output: URL) -> [MetricsRecord] {
        MetricsLog(url: RunFolder(output).url(.metrics)).read().records
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
