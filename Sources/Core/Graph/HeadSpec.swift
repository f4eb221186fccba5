/// The classifier head attached to a backbone's pooled features.
///
/// - `linear`: features -> N classes (`head.weight` (N, F), `head.bias` (N)).
/// - `mlp:128,64`: features -> Dense 128 + ReLU + Dropout -> Dense 64 + ReLU + Dropout -> Dense N,
///   with layers `head.0`, `head.1`, `head.2` (the recipes' Keras head; dropout after each hidden layer).
public struct HeadSpec: Equatable, Sendable, CustomStringConvertible {
    /// Widths of the hidden layers; empty for a linear head.
    public var hidden: [Int]
    /// Dropout probability after each hidden layer (MLP heads only).
    public var dropout: Float

    public static let linear = HeadSpec(hidden: [], dropout: 0)

    public init(hidden: [Int], dropout: Float = 0) {
        self.hidden = hidden
        self.dropout = dropout
    }

    /// Parses `linear` or `mlp:W1,W2,...`.
    public init(parsing text: String, dropout: Float = 0) throws {
        if text == "linear" {
            self = .linear
            return
        }
        let parts = text.split(separator: ":", maxSplits: 1)
        let widths = parts.count == 2 ? parts[1].split(separator: ",").map { Int($0) } : []
        guard parts.first == "mlp", !widths.isEmpty, widths.allSatisfy({ ($0 ?? 0) > 0 }) else {
            throw GraphError.plugin("head '\(text)' is not 'linear' or 'mlp:W1,W2,...' (e.g. mlp:128,64)")
        }
        guard dropout >= 0, dropout < 1 else { throw GraphError.plugin("dropout \(dropout) is not in [0, 1)") }
        self.init(hidden: widths.map { $0! }, dropout: dropout)
    }

    /// `linear` or `mlp:128,64`: the form `init(parsing:)` reads and model files store.
    public var description: String {
        hidden.isEmpty ? "linear" : "mlp:" + hidden.map(String.init).joined(separator: ",")
    }
}

extension Graph {
    /// Appends `head` for `classes` outputs on the features, in its own group "head".
    public mutating func attachHead(_ head: HeadSpec, classes: Int) throws {
        guard let features else { throw GraphError.noFeatures }
        let f = nodes[features].outputShape
        guard f.height == 1, f.width == 1 else {
            throw GraphError.badInput(layer: "head", reason: "features are \(f), expected 1x1xC")
        }
        groups.append("head")
        let group = groups.count - 1
        var x = features
        func add(_ name: String, _ op: Operation, channels: Int, tensors: [TensorSpec] = []) {
            nodes.append(Node(id: nodes.count, name: name, operation: op, inputs: [x],
                              outputShape: FeatureShape(height: 1, width: 1, channels: channels),
                              group: group, tensors: tensors))
            x = nodes.count - 1
        }
        func linear(_ name: String, from inputs: Int, to outputs: Int) {
            add(name, .linear(outFeatures: outputs, bias: true), channels: outputs, tensors: [
                TensorSpec(name: name + ".weight", shape: [outputs, inputs], kind: .parameter),
                TensorSpec(name: name + ".bias", shape: [outputs], kind: .parameter),
            ])
        }
        if head.hidden.isEmpty {
            linear("head", from: f.channels, to: classes)
            return
        }
        var width = f.channels
        for (i, hidden) in head.hidden.enumerated() {
            linear("head.\(i)", from: width, to: hidden)
            add("head.relu\(i)", .activation(.relu), channels: hidden)
            if head.dropout > 0 { add("head.dropout\(i)", .dropout(p: head.dropout), channels: hidden) }
            width = hidden
        }
        linear("head.\(head.hidden.count)", from: width, to: classes)
    }

    /// Appends a linear classifier head (`head.weight` (N, F), `head.bias` (N)) on the features.
    public mutating func attachLinearHead(classes: Int) throws {
        try attachHead(.linear, classes: classes)
    }
}
