/// Options given that the configured run would not use. An option the chosen strategy, head or
/// optimiser ignores is refused rather than silently dropped, so a run never looks configured
/// in a way it is not: `--momentum` with adam, `--freeze-epochs` outside two-stage, ...
extension TrainingOptions {
    /// An option given that does nothing in this run: the option, why, and what to do instead.
    public struct Inapplicable: Error, CustomStringConvertible, Equatable {
        public var option: String
        public var reason: String

        public var description: String { "\(option) \(reason)" }
    }

    /// Throws `Inapplicable` for the first option of `given` (flags as the command line spells
    /// them, e.g. "--momentum") that this configuration would not use.
    public func checkApplicable(given: Set<String>) throws {
        func refuse(_ option: String, _ reason: String) throws {
            if given.contains(option) { throw Inapplicable(option: option, reason: reason) }
        }
        let s = "--strategy \(strategy.rawValue)"
        if strategy != .twoStage {
            try refuse("--freeze-epochs", "applies to --strategy two-stage only: \(s) trains for --epochs")
            try refuse("--finetune-lr", "is two-stage's second-stage rate: \(s) trains at --lr")
        }
        if automaticLR != nil, strategy == .twoStage, freezeEpochs == 0 {
            try refuse("--lr", "auto finds the rate of two-stage's freeze stage, and --freeze-epochs 0 leaves none: "
                       + "its fine-tuning stage trains at --finetune-lr (use --strategy full for a found rate)")
        }
        switch strategy {
        case .freeze:
            let never = "does nothing with \(s): the backbone never trains (use two-stage, full or discriminative)"
            for option in ["--backbone-lr-mult", "--unfreeze", "--bn"] { try refuse(option, never) }
            // A frozen stage trains its head on backbone features (Trainer+FeatureCache.swift): no images to mix.
            let wholeNetwork = "applies to stages that train backbone layers, and \(s) has none: "
                + "its head trains on the frozen backbone's features (use two-stage, full or discriminative)"
            for option in ["--mixup", "--cutmix", "--ema"] { try refuse(option, wholeNetwork) }
        case .full:
            try refuse("--backbone-lr-mult", "does nothing with \(s), which trains everything at --lr: "
                       + "use --strategy discriminative (or two-stage) for a smaller backbone rate")
        case .discriminative, .twoStage:
            break
        }
        if strategy == .full || strategy == .discriminative {
            let none = "applies to stages whose whole backbone is frozen, and \(s) has none"
            try refuse("--cache-features", none)
            try refuse("--[no-]standardize-features", none)
        }
        if optimizer != .sgd {
            let sgdOnly = "applies to --optimizer sgd only; \(optimizer.rawValue) has no momentum setting"
            try refuse("--momentum", sgdOnly)
            try refuse("--nesterov", sgdOnly)
        }
        if autoAugment != .randAugment {
            let randOnly = "applies to --auto-augment rand-augment only (this run has --auto-augment \(autoAugment.rawValue))"
            try refuse("--rand-augment-ops", randOnly)
            try refuse("--rand-augment-magnitude", randOnly)
        }
        if head == "linear" {
            try refuse("--dropout", "applies to the hidden layers of an mlp head (--head mlp:W1,W2,...); a linear head has none")
        }
    }

    /// The backbone's learning rate relative to the head's where both train: `--backbone-lr-mult`,
    /// by default 0.1 in discriminative and 1 (one rate) in two-stage's second stage.
    public var effectiveBackboneLRMultiplier: Float {
        backboneLRMult ?? (strategy == .discriminative ? 0.1 : 1)
    }
}
