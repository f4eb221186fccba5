import ArgumentParser
import FineTuneCore
import Foundation

/// The default of every training option, shown in the help.
private let d = TrainingOptions(backbone: "", data: "", output: "")

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fine-tune a backbone with a new classifier head on an image folder.",
        discussion: """
        DATA is DIR/train/<class>/... with DIR/val/<class>/..., or one tree DIR/<class>/... split \
        by --val-split, or a manifest file of `path label` lines. Strategies:
          freeze          train the head only; the backbone is frozen (inference-mode BN)
          discriminative  train everything, the backbone at lr * --backbone-lr-mult
          full            train everything at one learning rate
          two-stage       --freeze-epochs of freeze at --lr, then --epochs of full at --finetune-lr
        Writes OUTPUT/best.safetensors (and a copy named with its accuracy), last.safetensors, \
        optimizer.safetensors, training-state.json, metrics.jsonl and report.html; the files a resumed \
        run reads are saved together after every epoch, so a crash loses at most the epoch in \
        progress. Ctrl-C (or SIGTERM) finishes the current step, saves and exits with status 130 \
        (143); --resume OUTPUT continues the run.

        --cache-features N speeds up stages whose whole backbone is frozen (freeze, the first \
        stage of two-stage): the backbone runs once per training image and view (N views) and \
        once per validation image, instead of once per image and epoch, and the steps train the \
        head alone on the kept features. With random augmentation (the crop, flips, ...) each \
        training image is then seen in only N fixed augmented views: epoch e uses view \
        (e-1) mod N, which is the augmentation uncached training draws in epoch e when e <= N. \
        N = 1 is the fastest; N >= the freeze stage's epochs trains exactly as without the cache.
        """)

    @OptionGroup var plugins: PluginOptions
    @OptionGroup var imageOptions: ImageOptions

    @Option(help: "The backbone, as `finetune backbones` lists it (case, '_', '-' and '.' alike: EfficientNet_B3).") var backbone: String?
    @Option(help: "The labelled images (see above).") var data: String?
    @Option(help: "Pretrained weights: a torchvision .pth or a .safetensors file. Without it the backbone starts from random initialisation.")
    var weights: String?
    @Option(help: "freeze, discriminative, full or two-stage (default: \(d.strategy.rawValue)).") var strategy: String?
    @Option(help: "Output folder. One that holds another run is refused unless --overwrite is given.") var output: String?
    @Flag(help: "Replace the run in the --output folder (its files only; other files stay).") var overwrite = false
    @Option(help: "Continue the run in this output folder where it stopped. Only --threads, --workers and --plugin-dir may change.")
    var resume: String?

    @Option(help: "Epochs of the main stage, the fine-tuning stage of two-stage (default: \(d.epochs)).") var epochs: Int?
    @Option(help: "Epochs of the freeze stage of two-stage (default: \(d.freezeEpochs)).") var freezeEpochs: Int?
    @Option(help: "Learning rate: the head's; everything's in full and discriminative (default: \(d.lr)).") var lr: Float?
    @Option(help: "Learning rate of two-stage's second stage (default: \(d.finetuneLR)).") var finetuneLR: Float?
    @Option(help: "Backbone learning rate = lr * this, in discriminative (default: \(d.backboneLRMultiplier)).") var backboneLRMult: Float?
    @Option(help: "Train only the last N backbone layer groups (and the head) when the backbone trains.") var unfreeze: Int?
    @Option(help: "Batch norm where backbone layers train: frozen (running statistics, as in the freeze stage and in inference; scale and shift train; a cheaper step) or train (batch statistics, running ones updated) (default: frozen with --weights; train from random initialisation, whose statistics a freeze stage first measures on the training images).")
    var bn: String?
    @Option(help: "adam, adamw or sgd (default: \(d.optimizer.rawValue)).") var optimizer: String?
    @Option(help: "Weight decay: L2 for adam and sgd, decoupled for adamw (default: \(d.weightDecay)).") var weightDecay: Float?
    @Option(help: "Momentum of sgd (default: \(d.momentum)).") var momentum: Float?
    @Flag(help: "Nesterov momentum for sgd.") var nesterov = false
    @Option(help: "Learning-rate schedule per stage: constant, cosine, step:EPOCHS_OF_STEPS:GAMMA, onecycle (default: \(d.schedule)).")
    var schedule: String?
    @Option(help: "Linear warmup steps at the start of each stage (default: \(d.warmupSteps)).") var warmup: Int?
    @Option(help: "Head: linear, or mlp:128,64 (hidden widths, ReLU, dropout) (default: \(d.head)).") var head: String?
    @Option(help: "Dropout after each hidden layer of an mlp head (default: \(d.dropout)).") var dropout: Float?
    @Option(help: "Label smoothing of the cross-entropy loss (default: \(d.labelSmoothing)).") var labelSmoothing: Float?
    @Option(help: "Images per batch (default: \(d.batchSize)).") var batchSize: Int?
    @Option(help: "Square training crop in pixels (default: the backbone's).") var inputSize: Int?
    @Option(help: "Fraction held out for validation when DATA is one tree (default: \(d.valSplit)).") var valSplit: Double?
    @Option(help: "Stop a stage after this many epochs without a better validation accuracy.") var patience: Int?
    @Option(help: "Seed of every random choice: same seed, same run (default: \(d.seed)).") var seed: UInt64?
    @Option(help: ArgumentHelp("Write a step record to metrics.jsonl every N steps, the mean since the last; the first N steps of each stage are recorded one by one (default: \(d.logEvery)).", valueName: "N"))
    var logEvery: Int?
    @Option(help: "Compute threads (default: \(d.threads)).") var threads: Int?
    @Option(help: "Image decoding threads (default: one per four --threads, at least \(d.workers)).") var workers: Int?
    @Option(help: ArgumentHelp("Stages whose whole backbone is frozen (freeze, the first stage of two-stage) run it once per image and view and train the head on the kept features. N views of each training image are kept; epoch e uses view (e-1) mod N. Default: as many as the stage has epochs, which is exactly the augmentation every step would see, when they fit in memory. 0 keeps none: each batch's features are computed as it arrives.", valueName: "N"))
    var cacheFeatures: Int?
    @Flag(inversion: .prefixedNo, help: "In stages whose whole backbone is frozen, train the head on features standardized to mean 0 and variance 1 (per feature, over up to 1,024 training images), folded back into its weights: steadier than raw features (default: on).")
    var standardizeFeatures: Bool?
    @Flag(inversion: .prefixedNo, help: "Random horizontal flips (default: on).") var hflip: Bool?
    @Flag(help: "Random vertical flips.") var vflip = false
    @Option(help: "Random rotation up to this many degrees (default: \(d.rotation)).") var rotation: Double?
    @Option(help: "Random shear up to this many degrees (default: \(d.shear)).") var shear: Double?
    @Option(help: "Colour jitter strength: brightness, contrast, saturation (default: \(d.colorJitter)).") var colorJitter: Double?

    func validate() throws {
        if let resume {
            guard !overwrite else { throw ValidationError("--overwrite cannot be given with --resume \(resume): a resumed run continues its own files") }
        } else {
            guard backbone != nil, data != nil, output != nil else {
                throw ValidationError("--backbone, --data and --output are required (or --resume OUTPUT)")
            }
        }
        guard strategy.map({ TrainingOptions.Strategy(rawValue: $0) != nil }) ?? true else {
            throw ValidationError("--strategy must be one of: " + TrainingOptions.Strategy.allCases.map(\.rawValue).joined(separator: ", "))
        }
        guard bn.map({ BatchNormMode(rawValue: $0) != nil }) ?? true else {
            throw ValidationError("--bn must be frozen or train")
        }
        guard optimizer.map({ TrainingOptions.OptimizerKind(rawValue: $0) != nil }) ?? true else {
            throw ValidationError("--optimizer must be adam, adamw or sgd")
        }
        do { try options.validate() } catch let invalid as TrainingOptions.Invalid {
            throw ValidationError(invalid.description)
        }
    }

    /// The training options given on the command line: each flag with what it sets. A flag left
    /// out is not here (its default comes from `TrainingOptions`), so `--resume` can tell them apart.
    var given: [(flag: String, apply: (inout TrainingOptions) -> Void)] {
        var list: [(flag: String, apply: (inout TrainingOptions) -> Void)] = []
        func add<T>(_ flag: String, _ value: T?, _ set: @escaping (inout TrainingOptions, T) -> Void) {
            if let value { list.append((flag, { set(&$0, value) })) }
        }
        add("--backbone", backbone) { $0.backbone = $1 }
        add("--data", data) { $0.data = $1 }
        add("--weights", weights) { $0.weights = $1 }
        add("--output", output) { $0.output = $1 }
        add("--strategy", strategy.flatMap(TrainingOptions.Strategy.init)) { $0.strategy = $1 }
        add("--epochs", epochs) { $0.epochs = $1 }
        add("--freeze-epochs", freezeEpochs) { $0.freezeEpochs = $1 }
        add("--lr", lr) { $0.lr = $1 }
        add("--finetune-lr", finetuneLR) { $0.finetuneLR = $1 }
        add("--backbone-lr-mult", backboneLRMult) { $0.backboneLRMultiplier = $1 }
        add("--unfreeze", unfreeze) { $0.unfreeze = $1 }
        add("--bn", bn.flatMap(BatchNormMode.init)) { $0.batchNorm = $1 }
        add("--optimizer", optimizer.flatMap(TrainingOptions.OptimizerKind.init)) { $0.optimizer = $1 }
        add("--weight-decay", weightDecay) { $0.weightDecay = $1 }
        add("--momentum", momentum) { $0.momentum = $1 }
        add("--nesterov", nesterov ? true : nil) { $0.nesterov = $1 }
        add("--schedule", schedule) { $0.schedule = $1 }
        add("--warmup", warmup) { $0.warmupSteps = $1 }
        add("--head", head) { $0.head = $1 }
        add("--dropout", dropout) { $0.dropout = $1 }
        add("--label-smoothing", labelSmoothing) { $0.labelSmoothing = $1 }
        add("--batch-size", batchSize) { $0.batchSize = $1 }
        add("--input-size", inputSize) { $0.inputSize = $1 }
        add("--val-split", valSplit) { $0.valSplit = $1 }
        add("--patience", patience) { $0.patience = $1 }
        add("--seed", seed) { $0.seed = $1 }
        add("--log-every", logEvery) { $0.logEvery = $1 }
        add("--threads", threads) { $0.threads = $1; $0.workers = TrainingOptions.defaultWorkers(threads: $1) }
        add("--workers", workers) { $0.workers = $1 }
        add("--cache-features", cacheFeatures) { $0.cacheFeatures = $1 }
        add("--[no-]standardize-features", standardizeFeatures) { $0.standardizeCachedFeatures = $1 }
        add("--[no-]hflip", hflip) { $0.horizontalFlip = $1 }
        add("--vflip", vflip ? true : nil) { $0.verticalFlip = $1 }
        add("--rotation", rotation) { $0.rotation = $1 }
        add("--shear", shear) { $0.shear = $1 }
        add("--color-jitter", colorJitter) { $0.colorJitter = $1 }
        add("--max-image-pixels", imageOptions.maxImagePixels) { $0.maxImagePixels = $1 }
        return list
    }

    /// The defaults with every option given applied.
    var options: TrainingOptions {
        var o = d
        for option in given { option.apply(&o) }
        return o
    }

    func run() throws {
        var opts = options
        if let resume { opts = try resumedOptions(folder: resume) }
        Interrupt.install()
        let progress = ProgressPrinter()
        let trainer = try Trainer(options: opts, catalog: plugins.catalog(), resume: resume != nil, overwrite: overwrite,
                                  onEvent: progress.handle, shouldStop: { Interrupt.requested })
        switch try trainer.run() {
        case .interrupted:
            progress.finishLine()
            throw ExitCode(Interrupt.exitStatus)
        case .finished(let best):
            progress.finishLine()
            if let best {
                print("\nbest model: validation accuracy \(String(format: "%.4f", best.accuracy)) on \(best.confusion.total) images")
                print(best.confusion.table())
            }
            print("\nmodel:  \((opts.output as NSString).appendingPathComponent("best.safetensors"))")
            print("report: \((opts.output as NSString).appendingPathComponent("report.html"))")
        }
    }

    /// The options of the run saved in `folder`, which stays its output folder whatever the state
    /// says. Options given beside `--resume` must agree with the run's, except the few that do
    /// not change what it computes (applied, with a notice).
    func resumedOptions(folder: String) throws -> TrainingOptions {
        let run = RunFolder(URL(fileURLWithPath: folder))
        try run.recover()
        var o = try TrainingState(contentsOf: run.url(.state)).options
        o.output = folder
        let safe: Set = ["--threads", "--workers", "--max-image-pixels"]
        for option in given {
            var changed = o
            option.apply(&changed)
            guard changed != o else { continue }
            let (saved, asked) = Self.difference(o, changed)
            guard safe.contains(option.flag) else {
                throw TrainingError.resume("\(option.flag) cannot change on --resume; the run keeps \(saved) (leave the option out)")
            }
            print("\(option.flag): \(asked) for the resumed run (it had \(saved))")
            o = changed
        }
        if !plugins.pluginDirs.isEmpty {
            print("--plugin-dir: looking for the backbone in \(plugins.pluginDirs.joined(separator: ", ")) first")
        }
        return o
    }

    /// The value of the first field in which `a` and `b` differ, in each.
    static func difference(_ a: TrainingOptions, _ b: TrainingOptions) -> (String, String) {
        func text(_ value: Any) -> String {
            let mirror = Mirror(reflecting: value)
            if mirror.displayStyle == .optional { return mirror.children.first.map { text($0.value) } ?? "none" }
            if let raw = value as? any RawRepresentable { return "\(raw.rawValue)" }
            return "\(value)"
        }
        for (x, y) in zip(Mirror(reflecting: a).children, Mirror(reflecting: b).children) where text(x.value) != text(y.value) {
            return (text(x.value), text(y.value))
        }
        return ("?", "?")
    }
}
