// ClassWeights: per-class weights of the training loss (`--class-weights balanced|FILE`).
//
// `balanced` weighs class c by n_samples / (n_classes * count_c), as scikit-learn's
// `compute_class_weight("balanced")` and the `class_weight` Keras users pass to `fit`. A file
// lists one `class weight` per line (the weight after the last run of white space, so class
// names may contain spaces; blank lines and lines starting with '#' are skipped). The loss with
// weights is PyTorch's `CrossEntropyLoss(weight=w)` (see `SoftmaxCrossEntropy`).
//
// The file is hostile input: a regular file of at most `Limits.classWeightsBytes`, each line
// UTF-8 without NUL or control characters, each class once, each weight a finite number in
// (0, `Limits.classWeight`]. Errors name the file and the line. The weights read are what the
// run state keeps, so `--resume` trains with them even if the file changes or goes away.

import Foundation

public enum ClassWeights: Codable, Equatable, Sendable {
    /// n_samples / (n_classes * count_c) over the training images.
    case balanced
    /// Weights by class name, as `file` listed them.
    case given(file: String, weights: [String: Float])

    /// Why a class-weights file or value cannot be used: the file (or option) and the problem.
    public struct Invalid: Error, CustomStringConvertible, Equatable {
        public var source: String
        public var line: Int?
        public var problem: String

        public var description: String { source + (line.map { ":\($0)" } ?? "") + ": " + problem }
    }

    /// Reads the file at `path` (see the file header for its format).
    public static func read(_ path: String) throws -> ClassWeights {
        let bytes: [UInt8]
        do { bytes = try RegularFile.bytes(path, limit: Limits.classWeightsBytes) } catch {
            throw Invalid(source: path, line: nil, problem: error.missing ? "no such file" : error.reason)
        }
        return .given(file: path, weights: try parse(bytes, source: path))
    }

    /// The weights of a file's bytes, each line checked; `source` names the file in errors.
    static func parse(_ bytes: [UInt8], source: String) throws -> [String: Float] {
        guard let text = String(validating: bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? bytes[3...] : bytes[...], as: UTF8.self) else {
            throw Invalid(source: source, line: nil, problem: "is not UTF-8 text")
        }
        var weights: [String: Float] = [:], lineOf: [String: Int] = [:]
        // "\r\n" is one Character in Swift: a file written on Windows splits at it too.
        for (index, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).enumerated() {
            let number = index + 1
            func fail(_ problem: String) -> Invalid { Invalid(source: source, line: number, problem: problem) }
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let cut = line.lastIndex(where: { $0 == " " || $0 == "\t" }) else {
                throw fail("expected `class weight`, got '\(line.prefix(80))'".terminalSafe)
            }
            let name = line[..<cut].trimmingCharacters(in: .whitespaces), value = line[line.index(after: cut)...]
            if let problem = problem(name: name) { throw fail(problem.terminalSafe) }
            guard let weight = Float(value), Self.problem(weight: weight) == nil else {
                throw fail("the weight of '\(name)' must be \(acceptedWeight), got '\(value.prefix(40))'".terminalSafe)
            }
            if let first = lineOf[name] { throw fail("'\(name)' is listed already on line \(first)".terminalSafe) }
            guard weights.count < Limits.classes else { throw fail("more than \(Limits.classes) classes") }
            weights[name] = weight
            lineOf[name] = number
        }
        guard !weights.isEmpty else { throw Invalid(source: source, line: nil, problem: "lists no class") }
        return weights
    }

    static let acceptedWeight = "a number above 0 and at most \(Limits.classWeight)"

    static func problem(weight: Float) -> String? {
        weight.isFinite && weight > 0 && weight <= Limits.classWeight ? nil : "must be \(acceptedWeight)"
    }

    static func problem(name: String) -> String? {
        if name.isEmpty { return "the class name is empty" }
        if name.utf8.count > Limits.nameBytes { return "the class name is over \(Limits.nameBytes) bytes" }
        if name.hasControlCharacters { return "the class name '\(name)' contains control characters" }
        return nil
    }

    /// The problem with a value read back from a run folder, as `read` would have refused it.
    var problem: String? {
        guard case .given(let file, let weights) = self else { return nil }
        if file.isEmpty || file.utf8.count > Limits.nameBytes * 4 { return "must name the file the weights came from" }
        if weights.isEmpty || weights.count > Limits.classes { return "must list 1 to \(Limits.classes) classes" }
        for (name, weight) in weights {
            if let problem = Self.problem(name: name) ?? Self.problem(weight: weight).map({ "the weight of '\(name)' \($0)" }) {
                return problem
            }
        }
        return nil
    }

    /// The weight of each of `classes` (in order), given each class's training images in `counts`.
    /// Throws `Invalid` when a file misses a class or lists one the images do not have, or when
    /// `balanced` meets a class without training images.
    public func weights(classes: [String], counts: [Int]) throws -> [Float] {
        precondition(classes.count == counts.count, "one count per class")
        switch self {
        case .balanced:
            if let empty = counts.firstIndex(of: 0) {
                throw Invalid(source: "--class-weights balanced", line: nil,
                              problem: "class '\(classes[empty])' has no training images, so it has no inverse frequency")
            }
            let total = Double(counts.reduce(0, +))
            return counts.map { Float(total / (Double(classes.count) * Double($0))) }
        case .given(let file, let weights):
            if let missing = classes.first(where: { weights[$0] == nil }) {
                throw Invalid(source: file, line: nil, problem: "gives no weight for class '\(missing)': list every class once")
            }
            if let unknown = weights.keys.sorted().first(where: { !classes.contains($0) }) {
                throw Invalid(source: file, line: nil, problem: "lists class '\(unknown)', which the training images do not have "
                              + "(their classes: \(classes.joined(separator: ", ")))")
            }
            return classes.map { weights[$0]! }
        }
    }

    /// How the report names the weights.
    public var summary: String {
        switch self {
        case .balanced: "balanced (n_samples / (n_classes × count))"
        case .given(let file, _): "from \(file)"
        }
    }
}
