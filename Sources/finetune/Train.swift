import ArgumentParser
import FineTuneCore
import Foundation

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fine-tune a backbone with a new classifier head on an image folder.",
        discussion: """
        Strategies:
          freeze          train the head only; the backbone is frozen (inference-mode BN)
          discriminative  train everything, the backbone at lr * --backbone-lr-mult
          full            train everything at one learning rate
          two-stage       --freeze-epochs of freeze, then --epochs of everything at --finetune-lr
        (in two-stage's second stage the backbone trains at --finetune-lr * --backbone-lr-mult). \
        An option the chosen strategy, head or optimiser would not use is an error, not ignored.

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

    @OptionGroup(title: "Data") var dataOptions: TrainDataOptions
    @OptionGroup(title: "Model") var model: TrainModelOptions
    @OptionGroup(title: "Strategy") var strategy: TrainStrategyOptions
    @OptionGroup(title: "Optimisation") var optimisation: TrainOptimisationOptions
    @OptionGroup(title: "Augmentation") var augmentation: TrainAugmentationOptions
    @OptionGroup(title: "Output") var output: TrainOutputOptions
    @OptionGroup(title: "Performance") var performance: TrainPerformanceOptions

    var plugins: PluginOptions { model.plugins }

    func validate() throws {
        if let resume = output.resume {
            guard !output.overwrite else { throw ValidationError("--overwrite cannot be given with --resume \(resume): a resumed run continues its own files") }
        } else {
            let missing = [("--backbone", model.backbone), ("--data", dataOptions.data), ("--output", output.output)]
                .filter { $0.1 == nil }.map(\.0)
            guard missing.isEmpty else {
                throw ValidationError("\(missing.joined(separator: ", ")) \(missing.count == 1 ? "is" : "are") required "
                                      + "(with --backbone, --data and --output, or --resume OUTPUT)")
            }
        }
        do {
            let o = try options
            try o.validate()
            if output.resume == nil { try o.checkApplicable(given: Set(try given.map(\.flag))) }
        } catch let invalid as ClassWeights.Invalid {
            throw ValidationError(invalid.description)
        } catch let invalid as TrainingOptions.Invalid {
            throw ValidationError(invalid.description)
        } catch let inapplicable as TrainingOptions.Inapplicable {
            throw ValidationError(inapplicable.description)
        }
    }

    /// The training options given on the command line: each flag with what it sets. A flag left
    /// out is not here (its default comes from `TrainingOptions`), so `--resume` can tell them apart.
    var given: [(flag: String, apply: (inout TrainingOptions) -> Void)] {
        get throws {
            var list: [(flag: String, apply: (inout TrainingOptions) -> Void)] = []
            func add<T>(_ flag: String, _ value: T?, _ set: @escaping (inout TrainingOptions, T) -> Void) {
                if let value { list.append((flag, { set(&$0, value) })) }
            }
            let m = model, s = strategy, t = optimisation, a = augmentation, p = performance
            add("--backbone", m.backbone) { $0.backbone = $1 }
            add("--data", dataOptions.data) { $0.data = $1 }
            add("--weights", m.weights) { $0.weights = $1 }
            add("--output", output.output) { $0.output = $1 }
            add("--strategy", s.strategy) { $0.strategy = $1 }
            add("--epochs", s.epochs) { $0.epochs = $1 }
            add("--freeze-epochs", s.freezeEpochs) { $0.freezeEpochs = $1 }
            add("--lr", t.lr) { $1.apply(to: &$0) }
            add("--finetune-lr", t.finetuneLR) { $0.finetuneLR = $1 }
            add("--backbone-lr-mult", t.backboneLRMult) { $0.backboneLRMult = $1 }
            add("--unfreeze", s.unfreeze) { $0.unfreeze = $1 }
            add("--bn", s.bn) { $0.batchNorm = $1 }
            add("--optimizer", t.optimizer) { $0.optimizer = $1 }
            add("--weight-decay", t.weightDecay) { $0.weightDecay = $1 }
            add("--momentum", t.momentum) { $0.momentum = $1 }
            add("--nesterov", t.nesterov ? true : nil) { $0.nesterov = $1 }
            add("--schedule", t.schedule) { $0.schedule = $1.description }
            add("--warmup", t.warmup) { $0.warmupSteps = $1 }
            add("--head", m.head) { $0.head = $1.description }
            add("--dropout", m.dropout) { $0.dropout = $1 }
            add("--label-smoothing", t.labelSmoothing) { $0.labelSmoothing = $1 }
            add("--class-weights", try t.classWeights?.load()) { $0.classWeights = $1 }
            add("--clip-grad", t.clipGrad) { $0.clipGrad = $1 }
            add("--batch-size", t.batchSize) { $0.batchSize = $1 }
            add("--accumulate", t.accumulate) { $0.accumulate = $1 }
            add("--input-size", m.inputSize) { $0.inputSize = $1 }
            add("--val-split", dataOptions.valSplit) { $0.valSplit = $1 }
            add("--max-train-samples", dataOptions.maxTrainSamples) { $0.maxTrainSamples = $1 }
            add("--sampler", dataOptions.sampler) { $0.sampler = $1 }
            add("--patience", s.patience) { $0.patience = $1 }
            add("--best-metric", s.bestMetric) { $0.bestMetric = $1 }
            add("--seed", t.seed) { $0.seed = $1 }
            add("--log-every", output.logEvery) { $0.logEvery = $1 }
            add("--threads", p.threads) { $0.threads = $1; $0.workers = TrainingOptions.defaultWorkers(threads: $1) }
            add("--workers", p.workers) { $0.workers = $1 }
            add("--cache-features", s.cacheFeatures) { $0.cacheFeatures = $1 }
            add("--[no-]standardize-features", s.standardizeFeatures) { $0.standardizeCachedFeatures = $1 }
            add("--[no-]hflip", a.hflip) { $0.horizontalFlip = $1 }
            add("--vflip", a.vflip ? true : nil) { $0.verticalFlip = $1 }
            add("--rotation", a.rotation) { $0.rotation = $1 }
            add("--shear", a.shear) { $0.shear = $1 }
            add("--color-jitter", a.colorJitter) { $0.colorJitter = $1 }
            add("--auto-augment", a.autoAugment) { $0.autoAugment = $1 }
            add("--rand-augment-ops", a.randAugmentOps) { $0.randAugmentOps = $1 }
            add("--rand-augment-magnitude", a.randAugmentMagnitude) { $0.randAugmentMagnitude = $1 }
            add("--random-erasing", a.randomErasing) { $0.randomErasing = $1 }
            add("--crop-scale", a.cropScale) { $0.cropScale = $1 }
            add("--crop-ratio", a.cropRatio) { $0.cropRatio = $1 }
            add("--mixup", a.mixup) { $0.mixup.mixupAlpha = $1 }
            add("--cutmix", a.cutmix) { $0.mixup.cutmixAlpha = $1 }
            add("--ema", t.ema) { $0.ema = $1 }
            add("--max-image-pixels", dataOptions.image.maxImagePixels) { $0.maxImagePixels = $1 }
            return list
        }
    }

    /// The defaults with every option given applied (files that options name read and checked).
    var options: TrainingOptions {
        get throws {
            var o = trainDefaults
            for option in try given { option.apply(&o) }
            return o
        }
    }

    func run() throws {
        var opts = try options
        if let resume = output.resume { opts = try resumedOptions(folder: resume) }
        Interrupt.install()
        let progress = ProgressPrinter()
        let trainer: Trainer
        do {
            trainer = try Trainer(options: opts, catalog: plugins.catalog(), resume: output.resume != nil, overwrite: output.overwrite,
                                  commandLine: CommandLine.arguments,
                                  onEvent: progress.handle, shouldStop: { Interrupt.requested })
        } catch WeightsError.interrupted(let url, let partial) {  // Ctrl-C while --weights downloads
            progress.finishLine()
            printError(WeightsError.interrupted(url: url, partial: partial).description)
            throw ExitCode(Interrupt.exitStatus)
        }
        let outcome: Trainer.Outcome
        do { outcome = try trainer.run() } catch TrainingError.interrupted(let message) {  // Ctrl-C in --lr auto's range test
            progress.finishLine()
            printError(message)
            throw ExitCode(Interrupt.exitStatus)
        }
        switch outcome {
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
        for option in try given {
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
