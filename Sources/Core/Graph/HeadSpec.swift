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

    /// Parses `linear` or `mlp:W1,W2,...`: at most `Limits.headLayers` hidden widths, each from
    /// 1 to `Limits.channels`, so no text (a flag, a model file, a run folder) asks for a head
    /// the machine cannot allocate.
    public init(parsing text: String, dropout: Float = 0) throws {
        if text == "linear" {
            self = .linear
            return
        }
        let notAHead = GraphError.plugin("head \(text.quotedForTerminal) is not 'linear' or 'mlp:W1,W2,...' (e.g. mlp:128,64)")
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0] == "mlp" else { throw notAHead }
        let fields = parts[1].split(separator: ",", maxSplits: Limits.headLayers, omittingEmptySubsequences: false)
        guard fields.count <= Limits.headLayers else {
            throw GraphError.plugin("head \(text.quotedForTerminal) has more than \(Limits.headLayers) hidden layers")
        }
        let widths = fields.map { Int($0) }
        guard widths.allSatisfy({ $0 != nil }) else { throw notAHead }
        if let width = widths.first(where: { !(1...Limits.channels).contains($0!) }) {
            throw GraphError.plugin("head \(text.quotedForTerminal): hidden width \(width!) is not from 1 to \(Limits.channels)")
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
        guard (1...Limits.classes).contains(classes) else {
            throw GraphError.badInput(layer: "head", reason: "\(classes) classes; a classifier has 1 to \(Limits.classes)")
        }
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
        func linear(_ name: String, from inputs: Int, to outputs: Int) throws {
            guard let count = CheckedSize.product(outputs, inputs), count <= Limits.parameterElements else {
                throw GraphError.badInput(layer: name, reason: "a \(inputs) -> \(outputs) layer has more than "
                                          + "\(Limits.parameterElements) weights; use fewer classes or a narrower head")
            }
            add(name, .linear(outFeatures: outputs, bias: true), channels: outputs, tensors: [
                TensorSpec(name: name + ".weight", shape: [outputs, inputs], kind: .parameter),
                TensorSpec(name: name + ".bias", shape: [outputs], kind: .parameter),
            ])
        }
        if head.hidden.isEmpty {
            try linear("head", from: f.channels, to: classes)
            return
        }
        var width = f.channels
        for (i, hidden) in head.hidden.enumerated() {
            try linear("head.\(i)", from: width, to: hidden)
            add("head.relu\(i)", .activation(.relu), channels: hidden)
            if head.dropout > 0 { add("head.dropout\(i)", .dropout(p: head.dropout), channels: hidden) }
            width = hidden
        }
        try linear("head.\(head.hidden.count)", from: width, to: classes)
    }

    /// Appends a linear classifier head (`head.weight` (N, F), `head.bias` (N)) on the features.
    public mutating func attachLinearHead(classes: Int) throws {
        try attachHead(.linear, classes: classes)
    }
}
