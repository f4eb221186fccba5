/// What "best" means for `best.safetensors` and for `--patience` (`--best-metric`): a
/// validation number, higher is better except for the loss.
///
/// Balanced accuracy and macro-F1 are scikit-learn's `balanced_accuracy_score` and
/// `f1_score(average="macro", zero_division=0)` (see `ConfusionMatrix`): where a class is 5% of
/// the images, plain accuracy can stay high while the model never finds it; these do not.
public enum BestMetric: String, Codable, CaseIterable, Sendable {
    case accuracy
    case balancedAccuracy = "balanced-accuracy"
    case macroF1 = "macro-f1"
    case valLoss = "val-loss"

    /// The metric's value for a validation pass.
    public func value(of eval: Evaluation) -> Double {
        switch self {
        case .accuracy: eval.accuracy
        case .balancedAccuracy: eval.confusion.balancedAccuracy
        case .macroF1: eval.confusion.macroF1
        case .valLoss: eval.loss
        }
    }

    /// Whether `value` beats `best` (nil: nothing to beat yet). A value that is not finite never does.
    public func improves(_ value: Double, on best: Double?) -> Bool {
        guard value.isFinite else { return false }
        guard let best else { return true }
        return self == .valLoss ? value < best : value > best
    }

    /// How messages and the report name it: "validation balanced accuracy".
    public var title: String {
        switch self {
        case .accuracy: "validation accuracy"
        case .balancedAccuracy: "validation balanced accuracy"
        case .macroF1: "validation macro-F1"
        case .valLoss: "validation loss"
        }
    }

    /// Whether a value read back from a run folder can be this metric's.
    func accepts(_ value: Double) -> Bool {
        value.isFinite && value >= 0 && (self == .valLoss || value <= 1)
    }
}
