import Foundation

/// What a model file may ask for. Its metadata comes from whoever wrote the file, so every value
/// is checked before anything is built from it: sizes within `Limits` (a crafted `input_size`
/// would otherwise size a graph and its buffers), normalisation that keeps pixels finite, class
/// names a terminal shows as they are, and head tensors that agree with the head and the classes.
extension ModelFile {
    /// Throws a `WeightsFileError` naming `file` and the metadata key at fault, or the tensor.
    public func validate(file: String) throws {
        func bad(_ key: String, _ reason: String) -> WeightsFileError {
            WeightsFileError(file: file, reason: "metadata key '\(key)' \(reason)")
        }
        try Self.checkName(backbone, file: file, key: "backbone")
        try Self.checkName(pluginVersion, file: file, key: "plugin_version")
        try Self.checkClassNames(classes, file: file, key: "classes")
        let spec: HeadSpec
        do { spec = try HeadSpec(parsing: head) } catch { throw bad("head", "is not usable: \(error)") }
        let sides = OptionRange.imageSide
        guard sides.contains(inputSize) else {
            throw bad("input_size", "is \(inputSize); a model's input is \(sides.lowerBound) to \(sides.upperBound) pixels square")
        }
        guard (inputSize...sides.upperBound).contains(evalResize) else {
            throw bad("eval_resize", "is \(evalResize); it must be from input_size (\(inputSize)) to \(sides.upperBound) pixels")
        }
        guard mean.count == 3, mean.allSatisfy({ $0.isFinite && abs($0) <= Limits.meanMagnitude }) else {
            throw bad("mean", "is \(Self.describe(mean)); it must be 3 numbers from -\(Limits.meanMagnitude) to \(Limits.meanMagnitude)")
        }
        guard std.count == 3, std.allSatisfy({ $0.isFinite && $0 >= Limits.smallestStd }) else {
            throw bad("std", "is \(Self.describe(std)); it must be 3 finite numbers of at least \(Limits.smallestStd) (pixels are divided by them)")
        }
        try checkHeadTensors(spec, file: file)
    }

    /// Throws unless `names` can name a classifier's outputs: 1 to `Limits.classes` of them, each
    /// not blank, at most `Limits.nameBytes` bytes of UTF-8, free of terminal controls (see
    /// `String.hasControlCharacters`), and no two alike.
    /// - Parameter key: the metadata key holding them, or nil for a file of names.
    public static func checkClassNames(_ names: [String], file: String, key: String? = nil) throws {
        let place = key.map { "metadata key '\($0)': " } ?? ""
        func bad(_ reason: String) -> WeightsFileError { WeightsFileError(file: file, reason: place + reason) }
        guard !names.isEmpty else { throw bad("no class names") }
        guard names.count <= Limits.classes else { throw bad("\(names.count) class names; a model has at most \(Limits.classes)") }
        var seen: [String: Int] = [:]
        for (i, name) in names.enumerated() {
            try checkName(name, file: file, what: place + "class name \(i + 1)")
            if let first = seen.updateValue(i, forKey: name) {
                throw bad("class name \(name.quotedForTerminal) appears twice (names \(first + 1) and \(i + 1))")
            }
        }
    }

    /// Throws unless `name` is not blank, at most `Limits.nameBytes` bytes, without terminal controls.
    static func checkName(_ name: String, file: String, key: String) throws {
        try checkName(name, file: file, what: "metadata key '\(key)'")
    }

    private static func checkName(_ name: String, file: String, what: String) throws {
        func bad(_ reason: String) -> WeightsFileError { WeightsFileError(file: file, reason: "\(what) \(reason)") }
        guard !name.allSatisfy(\.isWhitespace) else { throw bad("is blank") }
        guard name.utf8.count <= Limits.nameBytes else {
            throw bad("is \(name.utf8.count) bytes long; at most \(Limits.nameBytes) are allowed")
        }
        guard !name.hasControlCharacters else {
            throw bad("\(name.quotedForTerminal) holds a control character (a terminal escape sequence, a line break, ...)")
        }
    }

    /// Three numbers as a list, more or fewer as their count.
    private static func describe(_ values: [Float]) -> String {
        values.count == 3 ? "\(values)" : "\(values.count) numbers"
    }

    /// Each head layer's `.weight` and `.bias` present with the shape the head's widths and the
    /// class count give; the first layer's input width is the backbone's, checked against its
    /// graph by `graphAndWeights`.
    private func checkHeadTensors(_ spec: HeadSpec, file: String) throws {
        func bad(_ reason: String) -> WeightsFileError { WeightsFileError(file: file, reason: reason) }
        var inputs: Int?
        for (i, outputs) in (spec.hidden + [classes.count]).enumerated() {
            let layer = spec.hidden.isEmpty ? "head" : "head.\(i)"
            guard let weight = tensors.first(where: { $0.name == layer + ".weight" }),
                  let bias = tensors.first(where: { $0.name == layer + ".bias" }) else {
                throw bad("tensors \(layer).weight and \(layer).bias are missing")
            }
            guard weight.shape.count == 2, weight.shape[0] == outputs, bias.shape == [outputs] else {
                let needs = i == spec.hidden.count ? "there are \(classes.count) class names"
                    : "head \(head) makes layer \(i) \(outputs) wide"
                throw bad("\(layer).weight is \(weight.shape) and \(layer).bias \(bias.shape), but \(needs)")
            }
            let columns = weight.shape[1]
            guard inputs.map({ columns == $0 }) ?? (1...Limits.channels).contains(columns) else {
                throw bad("\(layer).weight is \(weight.shape), but its input is "
                          + (inputs.map { "\($0)" } ?? "1 to \(Limits.channels)") + " wide")
            }
            inputs = outputs
        }
    }
}
