/// One stage of a training run: which layer groups train, at which learning rates, how long.
public struct Stage: Equatable, Sendable {
    /// "freeze", "finetune", or the strategy's name for one-stage runs.
    public var name: String
    public var epochs: Int
    /// Indices into the graph's groups that do not train.
    public var frozenGroups: Set<Int>
    /// Learning rate of the head, and of trainable backbone groups unless `backboneLR` is set.
    public var lr: Float
    /// A different learning rate for the backbone (discriminative fine-tuning; `--backbone-lr-mult` in two-stage).
    public var backboneLR: Float?
    /// How the backbone's batch norms run where backbone layers train (see `BatchNormMode`).
    public var batchNorm: BatchNormMode = .train

    /// `--bn` left out: frozen statistics where the backbone starts from pretrained weights
    /// (its running statistics are those the head of a freeze stage was trained on), batch
    /// statistics from random initialisation (running statistics of 0 and 1 describe nothing).
    /// The README's "Batch norm when the backbone trains" has the measurements.
    public static func defaultBatchNorm(_ options: TrainingOptions) -> BatchNormMode {
        options.batchNorm ?? (options.weights != nil ? .frozen : .train)
    }

    /// The stages of `options.strategy` for a graph whose last group is the head.
    public static func plan(_ options: TrainingOptions, groups: [String]) -> [Stage] {
        let head = groups.count - 1
        let backbone = Set(0..<head)
        // --unfreeze N: only the last N backbone groups (and the head) train.
        let partlyFrozen = options.unfreeze.map { Set(0..<max(0, head - $0)) } ?? []
        let bn = defaultBatchNorm(options)
        switch options.strategy {
        case .freeze:
            return [Stage(name: "freeze", epochs: options.epochs, frozenGroups: backbone, lr: options.lr)]
        case .discriminative:
            return [Stage(name: "discriminative", epochs: options.epochs, frozenGroups: partlyFrozen, lr: options.lr,
                          backboneLR: options.lr * options.effectiveBackboneLRMultiplier, batchNorm: bn)]
        case .full:
            return [Stage(name: "full", epochs: options.epochs, frozenGroups: partlyFrozen, lr: options.lr, batchNorm: bn)]
        case .twoStage:
            return [Stage(name: "freeze", epochs: options.freezeEpochs, frozenGroups: backbone, lr: options.lr),
                    Stage(name: "finetune", epochs: options.epochs, frozenGroups: partlyFrozen, lr: options.finetuneLR,
                          backboneLR: options.backboneLRMult.map { options.finetuneLR * $0 }, batchNorm: bn)]
                .filter { $0.epochs > 0 }
        }
    }
}
