import ArgumentParser
import FineTuneCore
import Foundation

struct LRFind: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lr-find",
        abstract: "Find a learning rate: Leslie Smith's range test, as fastai's lr_find runs it.",
        discussion: """
        Trains the first stage of the run that `train` would start with the same options (for \
        two-stage and freeze the head on the frozen backbone; for full and discriminative the \
        whole network, the backbone at --backbone-lr-mult times the rate) for --steps steps, the \
        rate growing exponentially from --start-lr to --end-lr, going on into further epochs when \
        one has fewer batches. The loss is smoothed as fastai's (an exponential average, \
        beta 0.98, debiased); the sweep stops early once it exceeds 4 times its lowest. Then the \
        weights and batch-norm statistics are put back: nothing is saved but the plot.

        Prints fastai's suggestions, computed on the curve without its first tenth and its last \
        5 points: valley (the middle of the longest stretch of falling loss; what \
        `train --lr auto` takes), steep (the steepest fall against log(rate)) and minimum (a \
        tenth of the rate at the lowest loss). Draws the curve in the terminal and as an SVG \
        file (--plot).

        Takes train's options except those of a run's length, output and rates (--epochs, \
        --output, --resume, --patience, ...); --lr, --finetune-lr, --schedule and --warmup show \
        below among the optimisation options shared with train, and are refused. --backbone and \
        --data are required.
        """)

    @OptionGroup(title: "Data") var dataOptions: TrainDataOptions
    @OptionGroup(title: "Model") var model: TrainModelOptions
    @OptionGroup(title: "Strategy") var strategy: LRFindStrategyOptions
    @OptionGroup(title: "Optimisation") var optimisation: TrainOptimisationOptions
    @OptionGroup(title: "Augmentation") var augmentation: TrainAugmentationOptions
    @OptionGroup(title: "Sweep") var sweep: LRFindSweepOptions
    @OptionGroup(title: "Performance") var performance: TrainPerformanceOptions

    var plugins: PluginOptions { model.plugins }

    /// train's options that a sweep has no use for (the rest of the reused option groups apply).
    static let refused = ["--lr", "--finetune-lr", "--schedule", "--warmup"]

    func validate() throws {
        let missing = [("--backbone", model.backbone), ("--data", dataOptions.data)].filter { $0.1 == nil }.map(\.0)
        guard missing.isEmpty else {
            throw ValidationError("\(missing.joined(separator: " and ")) \(missing.count == 1 ? "is" : "are") required")
        }
        let train = try self.train
        let given = Set(try train.given.map(\.flag))
        if let flag = Self.refused.first(where: given.contains) {
            throw ValidationError("\(flag) does not apply to lr-find: the sweep sets the rate (--start-lr to --end-lr over --steps)")
        }
        do {
            let o = try train.options
            try o.validate()
            try o.checkApplicable(given: given)
            try sweep.value.validate()
        } catch let invalid as ClassWeights.Invalid {
            throw ValidationError(invalid.description)
        } catch let invalid as TrainingOptions.Invalid {
            throw ValidationError(invalid.description)
        } catch let inapplicable as TrainingOptions.Inapplicable {
            throw ValidationError(inapplicable.description)
        }
    }

    /// `train` with these options, whose `given` and `options` assemble the run's options as
    /// they would for `train` (so every training option means the same in both).
    var train: Train {
        get throws {
            var t = Train()
            t.dataOptions = dataOptions
            t.model = model
            t.strategy = try TrainStrategyOptions.parse(strategy.trainArguments)
            t.optimisation = optimisation
            t.augmentation = augmentation
            // The trainer needs an output folder by name; the sweep never prepares or writes it.
            t.output = try TrainOutputOptions.parse(["--output", "."])
            t.performance = performance
            return t
        }
    }

    func run() throws {
        let options = try train.options
        Interrupt.install()
        let progress = ProgressPrinter()
        let finder: LearningRateFinder
        let backbone: String
        do {
            // overwrite: the folder named is never prepared, so no run in it is touched.
            let trainer = try Trainer(options: options, catalog: plugins.catalog(), overwrite: true, commandLine: CommandLine.arguments,
                                      onEvent: progress.handle, shouldStop: { Interrupt.requested })
            backbone = trainer.backbone.name
            finder = try trainer.findLearningRate(sweep.value)
        } catch WeightsError.interrupted(let url, let partial) {  // Ctrl-C while --weights downloads
            progress.finishLine()
            printError(WeightsError.interrupted(url: url, partial: partial).description)
            throw ExitCode(Interrupt.exitStatus)
        }
        progress.finishLine()
        print(Self.ending(finder))
        let plot = LearningRateFinderPlot(finder, title: "lr-find: \(backbone) on \(URL(fileURLWithPath: options.data).lastPathComponent)")
        let columns = min(ProgressPrinter.terminalColumns(of: STDOUT_FILENO), 80) - 1
        print("\n" + plot.text(columns: columns) + "\n")
        let suggestions = finder.suggestions
        if !suggestions.isEmpty {
            print("suggested learning rates:")
            for s in suggestions {
                let note = switch s.method {
                case .valley: "the middle of the longest fall; train --lr auto takes it"
                case .steep: "the steepest fall"
                case .minimum: "the lowest loss was at \(Self.rate(s.marked.learningRate)); a tenth of it"
                }
                print("  " + s.method.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0)
                      + Self.rate(s.learningRate).padding(toLength: 11, withPad: " ", startingAt: 0) + note)
            }
        }
        try AtomicFile.write(Data(plot.svg().utf8), to: URL(fileURLWithPath: sweep.plot))
        print("plot: \(sweep.plot)")
        if finder.stop == .interrupted { throw ExitCode(Interrupt.exitStatus) }
        if suggestions.isEmpty {
            throw TrainingError.diverged("too few points for a suggestion: the loss diverged after \(finder.points.count) steps; "
                                         + "lower --start-lr (now \(sweep.value.startLR)) or raise --steps")
        }
    }

    /// How the sweep ended, in a line.
    static func ending(_ finder: LearningRateFinder) -> String {
        let n = finder.points.count, last = finder.points.last.map { rate($0.learningRate) } ?? "-"
        switch finder.stop {
        case .completed?: return "lr-find: all \(n) steps taken, up to rate \(last)"
        case .diverged?: return "lr-find: stopped after \(n) steps at rate \(last): the smoothed loss passed 4 times its lowest"
        case .notANumber?: return "lr-find: stopped after \(n) steps at rate \(last): the loss was not a number"
        case .interrupted?, nil: return "lr-find: interrupted after \(n) steps"
        }
    }

    static func rate(_ x: Double) -> String { String(format: "%.3g", x) }
}

/// What trains in the sweep: train's strategy options but the epochs of a run.
struct LRFindStrategyOptions: ParsableArguments {
    @Option(help: "What trains in the run whose first stage is swept (see `finetune train --help`) (default: \(trainDefaults.strategy.rawValue)).")
    var strategy: TrainingOptions.Strategy?
    @Option(help: "Train only the last N backbone layer groups (and the head) when the backbone trains.") var unfreeze: Int?
    @Option(help: "Batch norm where backbone layers train: frozen or train (default: frozen with --weights, train from random initialisation).")
    var bn: BatchNormMode?

    /// These options as train's command line spells them.
    var trainArguments: [String] {
        (strategy.map { ["--strategy", $0.rawValue] } ?? []) + (unfreeze.map { ["--unfreeze", "\($0)"] } ?? [])
            + (bn.map { ["--bn", $0.rawValue] } ?? [])
    }
}

/// The sweep's range and length, and where its plot goes.
struct LRFindSweepOptions: ParsableArguments {
    private static let d = LearningRateFinder.Sweep()
    @Option(help: "The first step's learning rate.") var startLR: Double = d.startLR
    @Option(help: "The rate the sweep grows towards, reached after --steps steps.") var endLR: Double = d.endLR
    @Option(help: "Steps of the sweep, at most; it stops early when the loss diverges.") var steps: Int = d.steps
    @Option(help: ArgumentHelp("The SVG file the curve is drawn in (replaced if it exists).", valueName: "FILE")) var plot = "lr-find.svg"

    var value: LearningRateFinder.Sweep { LearningRateFinder.Sweep(startLR: startLR, endLR: endLR, steps: steps) }
}
