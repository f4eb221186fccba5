import ArgumentParser
import FineTuneCore
import Foundation

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
        training-state.json, metrics.jsonl and report.html. Ctrl-C finishes the current step, \
        saves last.safetensors and exits; --resume OUTPUT continues the run.

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

    @Option(help: "The backbone, as `finetune backbones` lists it.") var backbone: String?
    @Option(help: "The labelled images (see above).") var data: String?
    @Option(help: "Pretrained weights: a torchvision .pth or a .safetensors file. Without it the backbone starts from random initialisation.")
    var weights: String?
    @Option(help: "freeze, discriminative, full or two-stage.") var strategy: String = "two-stage"
    @Option(help: "Output folder.") var output: String?
    @Option(help: "Continue the run in this output folder where it stopped.") var resume: String?

    @Option(help: "Epochs of the main stage (the fine-tuning stage of two-stage).") var epochs = 10
    @Option(help: "Epochs of the freeze stage of two-stage.") var freezeEpochs = 5
    @Option(help: "Learning rate (the head's; everything's in full and discriminative).") var lr: Float = 1e-3
    @Option(help: "Learning rate of two-stage's second stage.") var finetuneLR: Float = 1e-4
    @Option(help: "Backbone learning rate = lr * this, in discriminative.") var backboneLRMult: Float = 0.1
    @Option(help: "Train only the last N backbone layer groups (and the head) when the backbone trains.") var unfreeze: Int?
    @Option(help: "adam, adamw or sgd.") var optimizer = "adam"
    @Option(help: "Weight decay (L2 for adam and sgd, decoupled for adamw).") var weightDecay: Float = 1e-4
    @Option(help: "Momentum of sgd.") var momentum: Float = 0.9
    @Flag(help: "Nesterov momentum for sgd.") var nesterov = false
    @Option(help: "Learning-rate schedule per stage: constant, cosine, step:EPOCHS_OF_STEPS:GAMMA, onecycle.") var schedule = "constant"
    @Option(help: "Linear warmup steps at the start of each stage.") var warmup = 0
    @Option(help: "Head: linear, or mlp:128,64 (hidden widths, ReLU, dropout).") var head = "linear"
    @Option(help: "Dropout after each hidden layer of an mlp head.") var dropout: Float = 0.2
    @Option(help: "Label smoothing of the cross-entropy loss.") var labelSmoothing: Float = 0
    @Option(help: "Images per batch.") var batchSize = 32
    @Option(help: "Square training crop in pixels (default: the backbone's).") var inputSize: Int?
    @Option(help: "Fraction held out for validation when DATA is one tree.") var valSplit = 0.2
    @Option(help: "Stop a stage after this many epochs without a better validation accuracy.") var patience: Int?
    @Option(help: "Seed of every random choice: same seed, same run.") var seed: UInt64 = 0
    @Option(help: "Compute threads.") var threads = 2
    @Option(help: "Image decoding threads.") var workers = 2
    @Option(help: ArgumentHelp("In stages whose whole backbone is frozen, compute its features once per image and train the head on them, with N augmented views of each training image (only those N views are seen). Ignored, with a notice, in stages where the backbone trains.", valueName: "N"))
    var cacheFeatures: Int?
    @Flag(inversion: .prefixedNo, help: "With --cache-features, train the head on features standardized to mean 0 and variance 1 (per feature, over the first view), folded back into its weights: steadier than raw features, where the uncached recipe's batch norms normalise each batch.")
    var standardizeFeatures = true
    @Flag(inversion: .prefixedNo, help: "Random horizontal flips.") var hflip = true
    @Flag(help: "Random vertical flips.") var vflip = false
    @Option(help: "Random rotation up to this many degrees.") var rotation: Double = 0
    @Option(help: "Random shear up to this many degrees.") var shear: Double = 0
    @Option(help: "Colour jitter strength (brightness, contrast, saturation).") var colorJitter: Double = 0

    func validate() throws {
        if resume == nil {
            guard backbone != nil, data != nil, output != nil else {
                throw ValidationError("--backbone, --data and --output are required (or --resume OUTPUT)")
            }
        }
        guard TrainingOptions.Strategy(rawValue: strategy) != nil else {
            throw ValidationError("--strategy must be one of: " + TrainingOptions.Strategy.allCases.map(\.rawValue).joined(separator: ", "))
        }
        guard TrainingOptions.OptimizerKind(rawValue: optimizer) != nil else {
            throw ValidationError("--optimizer must be adam, adamw or sgd")
        }
        do { try options.validate() } catch let invalid as TrainingOptions.Invalid {
            throw ValidationError(invalid.description)
        }
    }

    var options: TrainingOptions {
        var o = TrainingOptions(backbone: backbone ?? "", data: data ?? "", weights: weights, output: output ?? "")
        o.strategy = TrainingOptions.Strategy(rawValue: strategy)!
        o.epochs = epochs; o.freezeEpochs = freezeEpochs; o.lr = lr; o.finetuneLR = finetuneLR
        o.backboneLRMultiplier = backboneLRMult; o.unfreeze = unfreeze
        o.optimizer = TrainingOptions.OptimizerKind(rawValue: optimizer)!
        o.weightDecay = weightDecay; o.momentum = momentum; o.nesterov = nesterov
        o.schedule = schedule; o.warmupSteps = warmup; o.head = head; o.dropout = dropout
        o.labelSmoothing = labelSmoothing; o.batchSize = batchSize; o.inputSize = inputSize; o.valSplit = valSplit
        o.patience = patience; o.seed = seed; o.threads = threads; o.workers = workers; o.cacheFeatures = cacheFeatures
        o.standardizeCachedFeatures = standardizeFeatures
        o.horizontalFlip = hflip; o.verticalFlip = vflip; o.rotation = rotation; o.shear = shear; o.colorJitter = colorJitter
        o.maxImagePixels = imageOptions.maxImagePixels
        return o
    }

    func run() throws {
        var opts = options
        if let resume { opts = try TrainingState.read(from: URL(fileURLWithPath: resume)).options }
        Interrupt.install()
        let progress = ProgressPrinter()
        let trainer = try Trainer(options: opts, catalog: plugins.catalog(), resume: resume != nil,
                                  onEvent: progress.handle, shouldStop: { Interrupt.requested })
        switch try trainer.run() {
        case .interrupted:
            progress.finishLine()
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
}
