/// The shape of one sample's activation, NHWC without the batch: (height, width, channels).
public struct FeatureShape: Equatable, Hashable, Sendable, CustomStringConvertible {
    public var height: Int, width: Int, channels: Int
    public init(height: Int, width: Int, channels: Int) {
        self.height = height; self.width = width; self.channels = channels
    }
    public var count: Int { height * width * channels }
    public var description: String { "\(height)x\(width)x\(channels)" }
}

/// A named tensor a node owns: a trainable parameter or a buffer (BN running statistics).
public struct TensorSpec: Equatable, Sendable {
    public enum Kind: String, Sendable { case parameter = "param", buffer }
    /// torchvision state_dict key, e.g. `layer1.0.conv1.weight`.
    public var name: String
    /// Shape in the file layout (OIHW for convolution weights); empty for a scalar.
    public var shape: [Int]
    public var kind: Kind
    public var count: Int { shape.reduce(1, *) }
}

/// One step of the graph: an operation on earlier nodes' outputs.
public struct Node: Sendable {
    /// Position in the graph's topological order.
    public var id: Int
    /// The torchvision state_dict prefix for layers with tensors (`layer1.0.conv1`); a label otherwise.
    public var name: String
    public var operation: Operation
    public var inputs: [Int]
    public var outputShape: FeatureShape
    /// Index into the graph's layer groups.
    public var group: Int
    public var tensors: [TensorSpec]

    public var parameterCount: Int {
        tensors.filter { $0.kind == .parameter }.reduce(0) { $0 + $1.count }
    }
}
