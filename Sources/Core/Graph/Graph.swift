/// A network as a list of nodes in topological order, built by a backbone plugin (plus an
/// optional head attached by the host). Activations are NHWC Float32; shapes exclude the batch.
public struct Graph: Sendable {
    public internal(set) var nodes: [Node] = []
    /// Layer group names in the order the plugin began them; nodes refer to them by index.
    public internal(set) var groups: [String] = []
    /// The pooled feature node the head attaches to, (1,1,in_features).
    public internal(set) var features: Int?
    /// The node whose output is the network's output (the head's logits, or the features).
    public var output: Int { nodes.count - 1 }

    public init() {}

    public var parameterCount: Int { nodes.reduce(0) { $0 + $1.parameterCount } }

    /// Every tensor of every node, in graph order.
    public var tensors: [TensorSpec] { nodes.flatMap(\.tensors) }

    /// Parameters of the nodes in one group.
    public func parameterCount(group: Int) -> Int {
        nodes.filter { $0.group == group }.reduce(0) { $0 + $1.parameterCount }
    }
}

/// Why a graph could not be built.
public enum GraphError: Error, Equatable, CustomStringConvertible {
    case badInput(layer: String, reason: String)
    case noFeatures
    case plugin(String)

    public var description: String {
        switch self {
        case .badInput(let layer, let reason): return "layer '\(layer)': \(reason)"
        case .noFeatures: return "the backbone never called set_features"
        case .plugin(let message): return message
        }
    }
}
