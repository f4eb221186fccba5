/// `train --lr auto`: the head's rate (`TrainingOptions.lr`) is chosen by the learning-rate
/// range test (`LearningRateFinder`) on the run's first stage, before its first step.
///
/// The suggestion taken is fastai's `valley`, its default since fastai 2.5: the middle of the
/// longest stretch over which the smoothed loss keeps falling. It depends on the curve's overall
/// shape rather than on one point of it: `steep` takes the single largest slope of a noisy
/// curve, and `minimum` the last rate before the loss turns up, divided by 10 by convention.
///
/// Once found, the rate is kept here and in `lr`, which the run's state saves, so `--resume`
/// trains on at it without searching again.
public struct AutomaticLearningRate: Codable, Equatable, Sendable, CustomStringConvertible {
    /// The suggestion taken from the range test.
    public var method: LearningRateFinder.Method = .valley
    /// The sweep the test runs.
    public var sweep = LearningRateFinder.Sweep()
    /// The rate found; nil until the test has run.
    public var found: Float?

    public init() {}

    /// As a message about `--lr` shows it: "auto (found 0.0012)".
    public var description: String { "auto" + (found.map { " (found \($0))" } ?? "") }

    /// Throws `InvalidOption` when a value (read back from a run folder) is out of range: the
    /// sweep as `lr-find`'s options, the rate found as `--lr`, and `lr` equal to it.
    func validate(lr: Float) throws {
        try sweep.validate()
        if let found {
            try InvalidOption.check(found.isFinite && found > 0, "--lr auto", "a positive rate found by the range test")
            try InvalidOption.check(found == lr, "--lr auto", "the rate found (\(found)) as --lr (\(lr))")
        }
    }
}
