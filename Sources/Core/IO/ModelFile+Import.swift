import Foundation

extension ModelFile {
    /// A model file from a whole pretrained checkpoint, whose classifier (`fc.*`,
    /// `classifier.1.*`) becomes the head, so the pretrained classifier itself can predict.
    /// - Parameters:
    ///   - weights: a torchvision state_dict of `backbone` with its classifier.
    ///   - classNames: one name per classifier output; nil gives `class0`, `class1`, ...
    public static func importing(_ weights: StateDict, backbone: Backbone, classNames: [String]?) throws -> ModelFile {
        guard let classifier = weights.originalClassifier(key: backbone.classifierKey) else {
            let expected = backbone.classifierKey.map { "no \($0).weight, the classifier \(backbone.name) checkpoints have" } ?? "no fc.weight or classifier.N.weight"
            throw WeightsFileError(file: weights.file, reason: "no classifier in the file (\(expected)); it holds a backbone only",
                                   hint: "import needs a whole-model checkpoint; to fine-tune, pass this file to train --weights")
        }
        guard (1...Limits.classes).contains(classifier.classes) else {
            throw WeightsFileError(file: weights.file, reason: "its classifier '\(classifier.weightKey)' has \(classifier.classes) outputs; a model has 1 to \(Limits.classes) classes")
        }
        let names = classNames ?? (0..<classifier.classes).map { "class\($0)" }
        guard names.count == classifier.classes else {
            throw WeightsFileError(file: weights.file, reason: "its classifier '\(classifier.weightKey)' has \(classifier.classes) outputs, but \(names.count) class names were given",
                                   hint: "give one class name per line, in the classifier's output order")
        }
        let graph = try backbone.makeClassifier(classes: classifier.classes)
        let tensors = try weights.matchedTensors(to: graph, classifier: .keepAsHead, classifierKey: backbone.classifierKey)
        let provenance = Provenance(command: "import", source: URL(fileURLWithPath: weights.file).lastPathComponent,
                                    created: ISO8601DateFormatter().string(from: Date()))
        return ModelFile(backbone: backbone, classes: names, provenance: provenance, tensors: tensors)
    }

    /// Class names, one per line (surrounding spaces and blank lines ignored), checked as a model
    /// file's are (`checkClassNames`): duplicates and terminal controls are errors.
    public static func readClassNames(contentsOf url: URL) throws -> [String] {
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw WeightsFileError(file: url.path, reason: "cannot read the class names: \(error.localizedDescription)")
        }
        let names = text.split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !names.isEmpty else { throw WeightsFileError(file: url.path, reason: "no class names (expected one per line)") }
        try checkClassNames(names, file: url.path)
        return names
    }
}
