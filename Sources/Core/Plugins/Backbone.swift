import PluginABI

/// A backbone a plugin provides: what its descriptor claims plus where it came from.
public struct Backbone: @unchecked Sendable {
    public var name: String
    public var summary: String
    /// Width of the pooled feature vector (torchvision's `fc.in_features`).
    public var inFeatures: Int
    /// Training crop size.
    public var inputSize: Int
    /// Evaluation: resize the shorter side to this, then center-crop `inputSize`.
    public var evalResize: Int
    public var mean: [Float]
    public var std: [Float]
    public var weightsHint: String
    /// Published pretrained weights, the default first (ABI 1.1; empty for older plugins).
    public var weightSets: [WeightSet] = []
    /// The checkpoints' classifier prefix (`fc`, `classifier.1`), when the plugin declares it.
    public var classifierKey: String?

    /// The resize filter evaluation uses: that of the backbone's default weights (bicubic for
    /// torchvision's EfficientNet-B0/B3), bilinear when it lists none.
    public var evalInterpolation: Interpolation { weightSets.first?.interpolation ?? .bilinear }
    /// The plugin file this backbone came from.
    public var pluginPath: String
    public var pluginName: String
    public var pluginVersion: String
    let build: @convention(c) (UnsafePointer<ft_host_api>?, OpaquePointer?) -> Int32

    /// Records the backbone's graph for square inputs of `inputSize` pixels (default: its own).
    public func makeGraph(inputSize: Int? = nil) throws -> Graph {
        let size = inputSize ?? self.inputSize
        return try GraphBuilder(inputHeight: size, inputWidth: size).run(build)
    }

    /// The backbone's graph with a head for `classes` classes attached (linear by default).
    public func makeClassifier(classes: Int, head: HeadSpec = .linear, inputSize: Int? = nil) throws -> Graph {
        var graph = try makeGraph(inputSize: inputSize)
        try graph.attachHead(head, classes: classes)
        return graph
    }
}
