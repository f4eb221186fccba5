/// What `finetune backbones` reports about one backbone; `--json` encodes an array of these
/// (DESIGN §7: the keys are a contract with outside scripts).
public struct BackboneInfo: Codable, Equatable, Sendable {
    public var name: String
    public var summary: String
    public var in_features: Int
    public var input_size: Int
    public var eval_resize: Int
    /// Backbone parameters, without any head.
    public var parameters: Int
    /// Forward GFLOPs of one image at `input_size` (convolutions and linear layers, a multiply-add
    /// counted as 2 FLOPs, as `finetune bench`'s GFLOP/s; torchvision's tables count multiply-adds).
    public var gflops: Double
    public var mean: [Float]
    public var std: [Float]
    public var weights: String
    /// Published pretrained weights, the default first, and their classifier's key prefix.
    public var weight_sets: [WeightSet]
    public var classifier_key: String?
    /// The plugin file.
    public var plugin: String
    public var plugin_version: String

    public init(_ b: Backbone) throws {
        name = b.name
        summary = b.summary
        in_features = b.inFeatures
        input_size = b.inputSize
        eval_resize = b.evalResize
        let graph = try b.makeGraph()
        parameters = graph.parameterCount
        gflops = (Double(graph.forwardFLOPsPerSample) / 1e7).rounded() / 100
        mean = b.mean
        std = b.std
        weights = b.weightsHint
        weight_sets = b.weightSets
        classifier_key = b.classifierKey
        plugin = b.pluginPath
        plugin_version = b.pluginVersion
    }
}
