/// A classifier graph cut at its pooled features node into its two halves: the backbone (the
/// input up to the features) and the head (the features up to the logits). Feature caching runs
/// the backbone once per image and trains the head alone on what it produced.
///
/// Node names, tensor names and group indices are kept, so a model of either half takes its
/// weights from (and gives them back to) the whole graph's model by name.
extension Graph {
    /// The nodes up to and including the features node; its output is the features, (1, 1, F).
    public func backboneOnly() throws -> Graph {
        guard let features else { throw GraphError.noFeatures }
        var graph = Graph()
        graph.nodes = Array(nodes[...features])
        graph.groups = groups
        graph.features = features
        return graph
    }

    /// An input node of the features' shape, then every node after the features node (the head),
    /// renumbered; its output is the whole graph's output (the logits).
    public func headOnly() throws -> Graph {
        guard let features else { throw GraphError.noFeatures }
        var graph = Graph()
        graph.groups = groups
        graph.nodes = [Node(id: 0, name: "features", operation: .input, inputs: [],
                            outputShape: nodes[features].outputShape, group: nodes[features].group, tensors: [])]
        var newID = [features: 0]
        for node in nodes[(features + 1)...] {
            var copy = node
            copy.id = graph.nodes.count
            copy.inputs = try node.inputs.map { input in
                guard let id = newID[input] else {
                    throw GraphError.badInput(layer: node.name, reason: "reads \(nodes[input].name), which is neither the features nor a head layer")
                }
                return id
            }
            newID[node.id] = copy.id
            graph.nodes.append(copy)
        }
        graph.features = 0
        return graph
    }
}
