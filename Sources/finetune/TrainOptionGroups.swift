import ArgumentParser
import FineTuneCore

/// The default of every training option, shown in the help.
let trainDefaults = TrainingOptions(backbone: "", data: "", output: "")
private let d = trainDefaults

// `train`'s options, in the titled groups its help shows. Each option is optional so that
// `--resume` can tell the options given from those left out; its default is in its help.

struct TrainDataOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Required (unless --resume). The labelled images: DIR/train/<class>/... with DIR/val/<class>/..., one tree DIR/<class>/... split by --val-split, or a manifest file of `path label` lines.", valueName: "DIR|MANIFEST"))
    var data: String?
    @Option(help: "Fraction held out for validation when --data is one tree or a manifest (default: \(d.valSplit)).") var valSplit: Double?
    @Option(help: ArgumentHelp("For a quick trial: train on N of the training images, each class keeping its share (at least one), chosen by --seed; validation is unchanged.", valueName: "N"))
    var maxTrainSamples: Int?
    @Option(help: "How each epoch draws the training images: shuffle (each once) or balanced (as many draws, with replacement, each class equally likely: PyTorch's WeightedRandomSampler with weights 1 / class count) (default: \(d.sampler.rawValue)).")
    var sampler: Sampler?
    @OptionGroup var image: ImageOptions
}

struct TrainModelOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Required (unless --resume). The backbone, as `finetune backbones` lists it (case, '_', '-' and '.' alike: EfficientNet_B3).", valueName: "NAME"))
    var backbone: String?
    @Option(help: ArgumentHelp("Pretrained weights: imagenet (the backbone's default published set), a set's name (IMAGENET1K_V2; `finetune weights list`), or a torchvision .pth or a .safetensors file. A set comes from PyTorch's hub cache or finetune's, else is downloaded. Without it the backbone starts from random initialisation.", valueName: "imagenet|NAME|FILE"))
    var weights: String?
    @Option(help: "The head: linear, or mlp:W1,W2,... (hidden widths, each with ReLU and dropout) (default: \(d.head)).",
            transform: { try HeadSpec(parsing: $0) })
    var head: HeadSpec?
    @Option(help: "Dropout after each hidden layer of an mlp head (default: \(d.dropout)).") var dropout: Float?
    @Option(help: "Square training crop in pixels (default: the backbone's).") var inputSize: Int?
    @OptionGroup var plugins: PluginOptions
}

struct TrainStrategyOptions: ParsableArguments {
    @Option(help: "What trains, and when (see above) (default: \(d.strategy.rawValue)).") var strategy: TrainingOptions.Strategy?
    @Option(help: "Epochs of the run; of the fine-tuning stage in two-stage (default: \(d.epochs)).") var epochs: Int?
    @Option(help: "Epochs of two-stage's freeze stage (default: \(d.freezeEpochs)).") var freezeEpochs: Int?
    @Option(help: "Train only the last N backbone layer groups (and the head) when the backbone trains.") var unfreeze: Int?
    @Option(help: "Batch norm where backbone layers train: frozen (running statistics, as in the freeze stage and in inference; scale and shift train; a cheaper step) or train (batch statistics, running ones updated) (default: frozen with --weights; train from random initialisation, whose statistics a freeze stage first measures on the training images).")
    var bn: BatchNormMode?
    @Option(help: "Stop a stage after this many epochs without a better --best-metric.") var patience: Int?
    @Option(help: "What best.safetensors is chosen by, and --patience waits for: the validation set's accuracy, balanced-accuracy (mean recall per class), macro-f1 or val-loss (default: \(d.bestMetric.rawValue)).")
    var bestMetric: BestMetric?
    @Option(help: ArgumentHelp("Stages whose whole backbone is frozen (freeze, the first stage of two-stage) run it once per image and view and train the head on the kept features. N views of each training image are kept; epoch e uses view (e-1) mod N. Default: as many as the stage has epochs, which is exactly the augmentation every step would see, when they fit in memory. 0 keeps none: each batch's features are computed as it arrives.", valueName: "N"))
    var cacheFeatures: Int?
    @Flag(inversion: .prefixedNo, help: "In stages whose whole backbone is frozen, train the head on features standardized to mean 0 and variance 1 (per feature, over up to 1,024 training images), folded back into its weights: steadier than raw features (default: on).")
    var standardizeFeatures: Bool?
}

struct TrainOptimisationOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Learning rate: the head's; everything's in full and discriminative. auto: found by the learning-rate range test on the first stage before it trains (as `finetune lr-find` runs it), its valley suggestion, kept for --resume (default: \(d.lr)).", valueName: "RATE|auto"))
    var lr: LearningRateArgument?
    @Option(help: "Learning rate of two-stage's second stage (default: \(d.finetuneLR)).") var finetuneLR: Float?
    @Option(help: "Backbone learning rate = the stage's rate * this, in discriminative (default: 0.1) and in two-stage's second stage (default: 1, one rate).")
    var backboneLRMult: Float?
    @Option(help: "The optimiser (default: \(d.optimizer.rawValue)).") var optimizer: TrainingOptions.OptimizerKind?
    @Option(help: "Weight decay: L2 for adam and sgd, decoupled for adamw (default: \(d.weightDecay)).") var weightDecay: Float?
    @Option(help: "Momentum of sgd (default: \(d.momentum)).") var momentum: Float?
    @Flag(help: "Nesterov momentum for sgd.") var nesterov = false
    @Option(help: "Learning-rate schedule of each stage: \(LearningRateSchedule.syntax) (default: \(d.schedule)).",
            transform: { try LearningRateSchedule(parsing: $0) })
    var schedule: LearningRateSchedule?
    @Option(help: "Linear warmup steps at the start of each stage (default: \(d.warmupSteps)).") var warmup: Int?
    @Option(help: "Label smoothing of the cross-entropy loss (default: \(d.labelSmoothing)).") var labelSmoothing: Float?
    @Option(help: ArgumentHelp("Per-class weights of the training loss: balanced (n_images / (n_classes * images of the class), scikit-learn's and Keras' balanced weights) or a file of `class weight` lines, every class once (default: every class 1).", valueName: "balanced|FILE"))
    var classWeights: ClassWeightsArgument?

    @Option(help: ArgumentHelp("Before each optimiser step, scale the gradients of all trainable parameters so their total L2 norm is at most NORM, as torch.nn.utils.clip_grad_norm_ (default: no clipping).", valueName: "NORM"))
    var clipGrad: Float?
    @Option(help: "Images per batch (default: \(d.batchSize)).") var batchSize: Int?
    @Option(help: ArgumentHelp("Gradient accumulation: sum the gradients of N batches of --batch-size (each loss scaled by 1/N) into one optimiser step, as one batch of N x --batch-size would give without batch-norm effects. The schedule, --warmup, --log-every and progress count optimiser steps; an epoch's leftover batches still make a step (default: 1).", valueName: "N"))
    var accumulate: Int?
    @Option(help: ArgumentHelp("Keep an exponential moving average of the weights (timm's ModelEmaV2): after each optimiser step ema = DECAY * ema + (1 - DECAY) * weights, batch-norm statistics included. Validated every epoch beside the plain weights and saved as ema.safetensors; best.safetensors comes from whichever scores better. In stages that train backbone layers (default: off; typical 0.999 to 0.9999, closer to 1 for more steps).", valueName: "DECAY"))
    var ema: Double?
    @Option(help: "Seed of every random choice: same seed, same run (default: \(d.seed)).") var seed: UInt64?
}

struct TrainAugmentationOptions: ParsableArguments {
    @Flag(inversion: .prefixedNo, help: "Random horizontal flips (default: on).") var hflip: Bool?
    @Flag(help: "Random vertical flips.") var vflip = false
    @Option(help: "Random rotation up to this many degrees (default: \(d.rotation)).") var rotation: Double?
    @Option(help: "Random shear up to this many degrees (default: \(d.shear)).") var shear: Double?
    @Option(help: "Colour jitter strength: brightness, contrast, saturation (default: \(d.colorJitter)).") var colorJitter: Double?
    @Option(help: ArgumentHelp("An automatic augmentation policy after the others, torchvision's: trivial-wide (TrivialAugmentWide: one random op of 14 at a random strength per image) or rand-augment (RandAugment: --rand-augment-ops random ops at strength --rand-augment-magnitude) (default: \(d.autoAugment.rawValue)).", valueName: "none|trivial-wide|rand-augment"))
    var autoAugment: TrainingOptions.AutoAugment?
    @Option(help: ArgumentHelp("RandAugment's ops per image (default: \(d.randAugmentOps)).", valueName: "N"))
    var randAugmentOps: Int?
    @Option(help: ArgumentHelp("RandAugment's strength, a bin from 0 to 30 (default: \(d.randAugmentMagnitude)).", valueName: "M"))
    var randAugmentMagnitude: Int?
    @Option(help: ArgumentHelp("Erase a random box (2-33% of the area, aspect 0.3-3.3) of the normalised image with probability P, as torchvision's RandomErasing with value 0 (default: \(d.randomErasing), never).", valueName: "P"))
    var randomErasing: Double?
    @Option(help: ArgumentHelp("Area fraction range of the random resized crop (default: \(d.cropScale)).", valueName: "MIN,MAX"))
    var cropScale: Interval?
    @Option(help: ArgumentHelp("Aspect ratio (width / height) range of the random resized crop (default: 3/4,4/3).", valueName: "MIN,MAX"))
    var cropRatio: Interval?
    @Option(help: ArgumentHelp("Mixup of each training batch with its mirror order, lam ~ Beta(ALPHA, ALPHA), with soft targets, as timm's --mixup (typical 0.2 to 0.8; default: off). In stages that train backbone layers; a frozen stage's head trains unmixed.", valueName: "ALPHA"))
    var mixup: Double?
    @Option(help: ArgumentHelp("CutMix of each training batch, as timm's --cutmix (typical 1.0; default: off). With --mixup too, each batch takes one of them at even odds.", valueName: "ALPHA"))
    var cutmix: Double?
}

struct TrainOutputOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Required (unless --resume). The run folder. One that holds another run is refused unless --overwrite is given.", valueName: "DIR"))
    var output: String?
    @Flag(help: "Replace the run in the --output folder (its files only; other files stay).") var overwrite = false
    @Option(help: ArgumentHelp("Continue the run in this output folder where it stopped. Only --threads, --workers, --max-image-pixels and --plugin-dir may change.", valueName: "DIR"))
    var resume: String?
    @Option(help: ArgumentHelp("Write a step record to metrics.jsonl every N steps, the mean since the last; the first N steps of each stage are recorded one by one (default: \(d.logEvery)).", valueName: "N"))
    var logEvery: Int?
}

struct TrainPerformanceOptions: ParsableArguments {
    @Option(help: "Compute threads (default: the cores this process may use, \(d.threads) here).") var threads: Int?
    @Option(help: "Image decoding threads (default: one per four --threads, at least 2).") var workers: Int?
}

/// `--class-weights`: `balanced`, or a file read into `ClassWeights` when the options are assembled.
enum ClassWeightsArgument: ExpressibleByArgument {
    case balanced
    case file(String)

    init?(argument: String) { self = argument == "balanced" ? .balanced : .file(argument) }

    func load() throws -> ClassWeights {
        switch self {
        case .balanced: .balanced
        case .file(let path): try ClassWeights.read(path)
        }
    }
}

/// `--lr`: a rate, or `auto` for the range test's suggestion (`AutomaticLearningRate`).
enum LearningRateArgument: ExpressibleByArgument {
    case rate(Float)
    case auto

    init?(argument: String) {
        if argument == "auto" { self = .auto } else if let rate = Float(argument) { self = .rate(rate) } else { return nil }
    }

    func apply(to o: inout TrainingOptions) {
        switch self {
        case .rate(let rate): o.lr = rate
        case .auto: o.automaticLR = AutomaticLearningRate()
        }
    }
}

extension TrainingOptions.Strategy: ExpressibleByArgument {}
extension TrainingOptions.AutoAugment: ExpressibleByArgument {}
extension Interval: ExpressibleByArgument {
    public init?(argument: String) { self.init(parsing: argument) }
}
extension BestMetric: ExpressibleByArgument {}
extension Sampler: ExpressibleByArgument {}
extension TrainingOptions.OptimizerKind: ExpressibleByArgument {}
extension BatchNormMode: ExpressibleByArgument {}
