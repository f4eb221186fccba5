/// Records a graph from a plugin's builder calls, inferring every node's output shape.
/// A node whose inputs do not fit (channels, groups, spatial size) is an error naming the layer,
/// and so is every size the plugin asks for beyond `Limits` (channels, kernel, stride, padding,
/// dilation, groups, one activation, one tensor, all parameters, the number of layers): checked
/// with `CheckedSize` when the layer is recorded, before anything is allocated for it.
public final class GraphBuilder {
    public private(set) var graph = Graph()
    /// Spatial size of the input images.
    public let inputSize: (height: Int, width: Int)
    /// The first error; once set, every later call fails too.
    public private(set) var error: GraphError?
    private var tensorNames = Set<String>()
    /// Parameters recorded so far, at most `Limits.parameters`.
    private var parameterTotal = 0
    /// The group of layers added before any begin_group call.
    static let implicitGroup = "backbone"

    public init(inputHeight: Int, inputWidth: Int) {
        inputSize = (inputHeight, inputWidth)
    }

    /// Runs `body` and keeps its first error; returns the new id or -1.
    func record(_ body: () throws -> Int) -> Int32 {
        if error != nil { return -1 }
        do { return Int32(try body()) } catch let e as GraphError {
            error = e
            return -1
        } catch {
            self.error = .plugin("\(error)")
            return -1
        }
    }

    func fail(_ message: String) {
        if error == nil { error = .plugin(message) }
    }

    private func shape(_ id: Int, for layer: String) throws -> FeatureShape {
        guard id >= 0, id < graph.nodes.count else {
            throw GraphError.badInput(layer: layer, reason: "input node \(id) does not exist")
        }
        return graph.nodes[id].outputShape
    }

    private func append(_ name: String, _ op: Operation, _ inputs: [Int], _ shape: FeatureShape,
                        tensors: [TensorSpec] = []) throws -> Int {
        func bad(_ reason: String) -> GraphError { .badInput(layer: name, reason: reason) }
        guard graph.nodes.count < Limits.graphNodes else { throw bad("the graph has more than \(Limits.graphNodes) layers") }
        guard let elements = CheckedSize.product(of: [shape.height, shape.width, shape.channels]),
              elements <= Limits.activationElements else {
            throw bad("its output \(shape) has more than \(Limits.activationElements) elements per image")
        }
        var total = parameterTotal
        for (i, t) in tensors.enumerated() {
            guard let count = CheckedSize.product(of: t.shape), count <= Limits.parameterElements else {
                throw bad("tensor '\(t.name)' of shape \(t.shape) has more than \(Limits.parameterElements) elements")
            }
            if t.kind == .parameter {
                guard let sum = CheckedSize.sum(total, count), sum <= Limits.parameters else {
                    throw bad("the network would have more than \(Limits.parameters) parameters")
                }
                total = sum
            }
            guard !tensorNames.contains(t.name), !tensors[..<i].contains(where: { $0.name == t.name }) else {
                throw bad("tensor name '\(t.name)' is used twice")
            }
        }
        parameterTotal = total
        tensorNames.formUnion(tensors.map(\.name))
        if graph.groups.isEmpty { graph.groups.append(Self.implicitGroup) }
        let node = Node(id: graph.nodes.count, name: name, operation: op, inputs: inputs,
                        outputShape: shape, group: graph.groups.count - 1, tensors: tensors)
        graph.nodes.append(node)
        return node.id
    }

    private func layerName(_ name: String?, _ op: String) throws -> String {
        guard let name, !name.isEmpty else {
            throw GraphError.badInput(layer: "#\(graph.nodes.count) \(op)", reason: "a layer with tensors needs a name")
        }
        return name
    }

    // MARK: the operations, as the ABI's builder table offers them

    public func input(channels: Int) throws -> Int {
        guard !graph.nodes.contains(where: { $0.operation == .input }) else {
            throw GraphError.badInput(layer: "input", reason: "the graph already has an input")
        }
        guard (1...Limits.channels).contains(channels) else {
            throw GraphError.badInput(layer: "input", reason: "channels \(channels) is not in 1...\(Limits.channels)")
        }
        return try append("input", .input, [], FeatureShape(height: inputSize.height, width: inputSize.width, channels: channels))
    }

    /// nn.Linear over the channels of every pixel (ConvNeXt's pointwise layers, MobileNetV3's first
    /// classifier layer): a 1x1 convolution whose weight keeps nn.Linear's 2-D shape (out, in) —
    /// the same values in the same order as the (out, in, 1, 1) of a 1x1 convolution.
    public func linear(_ name: String?, _ x: Int, outFeatures: Int, bias: Bool) throws -> Int {
        try conv2d(name, x, Conv2DParams(outChannels: outFeatures, kernel: 1, bias: bias), linearWeight: true)
    }

    public func conv2d(_ name: String?, _ x: Int, _ p: Conv2DParams) throws -> Int {
        try conv2d(name, x, p, linearWeight: false)
    }

    private func conv2d(_ name: String?, _ x: Int, _ p: Conv2DParams, linearWeight: Bool) throws -> Int {
        let name = try layerName(name, linearWeight ? "linear" : "conv2d")
        let s = try shape(x, for: name)
        func bad(_ reason: String) -> GraphError { .badInput(layer: name, reason: reason) }
        guard (1...Limits.channels).contains(p.outChannels), (1...Limits.channels).contains(p.groups) else {
            throw bad("out_channels \(p.outChannels) and groups \(p.groups) must be in 1...\(Limits.channels)")
        }
        let window = [p.kernel.h, p.kernel.w, p.stride.h, p.stride.w, p.dilation.h, p.dilation.w]
        guard window.allSatisfy({ (1...Limits.imageSide).contains($0) }) else {
            throw bad("kernel, stride and dilation must be in 1...\(Limits.imageSide)")
        }
        guard p.padding.all.allSatisfy({ (0...Limits.imageSide).contains($0) }) else {
            throw bad("padding must be in 0...\(Limits.imageSide)")
        }
        guard s.channels % p.groups == 0 else {
            throw bad("input has \(s.channels) channels, not divisible by groups=\(p.groups)")
        }
        guard p.outChannels % p.groups == 0 else {
            throw bad("out_channels=\(p.outChannels) is not divisible by groups=\(p.groups)")
        }
        let h = try Self.outputLength(s.height, kernel: p.kernel.h, stride: p.stride.h, padBefore: p.padding.top,
                                      padAfter: p.padding.bottom, dilation: p.dilation.h, ceil: false, layer: name)
        let w = try Self.outputLength(s.width, kernel: p.kernel.w, stride: p.stride.w, padBefore: p.padding.left,
                                      padAfter: p.padding.right, dilation: p.dilation.w, ceil: false, layer: name)
        let weightShape = linearWeight ? [p.outChannels, s.channels] : [p.outChannels, s.channels / p.groups, p.kernel.h, p.kernel.w]
        var tensors = [TensorSpec(name: name + ".weight", shape: weightShape, kind: .parameter)]
        if p.bias { tensors.append(TensorSpec(name: name + ".bias", shape: [p.outChannels], kind: .parameter)) }
        return try append(name, .conv2d(p), [x], FeatureShape(height: h, width: w, channels: p.outChannels), tensors: tensors)
    }

    public func batchNorm(_ name: String?, _ x: Int, eps: Float, momentum: Float) throws -> Int {
        let name = try layerName(name, "batch_norm")
        let s = try shape(x, for: name)
        guard eps > 0, eps.isFinite, momentum >= 0, momentum <= 1 else {
            throw GraphError.badInput(layer: name, reason: "eps must be positive and finite, and momentum in [0, 1]")
        }
        let c = [s.channels]
        return try append(name, .batchNorm(eps: eps, momentum: momentum), [x], s, tensors: [
            TensorSpec(name: name + ".weight", shape: c, kind: .parameter),
            TensorSpec(name: name + ".bias", shape: c, kind: .parameter),
            TensorSpec(name: name + ".running_mean", shape: c, kind: .buffer),
            TensorSpec(name: name + ".running_var", shape: c, kind: .buffer),
            TensorSpec(name: name + ".num_batches_tracked", shape: [], kind: .buffer),
        ])
    }

    public func activation(_ name: String?, _ x: Int, _ kind: Activation) throws -> Int {
        let label = name ?? kind.rawValue
        return try append(label, .activation(kind), [x], try shape(x, for: label))
    }

    public func add(_ name: String?, _ x: Int, _ y: Int) throws -> Int {
        let label = name ?? "add"
        let a = try shape(x, for: label), b = try shape(y, for: label)
        guard a == b else { throw GraphError.badInput(layer: label, reason: "cannot add \(a) and \(b)") }
        return try append(label, .add, [x, y], a)
    }

    public func channelMultiply(_ name: String?, _ x: Int, _ scale: Int) throws -> Int {
        let label = name ?? "channel_multiply"
        let a = try shape(x, for: label), s = try shape(scale, for: label)
        guard s.height == 1, s.width == 1, s.channels == a.channels else {
            throw GraphError.badInput(layer: label, reason: "scale is \(s), expected 1x1x\(a.channels) to multiply \(a)")
        }
        return try append(label, .channelMultiply, [x, scale], a)
    }

    public func concat(_ name: String?, _ inputs: [Int]) throws -> Int {
        let label = name ?? "concat"
        guard (1...Limits.concatInputs).contains(inputs.count) else {
            throw GraphError.badInput(layer: label, reason: "concatenates \(inputs.count) nodes, not 1 to \(Limits.concatInputs)")
        }
        let shapes = try inputs.map { try shape($0, for: label) }
        guard shapes.allSatisfy({ $0.height == shapes[0].height && $0.width == shapes[0].width }) else {
            throw GraphError.badInput(layer: label, reason: "cannot concatenate \(shapes.map(\.description).joined(separator: ", ")): height and width differ")
        }
        let channels = shapes.reduce(0) { $0 + $1.channels }  // each at most Limits.channels, so no overflow
        guard channels <= Limits.channels else {
            throw GraphError.badInput(layer: label, reason: "the result would have \(channels) channels, more than \(Limits.channels)")
        }
        return try append(label, .concat, inputs, FeatureShape(height: shapes[0].height, width: shapes[0].width, channels: channels))
    }

    public func narrow(_ name: String?, _ x: Int, start: Int, length: Int) throws -> Int {
        let label = name ?? "narrow"
        let s = try shape(x, for: label)
        guard start >= 0, length >= 1, start < s.channels, length <= s.channels - start else {
            throw GraphError.badInput(layer: label, reason: "channels \(start) to \(start + length - 1) are not within the input's \(s.channels)")
        }
        return try append(label, .narrow(start: start, length: length), [x], FeatureShape(height: s.height, width: s.width, channels: length))
    }

    public func channelShuffle(_ name: String?, _ x: Int, groups: Int) throws -> Int {
        let label = name ?? "channel_shuffle"
        let s = try shape(x, for: label)
        guard groups >= 1, groups <= s.channels, s.channels % groups == 0 else {
            throw GraphError.badInput(layer: label, reason: "\(s.channels) channels do not split into \(groups) groups")
        }
        return try append(label, .channelShuffle(groups: groups), [x], s)
    }

    /// Tensors `<name>.weight` and `<name>.bias` (C), as nn.LayerNorm(C) keeps them.
    public func layerNorm(_ name: String?, _ x: Int, eps: Float) throws -> Int {
        let name = try layerName(name, "layer_norm")
        let s = try shape(x, for: name)
        guard eps > 0, eps.isFinite else { throw GraphError.badInput(layer: name, reason: "eps must be positive and finite") }
        return try append(name, .layerNorm(eps: eps), [x], s, tensors: [
            TensorSpec(name: name + ".weight", shape: [s.channels], kind: .parameter),
            TensorSpec(name: name + ".bias", shape: [s.channels], kind: .parameter),
        ])
    }

    /// The tensor is `name` itself, (C, 1, 1) as ConvNeXt's `layer_scale` parameter.
    public func channelScale(_ name: String?, _ x: Int, initial: Float) throws -> Int {
        let name = try layerName(name, "channel_scale")
        let s = try shape(x, for: name)
        guard initial.isFinite else { throw GraphError.badInput(layer: name, reason: "the initial scale must be finite") }
        return try append(name, .channelScale(initial: initial), [x], s,
                          tensors: [TensorSpec(name: name, shape: [s.channels, 1, 1], kind: .parameter)])
    }

    public func pool(_ name: String?, _ x: Int, _ p: PoolParams, max: Bool) throws -> Int {
        let label = name ?? (max ? "max_pool" : "avg_pool")
        let s = try shape(x, for: label)
        guard [p.kernel.h, p.kernel.w, p.stride.h, p.stride.w].allSatisfy({ (1...Limits.imageSide).contains($0) }) else {
            throw GraphError.badInput(layer: label, reason: "kernel and stride must be in 1...\(Limits.imageSide)")
        }
        guard p.padding.all.allSatisfy({ $0 >= 0 }), p.padding.top <= p.kernel.h / 2, p.padding.bottom <= p.kernel.h / 2,
              p.padding.left <= p.kernel.w / 2, p.padding.right <= p.kernel.w / 2 else {
            throw GraphError.badInput(layer: label, reason: "padding must be between 0 and half the kernel")
        }
        let h = try Self.outputLength(s.height, kernel: p.kernel.h, stride: p.stride.h, padBefore: p.padding.top,
                                      padAfter: p.padding.bottom, dilation: 1, ceil: p.ceilMode, layer: label)
        let w = try Self.outputLength(s.width, kernel: p.kernel.w, stride: p.stride.w, padBefore: p.padding.left,
                                      padAfter: p.padding.right, dilation: 1, ceil: p.ceilMode, layer: label)
        return try append(label, max ? .maxPool(p) : .avgPool(p), [x], FeatureShape(height: h, width: w, channels: s.channels))
    }

    public func globalAvgPool(_ name: String?, _ x: Int) throws -> Int {
        let label = name ?? "global_avg_pool"
        let s = try shape(x, for: label)
        return try append(label, .globalAvgPool, [x], FeatureShape(height: 1, width: 1, channels: s.channels))
    }

    public func stochasticDepth(_ name: String?, _ x: Int, p: Float) throws -> Int {
        let label = name ?? "stochastic_depth"
        guard p >= 0, p < 1 else { throw GraphError.badInput(layer: label, reason: "probability \(p) is not in [0, 1)") }
        return try append(label, .stochasticDepth(p: p), [x], try shape(x, for: label))
    }

    public func dropout(_ name: String?, _ x: Int, p: Float) throws -> Int {
        let label = name ?? "dropout"
        guard p >= 0, p < 1 else { throw GraphError.badInput(layer: label, reason: "probability \(p) is not in [0, 1)") }
        return try append(label, .dropout(p: p), [x], try shape(x, for: label))
    }

    public func beginGroup(_ name: String?) throws -> Int {
        guard let name, !name.isEmpty else { throw GraphError.plugin("begin_group needs a name") }
        guard !graph.groups.contains(name) else { throw GraphError.plugin("layer group '\(name)' begins twice") }
        // The input node alone does not make a group: the first named group takes it over.
        if graph.groups == [Self.implicitGroup], graph.nodes.allSatisfy({ $0.operation == .input }) {
            graph.groups = [name]
            return 0
        }
        graph.groups.append(name)
        return graph.groups.count - 1
    }

    public func setFeatures(_ x: Int) throws -> Int {
        let s = try shape(x, for: "features")
        guard s.height == 1, s.width == 1 else {
            throw GraphError.badInput(layer: graph.nodes[x].name, reason: "features must be pooled to 1x1, got \(s)")
        }
        graph.features = x
        return 0
    }

    /// PyTorch's output length for convolution and pooling windows (operands already bounded
    /// by `Limits`; the arithmetic is checked all the same, as it would be for any caller).
    static func outputLength(_ n: Int, kernel: Int, stride: Int, padBefore: Int, padAfter: Int,
                             dilation: Int, ceil: Bool, layer: String) throws -> Int {
        guard let reach = CheckedSize.product(dilation, kernel - 1), let span = CheckedSize.sum(reach, 1),
              let pads = CheckedSize.sum(padBefore, padAfter), let padded = CheckedSize.sum(n, pads), stride > 0 else {
            throw GraphError.badInput(layer: layer, reason: "window or padding out of range")
        }
        guard padded >= span else {
            throw GraphError.badInput(layer: layer, reason: "input size \(n) (padded \(padded)) is smaller than the window \(span)")
        }
        var out = (padded - span + (ceil ? stride - 1 : 0)) / stride + 1
        // PyTorch: with ceil_mode the last window must start inside the input or left padding.
        if ceil, (out - 1) * stride >= n + padBefore { out -= 1 }
        return out
    }
}
