/// What to do with the classifier a pretrained checkpoint carries (torchvision's `fc.*`,
/// `classifier.1.*`; `head.*` in a finetune model file).
public enum ClassifierPolicy: Sendable {
    /// Fine-tuning: the file's classifier is ignored; the graph's `head.*` (if any) starts fresh
    /// and is not looked up in the file.
    case drop
    /// Import: the file's classifier becomes the graph's `head.weight` / `head.bias`, which must
    /// be present in the graph with matching shapes.
    case keepAsHead
    /// A finetune model file: every graph tensor, `head.*` included, under its own name.
    case exact
}

/// The linear classifier found in a checkpoint.
public struct OriginalClassifier: Equatable, Sendable {
    /// e.g. `fc.weight`, `classifier.1.weight`.
    public var weightKey: String
    public var biasKey: String?
    public var classes: Int
    public var features: Int
}

extension StateDict {
    /// Key prefixes under which checkpoints keep their classifier.
    static let classifierPrefixes = ["fc.", "classifier.", "head."]

    /// The last 2-D `weight` under a classifier prefix (`fc.weight`, `classifier.1.weight`,
    /// `head.weight`), with its bias; nil for a backbone-only file.
    public var originalClassifier: OriginalClassifier? { originalClassifier(key: nil) }

    /// With the `key` a backbone declares (`classifier.3`), exactly `<key>.weight` when it is 2-D
    /// (else nil); without, `originalClassifier`'s guess. A model file's own head is `head`.
    public func originalClassifier(key: String?) -> OriginalClassifier? {
        let w: NamedTensor?
        if let key, self["head.weight"] == nil {
            w = self[key + ".weight"].flatMap { $0.shape.count == 2 ? $0 : nil }
        } else {
            w = tensors.last(where: { t in
                t.shape.count == 2 && t.name.hasSuffix(".weight") && Self.classifierPrefixes.contains { t.name.hasPrefix($0) }
            })
        }
        guard let w else { return nil }
        let biasKey = String(w.name.dropLast("weight".count)) + "bias"
        return OriginalClassifier(weightKey: w.name, biasKey: self[biasKey] == nil ? nil : biasKey,
                                  classes: w.shape[0], features: w.shape[1])
    }

    /// Checks every key against `graph` and returns its tensors by the graph's names.
    ///
    /// Every backbone tensor of the graph must be in the file with the graph's shape (a
    /// missing `num_batches_tracked`, absent from old checkpoints, is taken as 0). Every key of
    /// the file must be used, except the original classifier under `.drop`. Errors name the
    /// keys, and hint at the architecture when the file looks like another one.
    /// - Returns: graph tensor name -> tensor (named as in the graph), without `head.*` under `.drop`.
    /// - Parameter classifierKey: the checkpoint's classifier prefix the backbone declares
    ///   (`Backbone.classifierKey`): then only `<key>.*` is the classifier, not any key under the
    ///   usual prefixes.
    public func matched(to graph: Graph, classifier policy: ClassifierPolicy, classifierKey: String? = nil) throws -> [String: NamedTensor] {
        let headSpecs = graph.tensors.filter { $0.name.hasPrefix("head.") }
        let backboneSpecs = graph.tensors.filter { !$0.name.hasPrefix("head.") }
        let backboneNames = Set(backboneSpecs.map(\.name))
        let prefixes = classifierKey.map { [$0 + ".", "head."] } ?? Self.classifierPrefixes
        let classifierKeys = Set(names.filter { n in
            !backboneNames.contains(n) && prefixes.contains { n.hasPrefix($0) }
        })

        var result: [String: NamedTensor] = [:]
        var missing: [String] = [], wrongShape: [String] = []
        func take(_ key: String, as spec: TensorSpec) {
            guard var t = self[key] else { missing.append(key); return }
            let scalarLike = t.count == 1 && spec.count == 1 && (t.shape.isEmpty || spec.shape.isEmpty)
            guard t.shape == spec.shape || scalarLike else {
                let target = key == spec.name ? "" : " as \(spec.name)"
                wrongShape.append("'\(key)' is \(t.shape), the backbone needs \(spec.shape)\(target)")
                return
            }
            t.name = spec.name
            t.shape = spec.shape
            result[spec.name] = t
        }
        for spec in backboneSpecs {
            if self[spec.name] == nil, spec.name.hasSuffix(".num_batches_tracked") {
                result[spec.name] = NamedTensor(zeros: spec.name, shape: spec.shape)
            } else {
                take(spec.name, as: spec)
            }
        }
        var used = backboneNames
        switch policy {
        case .drop:
            used.formUnion(classifierKeys)
        case .exact:
            for spec in headSpecs { take(spec.name, as: spec) }
            used.formUnion(headSpecs.map(\.name))
        case .keepAsHead:
            guard let c = originalClassifier(key: classifierKey), let w = headSpecs.first(where: { $0.name == "head.weight" }) else {
                throw WeightsFileError(file: file, reason: headSpecs.isEmpty
                    ? "the graph has no head to take the file's classifier"
                    : "no classifier in the file (expected \(classifierKey.map { "\($0).weight" } ?? "fc.weight or classifier.1.weight")); it holds a backbone only",
                    hint: "import needs a whole-model checkpoint; to fine-tune, pass this file to train --weights")
            }
            take(c.weightKey, as: w)
            used.insert(c.weightKey)
            if let b = headSpecs.first(where: { $0.name == "head.bias" }) {
                if let biasKey = c.biasKey {
                    take(biasKey, as: b)
                    used.insert(biasKey)
                } else {
                    missing.append(String(c.weightKey.dropLast("weight".count)) + "bias")
                }
            }
        }
        let surplus = names.filter { !used.contains($0) }
        guard missing.isEmpty, surplus.isEmpty, wrongShape.isEmpty else {
            throw mismatch(graph: graph, missing: missing, surplus: surplus, wrongShape: wrongShape)
        }
        return result
    }

    /// The error for keys that do not fit, naming the first few of each kind.
    private func mismatch(graph: Graph, missing: [String], surplus: [String], wrongShape: [String]) -> WeightsFileError {
        func list(_ keys: [String], _ what: String) -> String? {
            guard !keys.isEmpty else { return nil }
            let shown = keys.prefix(4).map { $0.hasPrefix("'") ? $0 : "'\($0)'" }.joined(separator: ", ")
            return "\(keys.count) \(what): \(shown)\(keys.count > 4 ? ", ..." : "")"
        }
        let parts = [list(missing, "missing from the file"), list(surplus, "not in the graph"),
                     list(wrongShape, "with the wrong shape")].compactMap { $0 }
        var hint = architectureHint(graph: graph, missing: missing)
        if hint == nil, missing.isEmpty, surplus.isEmpty {
            hint = "the layer names match but sizes differ: the weights are for another variant or width of this architecture"
        }
        return WeightsFileError(file: file, reason: "the weights do not fit the backbone: " + parts.joined(separator: "; "),
                                hint: hint)
    }

    /// A hint when the keys suggest another architecture or a wrapping prefix.
    private func architectureHint(graph: Graph, missing: [String]) -> String? {
        let expected = graph.tensors.map(\.name).filter { !$0.hasPrefix("head.") }
        let ours = Self.architecture(of: names), theirs = Self.architecture(of: expected)
        if let ours, ours.family != theirs?.family {
            return "this looks like a \(ours.family) checkpoint (keys \(ours.keys)), but the backbone expects "
                + (theirs.map { "\($0.family) keys (\($0.keys))" } ?? "keys like '\(expected.first ?? "")'")
                + "; pick the --backbone these weights were trained for"
        }
        // Keys wrapped under one extra prefix, e.g. `backbone.conv1.weight`.
        if let first = names.first, let dot = first.firstIndex(of: ".") {
            let prefix = String(first[...dot])
            if names.allSatisfy({ $0.hasPrefix(prefix) }), missing.contains(where: { self[prefix + $0] != nil }) {
                return "every key starts with '\(prefix)'; save the inner module's state_dict instead"
            }
        }
        return nil
    }

    /// A coarse guess at the network family from characteristic keys.
    static func architecture(of keys: [String]) -> (family: String, keys: String)? {
        func has(_ test: (String) -> Bool) -> Bool { keys.contains(where: test) }
        if has({ $0.hasPrefix("layer1.") }) { return ("ResNet", "layer1.*, fc.*") }
        if has({ $0.hasPrefix("features.") && $0.contains(".block.") }) { return ("EfficientNet", "features.N.M.block.*") }
        if has({ $0.hasPrefix("features.") && $0.contains(".conv.") }) { return ("MobileNetV2", "features.N.conv.*") }
        if has({ $0.hasPrefix("conv_stem.") }) && has({ $0.hasPrefix("blocks.") }) { return ("timm", "conv_stem.*, blocks.*") }
        if has({ $0.hasPrefix("encoder.layers.") }) { return ("Vision Transformer", "encoder.layers.*") }
        return nil
    }
}

extension StateDict {
    /// `matched(to:classifier:)` as a list in the graph's tensor order (the order model files use).
    public func matchedTensors(to graph: Graph, classifier policy: ClassifierPolicy, classifierKey: String? = nil) throws -> [NamedTensor] {
        let byName = try matched(to: graph, classifier: policy, classifierKey: classifierKey)
        return graph.tensors.compactMap { byName[$0.name] }
    }
}
