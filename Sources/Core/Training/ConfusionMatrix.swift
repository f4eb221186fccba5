import Foundation

/// Counts of (true class, predicted class) pairs, with per-class precision, recall and F1.
public struct ConfusionMatrix: Codable, Equatable, Sendable {
    public var classes: [String]
    /// counts[truth][prediction]
    public var counts: [[Int]]

    public init(classes: [String]) {
        self.classes = classes
        counts = Array(repeating: Array(repeating: 0, count: classes.count), count: classes.count)
    }

    public mutating func add(truth: Int, prediction: Int) {
        counts[truth][prediction] += 1
    }

    public var total: Int { counts.reduce(0) { $0 + $1.reduce(0, +) } }
    public var correct: Int { classes.indices.reduce(0) { $0 + counts[$1][$1] } }
    public var accuracy: Double { total == 0 ? 0 : Double(correct) / Double(total) }

    /// Of the samples predicted as class c, the fraction that are c (0 when none are predicted).
    public func precision(_ c: Int) -> Double {
        let predicted = classes.indices.reduce(0) { $0 + counts[$1][c] }
        return predicted == 0 ? 0 : Double(counts[c][c]) / Double(predicted)
    }

    /// Of the samples of class c, the fraction predicted as c (0 when there are none).
    public func recall(_ c: Int) -> Double {
        let actual = counts[c].reduce(0, +)
        return actual == 0 ? 0 : Double(counts[c][c]) / Double(actual)
    }

    public func f1(_ c: Int) -> Double {
        let p = precision(c), r = recall(c)
        return p + r == 0 ? 0 : 2 * p * r / (p + r)
    }

    /// The mean recall over the classes that have samples, as scikit-learn's
    /// `balanced_accuracy_score` (0 without samples).
    public var balancedAccuracy: Double {
        let present = classes.indices.filter { support($0) > 0 }
        return present.isEmpty ? 0 : present.reduce(0) { $0 + recall($1) } / Double(present.count)
    }

    /// The mean F1 over the classes that have samples or predictions, as scikit-learn's
    /// `f1_score(average="macro", zero_division=0)`, which averages over the labels present in
    /// either: a class never predicted counts with F1 0, one neither present nor predicted not at all.
    public var macroF1: Double {
        let present = classes.indices.filter { c in support(c) > 0 || classes.indices.contains { counts[$0][c] > 0 } }
        return present.isEmpty ? 0 : present.reduce(0) { $0 + f1($1) } / Double(present.count)
    }

    /// The samples of class c.
    public func support(_ c: Int) -> Int { counts[c].reduce(0, +) }

    /// Per-class precision, recall, F1 and support, then the matrix, as aligned text.
    public func table() -> String {
        let width = max(5, classes.map(\.count).max() ?? 0)
        func pad(_ s: String, _ w: Int) -> String { String(repeating: " ", count: max(0, w - s.count)) + s }
        func fmt(_ x: Double) -> String { String(format: "%.4f", x) }
        var lines = [pad("class", width) + "  precision  recall      f1  support"]
        for (c, name) in classes.enumerated() {
            lines.append(pad(name, width) + "  " + pad(fmt(precision(c)), 9) + "  " + pad(fmt(recall(c)), 6)
                         + "  " + pad(fmt(f1(c)), 6) + "  " + pad(String(counts[c].reduce(0, +)), 7))
        }
        lines.append("")
        lines.append("confusion matrix (rows: true class, columns: predicted)")
        let cell = max(5, counts.flatMap { $0 }.map { String($0).count }.max() ?? 0)
        let labels = classes.enumerated().map { "[\($0.offset)] \($0.element)" }
        let labelWidth = labels.map(\.count).max() ?? 0
        lines.append(pad("", labelWidth) + classes.indices.map { pad("[\($0)]", cell + 1) }.joined())
        for (c, label) in labels.enumerated() {
            lines.append(label + String(repeating: " ", count: labelWidth - label.count) + counts[c].map { pad(String($0), cell + 1) }.joined())
        }
        return lines.joined(separator: "\n")
    }
}
