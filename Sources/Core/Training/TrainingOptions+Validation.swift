/// The one set of rules a training configuration must satisfy, applied alike to the command
/// line and to the options read back from a run folder's state on `--resume`, so a tampered or
/// copied run folder cannot ask for what a flag could not.
extension TrainingOptions {
    /// Why options are not usable: the option, as the command line names it, and what it accepts.
    public typealias Invalid = InvalidOption

    /// Throws `Invalid` naming the first option outside its accepted range.
    public func validate() throws {
        func positiveFinite(_ x: Float) -> Bool { x.isFinite && x > 0 }
        try InvalidOption.check(epochs, in: 0...100_000, "--epochs")
        try InvalidOption.check(freezeEpochs, in: 0...100_000, "--freeze-epochs")
        try InvalidOption.check(epochs > 0 || (strategy == .twoStage && freezeEpochs > 0), "--epochs",
                                "at least 1 (or, for two-stage, --freeze-epochs at least 1)")
        try InvalidOption.check(positiveFinite(lr), "--lr", "a positive number")
        try InvalidOption.check(positiveFinite(finetuneLR), "--finetune-lr", "a positive number")
        try InvalidOption.check(backboneLRMult.map(positiveFinite) ?? true, "--backbone-lr-mult", "a positive number")
        try InvalidOption.check(unfreeze, in: 0...10_000, "--unfreeze")
        try InvalidOption.check(weightDecay.isFinite && weightDecay >= 0, "--weight-decay", "a number >= 0")
        try InvalidOption.check(momentum.isFinite && (0..<1).contains(momentum), "--momentum", "a number in [0, 1)")
        try InvalidOption.check(warmupSteps, in: 0...10_000_000, "--warmup")
        try InvalidOption.check(dropout.isFinite && (0..<1).contains(dropout), "--dropout", "a number in [0, 1)")
        try InvalidOption.check(clipGrad.map(positiveFinite) ?? true, "--clip-grad", "a positive number")
        try InvalidOption.check(labelSmoothing.isFinite && (0..<1).contains(labelSmoothing), "--label-smoothing", "a number in [0, 1)")
        try InvalidOption.check(classWeights?.problem == nil, "--class-weights",
                                "balanced or a file of `class weight` lines (\(classWeights?.problem ?? ""))")
        try InvalidOption.check(batchSize, in: OptionRange.batchSize, "--batch-size")
        try InvalidOption.check(accumulate, in: 1...4096, "--accumulate")
        try InvalidOption.check(inputSize, in: OptionRange.imageSide, "--input-size", unit: "pixels")
        try InvalidOption.check(valSplit.isFinite && valSplit > 0 && valSplit < 1, "--val-split", "a fraction between 0 and 1 (exclusive)")
        try InvalidOption.check(maxTrainSamples, in: 1...1_000_000_000, "--max-train-samples")
        try InvalidOption.check(patience, in: 1...100_000, "--patience")
        try InvalidOption.check(threads, in: OptionRange.threads, "--threads")
        try InvalidOption.check(workers, in: OptionRange.threads, "--workers")
        try InvalidOption.check(rotation.isFinite && (0...180).contains(rotation), "--rotation", "a number of degrees from 0 to 180")
        try InvalidOption.check(shear.isFinite && (0..<90).contains(shear), "--shear", "a number of degrees in [0, 90)")
        try InvalidOption.check(colorJitter.isFinite && (0...1).contains(colorJitter), "--color-jitter", "a number from 0 to 1")
        try InvalidOption.check(randAugmentOps, in: 1...10, "--rand-augment-ops")
        try InvalidOption.check(randAugmentMagnitude, in: 0...30, "--rand-augment-magnitude")
        try InvalidOption.check(randomErasing.isFinite && (0...1).contains(randomErasing), "--random-erasing",
                                "a probability from 0 to 1")
        try InvalidOption.check(cropScale.isOrdered(within: 0...1, openBelow: true), "--crop-scale",
                                "MIN,MAX with 0 < MIN <= MAX <= 1 (fractions of the image area), got \(cropScale)")
        try InvalidOption.check(cropRatio.isOrdered(within: 0.01...100, openBelow: false), "--crop-ratio",
                                "MIN,MAX with 0 < MIN <= MAX, both from 0.01 to 100 (width / height), got \(cropRatio)")
        try InvalidOption.check(mixup.mixupAlpha.isFinite && (0...100).contains(mixup.mixupAlpha), "--mixup", "an alpha from 0 (off) to 100")
        try InvalidOption.check(mixup.cutmixAlpha.isFinite && (0...100).contains(mixup.cutmixAlpha), "--cutmix", "an alpha from 0 (off) to 100")
        try InvalidOption.check((0...1).contains(mixup.probability) && (0...1).contains(mixup.switchProbability),
                                "the mixing probabilities", "fractions from 0 to 1")
        try InvalidOption.check(ema.map { $0.isFinite && $0 > 0 && $0 < 1 } ?? true, "--ema", "a decay between 0 and 1 (exclusive), e.g. 0.999")
        try InvalidOption.check(cacheFeatures.map { (0...1000).contains($0) } ?? true, "--cache-features",
                  "an integer from 0 (keep no features) to 1000 views")
        try InvalidOption.check((1...1_000_000).contains(logEvery), "the logging interval", "an integer from 1 to 1000000")
        try InvalidOption.check(ImageDecoder.maxPixelsRange.contains(maxImagePixels), "--max-image-pixels",
                                "an integer from 1 to \(Limits.maxImagePixels)")
        try automaticLR?.validate(lr: lr)
        do { _ = try HeadSpec(parsing: head, dropout: dropout) } catch {
            throw Invalid(option: "--head", accepted: "linear or mlp:W1,W2,... (\(error))")
        }
        do { _ = try LearningRateSchedule(parsing: schedule, warmupSteps: warmupSteps) } catch {
            let problem = (error as? ScheduleError)?.problem ?? "\(error)"
            throw Invalid(option: "--schedule", accepted: "\(LearningRateSchedule.syntax) (\(problem))")
        }
    }
}
