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
    public var mean: [Float]
    public var std: [Float]
    public var weights: String
    /// The plugin file.
    public var plugin: String
    public var plugin_version: String

    public init(_ b: Backbone) throws {
        name = b.name
        summary = b.summary
        in_features = b.inFeatures
        input_size = b.inputSize
        eval_resize = b.evalResize
        parameters = try b.makeGraph().parameterCount
        mean = b.mean
        std = b.std
        weights = b.weightsHint
        plugin = b.pluginPath
        plugin_version = b.pluginVersion
    }
}
