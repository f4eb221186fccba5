import PluginABI

/// A backbone from what its plugin's descriptor claims, each claim checked against `Limits`.
extension Backbone {
    /// Checks every value of descriptor `index` of the plugin at `pluginPath` and builds its graph
    /// once, so a backbone that lists is one that trains: a name of letters, digits, '-', '_'
    /// and '.'; texts bounded and free of control characters; `in_features` at most
    /// `Limits.channels` and equal to the graph's feature width; sizes at most `Limits.imageSide`;
    /// mean finite and std finite and positive.
    /// ABI 1.1's fields (read as zero from an older plugin, `PluginLoader.readVersioned`): at most
    /// `Limits.weightSetsPerBackbone` weight sets, each checked (`WeightSet`), and a classifier key
    /// of letters, digits, '_' and '.'.
    init(descriptor b: ft_backbone_desc, index i: Int, pluginPath: String, pluginName: String, pluginVersion: String) throws {
        guard let namePointer = b.name, let build = b.build else {
            throw PluginError.invalid("backbone \(i) has no name or no build function")
        }
        let name = try PluginText.read(namePointer, what: "backbone \(i)'s name")
        guard PluginText.isPlainName(name, allowing: "-_.") else {
            throw PluginError.invalid("backbone name '\(name)' must be ASCII letters, digits, '-', '_' or '.'")
        }
        func bad(_ reason: String) -> PluginError { .invalid("backbone '\(name)': \(reason)") }
        guard (1...Limits.channels).contains(Int(b.in_features)) else {
            throw bad("in_features \(b.in_features) is not in 1...\(Limits.channels)")
        }
        guard (1...Limits.imageSide).contains(Int(b.input_size)), (Int(b.input_size)...Limits.imageSide).contains(Int(b.eval_resize)) else {
            throw bad("input_size \(b.input_size) and eval_resize \(b.eval_resize) must satisfy 1 <= input_size <= eval_resize <= \(Limits.imageSide)")
        }
        let mean = [b.mean.0, b.mean.1, b.mean.2], std = [b.std.0, b.std.1, b.std.2]
        guard mean.allSatisfy(\.isFinite), std.allSatisfy({ $0.isFinite && $0 > 0 }) else {
            throw bad("mean \(mean) must be finite and std \(std) finite and positive")
        }
        func text(_ p: UnsafePointer<CChar>?, _ what: String) throws -> String {
            do { return try p.map { try PluginText.read($0, what: what) } ?? "" } catch { throw bad("\(error)") }
        }
        self.init(name: name, summary: try text(b.summary, "summary"),
                  inFeatures: Int(b.in_features), inputSize: Int(b.input_size), evalResize: Int(b.eval_resize),
                  mean: mean, std: std, weightsHint: try text(b.weights_hint, "weights hint"),
                  pluginPath: pluginPath, pluginName: pluginName, pluginVersion: pluginVersion, build: build)
        guard (0...Limits.weightSetsPerBackbone).contains(Int(b.weight_set_count)), b.weight_set_count == 0 || b.weight_sets != nil else {
            throw bad("weight_set_count \(b.weight_set_count) is not in 0...\(Limits.weightSetsPerBackbone) or the list is missing")
        }
        weightSets = try (0..<Int(b.weight_set_count)).map { k in
            guard let p = b.weight_sets[k] else { throw bad("weight set \(k) is NULL") }
            return try WeightSet(p, index: k, backbone: name)
        }
        if let key = b.classifier_key {
            let k = try text(key, "classifier key")
            guard PluginText.isPlainName(k, allowing: "_.") else {
                throw bad("classifier key '\(k)' must be ASCII letters, digits, '_' or '.'")
            }
            classifierKey = k
        }
        let graph: Graph
        do { graph = try makeGraph() } catch {
            throw bad("failed to build: \(error)")
        }
        let built = graph.nodes[graph.features!].outputShape.channels
        guard built == inFeatures else {
            throw bad("declares in_features \(inFeatures) but its graph produces \(built) features")
        }
    }
}
