/// The one set of rules a training configuration must satisfy, applied alike to the command
/// line and to the options read back from a run folder's state on `--resume`, so a tampered or
/// copied run folder cannot ask for what a flag could not.
extension TrainingOptions {
    /// Why options are not usable: the option, as the command line names it, and what it accepts.
    public struct Invalid: Error, CustomStringConvertible, Equatable {
        public var option: String
        public var accepted: String
        public var description: String { "\(option) must be \(accepted)" }
    }

    /// Throws `Invalid` naming the first option outside its accepted range.
    public func validate() throws {
        func check(_ ok: Bool, _ option: String, _ accepted: String) throws {
            if !ok { throw Invalid(option: option, accepted: accepted) }
        }
        func positiveFinite(_ x: Float) -> Bool { x.isFinite && x > 0 }
        try check((0...100_000).contains(epochs), "--epochs", "an integer from 0 to 100000")
        try check((0...100_000).contains(freezeEpochs), "--freeze-epochs", "an integer from 0 to 100000")
        try check(epochs > 0 || (strategy == .twoStage && freezeEpochs > 0), "--epochs",
                  "at least 1 (or, for two-stage, --freeze-epochs at least 1)")
        try check(positiveFinite(lr), "--lr", "a positive number")
        try check(positiveFinite(finetuneLR), "--finetune-lr", "a positive number")
        try check(positiveFinite(backboneLRMultiplier), "--backbone-lr-mult", "a positive number")
        try check(unfreeze.map { (0...10_000).contains($0) } ?? true, "--unfreeze", "an integer from 0 to 10000")
        try check(weightDecay.isFinite && weightDecay >= 0, "--weight-decay", "a number >= 0")
        try check(momentum.isFinite && (0..<1).contains(momentum), "--momentum", "a number in [0, 1)")
        try check((0...10_000_000).contains(warmupSteps), "--warmup", "an integer from 0 to 10000000")
        try check(dropout.isFinite && (0..<1).contains(dropout), "--dropout", "a number in [0, 1)")
        try check(labelSmoothing.isFinite && (0..<1).contains(labelSmoothing), "--label-smoothing", "a number in [0, 1)")
        try check((1...Limits.batchSize).contains(batchSize), "--batch-size", "an integer from 1 to \(Limits.batchSize)")
        try check(inputSize.map { (16...Limits.imageSide).contains($0) } ?? true, "--input-size",
                  "an integer from 16 to \(Limits.imageSide) pixels")
        try check(valSplit.isFinite && valSplit > 0 && valSplit < 1, "--val-split", "a fraction between 0 and 1 (exclusive)")
        try check(patience.map { (1...100_000).contains($0) } ?? true, "--patience", "an integer from 1 to 100000")
        try check((1...256).contains(threads), "--threads", "an integer from 1 to 256")
        try check((1...256).contains(workers), "--workers", "an integer from 1 to 256")
        try check(rotation.isFinite && (0...180).contains(rotation), "--rotation", "a number of degrees from 0 to 180")
        try check(shear.isFinite && (0..<90).contains(shear), "--shear", "a number of degrees in [0, 90)")
        try check(colorJitter.isFinite && (0...1).contains(colorJitter), "--color-jitter", "a number from 0 to 1")
        try check(cacheFeatures.map { (1...1000).contains($0) } ?? true, "--cache-features",
                  "an integer from 1 to 1000 views (leave it out to run the whole network every step)")
        try check((1...1_000_000).contains(logEvery), "the logging interval", "an integer from 1 to 1000000")
        let spec: HeadSpec
        do { spec = try HeadSpec(parsing: head, dropout: dropout) } catch {
            throw Invalid(option: "--head", accepted: "linear or mlp:W1,W2,... (\(error))")
        }
        try check(spec.hidden.allSatisfy { $0 <= Limits.channels }, "--head", "linear or mlp:W1,W2,... with widths up to \(Limits.channels)")
        do { _ = try LearningRateSchedule(parsing: schedule, warmupSteps: warmupSteps) } catch {
            throw Invalid(option: "--schedule", accepted: "constant, cosine, step:EVERY:GAMMA or onecycle (\(error))")
        }
    }
}
