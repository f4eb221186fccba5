import Foundation

/// Everything a training run is configured with. Saved with the training state (for
/// `--resume`) and shown in the report, so it is Codable and has readable names.
public struct TrainingOptions: Codable, Equatable, Sendable {
    public enum Strategy: String, Codable, CaseIterable, Sendable {
        /// The backbone is frozen (inference-mode BN, no gradients); only the head trains.
        case freeze
        /// Everything trains; the backbone at `lr * effectiveBackboneLRMultiplier`.
        case discriminative
        /// Everything trains at one learning rate, from the pretrained weights (or random ones).
        case full
        /// `freezeEpochs` of `freeze`, then `epochs` of `full` at `finetuneLR`.
        case twoStage = "two-stage"
    }

    public enum OptimizerKind: String, Codable, CaseIterable, Sendable {
        case adam, adamw, sgd
    }

    /// An automatic augmentation policy applied after the other augmentations.
    public enum AutoAugment: String, Codable, CaseIterable, Sendable {
        case none
        /// torchvision's TrivialAugmentWide: one random op at a random strength (`TrivialAugmentWide`).
        case trivialWide = "trivial-wide"
        /// torchvision's RandAugment: `randAugmentOps` random ops at bin `randAugmentMagnitude` (`RandAugment`).
        case randAugment = "rand-augment"
    }

    public var backbone: String
    public var data: String
    public var weights: String?
    public var output: String
    public var strategy: Strategy = .twoStage
    /// Epochs of the main stage (the fine-tuning stage of two-stage).
    public var epochs = 10
    /// Epochs of the freeze stage of two-stage.
    public var freezeEpochs = 5
    /// Learning rate of the head (and of everything in `full` and `discriminative`).
    public var lr: Float = 1e-3
    /// Learning rate of the second stage of two-stage.
    public var finetuneLR: Float = 1e-4
    /// Backbone learning rate = the stage's rate * this, where the backbone trains beside the
    /// head: discriminative (nil: 0.1) and two-stage's second stage (nil: 1, one rate). Saved as
    /// `backboneLRMult`; states that predate two-stage's use of it are read by `TrainingState`.
    public var backboneLRMult: Float?
    /// Train only the last N backbone layer groups (and the head); nil: all of them.
    public var unfreeze: Int?
    /// Batch norm in stages where backbone layers train; nil: `Stage.defaultBatchNorm`.
    public var batchNorm: BatchNormMode?
    public var optimizer: OptimizerKind = .adam
    public var weightDecay: Float = 1e-4
    public var momentum: Float = 0.9
    public var nesterov = false
    /// A schedule as `LearningRateSchedule` parses it, e.g. "constant", "cosine".
    public var schedule = "constant"
    public var warmupSteps = 0
    /// `HeadSpec` text: "linear" or "mlp:128,64".
    public var head = "linear"
    public var dropout: Float = 0.2
    public var labelSmoothing: Float = 0
    /// Per-class weights of the training loss; nil: every class weighs 1.
    public var classWeights: ClassWeights?
    /// Clip the total L2 norm of the trainable parameters' gradients to this before each
    /// optimiser step (`GradientClipping`); nil: no clipping.
    public var clipGrad: Float?
    public var batchSize = 32
    /// Micro-batches of `batchSize` whose gradients are summed into one optimiser step
    /// (gradient accumulation); an epoch's last, shorter group still steps. 1: a step per batch.
    public var accumulate = 1
    /// Square training crop; nil: the backbone's own size.
    public var inputSize: Int?
    /// Fraction of one image tree held out for validation when DIR has no train/val folders.
    public var valSplit = 0.2
    /// Train on a stratified, seeded subset of this many training images; nil: all of them.
    public var maxTrainSamples: Int?
    /// How each training epoch draws its images (`Sampler`).
    public var sampler: Sampler = .shuffle
    /// Stop a stage after this many epochs without a better `bestMetric`; nil: never.
    public var patience: Int?
    /// What the best checkpoint is chosen by, and `patience` waits for.
    public var bestMetric: BestMetric = .accuracy
    public var seed: UInt64 = 0
    /// Compute threads: by default the cores this process may run on (its CPU affinity).
    public var threads = TrainingOptions.availableCores
    /// Decoding threads; `defaultWorkers(threads:)` unless set.
    public var workers = TrainingOptions.defaultWorkers(threads: TrainingOptions.availableCores)
    /// Augmentations beyond the random resized crop.
    public var horizontalFlip = true
    public var verticalFlip = false
    public var rotation: Double = 0
    public var shear: Double = 0
    public var colorJitter: Double = 0
    /// TrivialAugmentWide or RandAugment after the augmentations above.
    public var autoAugment: AutoAugment = .none
    /// RandAugment's ops per image and magnitude bin (of 31, as torchvision's defaults 2 and 9).
    public var randAugmentOps = 2
    public var randAugmentMagnitude = 9
    /// Probability of erasing a random box of the normalised sample (`RandomErasing`); 0: never.
    public var randomErasing: Double = 0
    /// The random resized crop's area fraction and aspect ratio (width / height) ranges.
    public var cropScale = Interval(0.08, 1)
    public var cropRatio = Interval(3.0 / 4.0, 4.0 / 3.0)
    /// Mixup and CutMix of each training batch (`Mixup`), in stages whose steps run the whole
    /// network; off by default.
    public var mixup = Mixup()
    /// Keep an exponential moving average of the weights with this decay (`ModelEMA`), in stages
    /// whose steps run the whole network; validated and saved beside the plain weights. nil: none.
    public var ema: Double?
    /// Stages whose whole backbone is frozen train the head on its pooled features; this many
    /// augmented views of each training image are kept in memory (see `FeatureCache`). nil: as
    /// many as the stage has epochs (exactly the augmentation the whole network would see), when
    /// they fit in memory; 0: none kept, each batch's features computed as it arrives.
    public var cacheFeatures: Int?
    /// In stages whose whole backbone is frozen, train the head on standardized features,
    /// folded back into its weights (see `FeatureStandardization`); false trains it on the
    /// features as they are.
    public var standardizeCachedFeatures = true
    /// Log a step record every this many steps.
    public var logEvery = 10
    /// Images of more pixels are refused before decoding (`--max-image-pixels`).
    public var maxImagePixels = Limits.defaultImagePixels
    /// `--lr auto`: `lr` is found by the learning-rate range test before the first step (see
    /// `AutomaticLearningRate`); nil: `lr` as given.
    public var automaticLR: AutomaticLearningRate?

    public init(backbone: String, data: String, weights: String? = nil, output: String) {
        self.backbone = backbone
        self.data = data
        self.weights = weights
        self.output = output
    }

    /// The decoding threads that keep `threads` compute threads fed: one per four, at least two
    /// (so that one slow file does not hold up a batch). Reading, decoding and augmenting an
    /// image takes 1.5-3 ms of one core, against 12 ms of core time for the cheapest installed
    /// backbone's forward pass (mobilenet-v2 at 224 px); a frozen stage asks no more than that.
    public static func defaultWorkers(threads: Int) -> Int { max(2, (threads + 3) / 4) }

    /// Optimiser steps in an epoch of `batches` micro-batches: one per `accumulate` of them, the
    /// leftover ones included.
    public func steps(perEpochOf batches: Int) -> Int { (batches + accumulate - 1) / accumulate }

    /// The cores this process may use (Foundation reads the CPU affinity mask), within `Limits.threads`.
    public static var availableCores: Int { min(max(1, ProcessInfo.processInfo.activeProcessorCount), Limits.threads) }
}
