import FineTuneCore
import Foundation
import ONNXProto

/// A model file as an ONNX model in inference form: batch norm folded into the convolution
/// before it (or a BatchNormalization node where none precedes it), dropout and stochastic depth
/// removed, standard operators of opset 17, input `input` (batch, 3, H, W) float NCHW with a
/// symbolic batch, output `logits` (batch, classes). The engine's tensors are NHWC, but its
/// weights are kept in torchvision's layout (OIHW), which is ONNX's: no transpose is needed.
///
/// With `withPreprocessing`, `input` takes RGB values in [0, 1] (the resized and cropped image
/// divided by 255): the graph subtracts the mean and divides by the std first, and it has a
/// second output, `probabilities` (softmax).
public enum ONNXExport {
    public static let opset = 17
    /// The IR version that goes with opset 17.
    public static let irVersion: Int64 = 8

    public static func model(_ model: ModelFile, backbone: Backbone, file: String,
                             withPreprocessing: Bool = false) throws -> Onnx_ModelProto {
        let (graph, weights) = try model.graphAndWeights(backbone: backbone, file: file)
        var translation = ONNXGraphTranslation(graph: graph, weights: weights, file: file)
        let input = try translation.input(mean: withPreprocessing ? model.mean : nil, std: model.std)
        let logits = try translation.translate(from: input)
        var b = translation.builder
        let output = b.node("Flatten", [logits], name: "flatten", attributes: [ONNXAttribute.int("axis", 1)], output: "logits")
        var outputs = [onnxTensorValue(output, batch: "batch", dims: [model.classes.count])]
        if withPreprocessing {
            let p = b.node("Softmax", [output], name: "softmax", attributes: [ONNXAttribute.int("axis", 1)], output: "probabilities")
            outputs.append(onnxTensorValue(p, batch: "batch", dims: [model.classes.count]))
        }
        guard b.initializerBytes < Int(Int32.max) - (64 << 20) else {
            throw ONNXExportError.tooLarge(file: file, bytes: b.initializerBytes)
        }
        let shape = graph.nodes[0].outputShape
        var g = Onnx_GraphProto()
        g.name = model.backbone
        g.node = b.nodes
        g.initializer = b.initializers
        g.input = [onnxTensorValue("input", batch: "batch", dims: [shape.channels, shape.height, shape.width])]
        g.output = outputs

        var m = Onnx_ModelProto()
        m.irVersion = irVersion
        var opset = Onnx_OperatorSetIdProto()
        opset.domain = ""
        opset.version = Int64(Self.opset)
        m.opsetImport = [opset]
        m.producerName = "finetune"
        m.producerVersion = FineTuneVersion.release
        m.docString = "\(model.backbone) fine-tuned on \(model.classes.count) classes"
        m.graph = g
        m.metadataProps = ONNXMetadata.entries(for: model, withPreprocessing: withPreprocessing)
        return m
    }

    /// Writes `model` to `url` atomically.
    public static func write(_ model: Onnx_ModelProto, to url: URL) throws {
        try AtomicFile.write(try model.serializedData(), to: url)
    }
}

public enum ONNXExportError: Error, CustomStringConvertible {
    case missingTensor(file: String, node: String, tensor: String)
    case tooLarge(file: String, bytes: Int)

    public var description: String {
        switch self {
        case .missingTensor(let file, let node, let tensor):
            return "\(file): node '\(node)' needs tensor '\(tensor)', which the model does not hold"
        case .tooLarge(let file, let bytes):
            return "\(file): \(bytes) bytes of weights do not fit one ONNX file (protobuf's limit is 2 GiB)"
        }
    }
}

/// The graph's nodes, one by one, as ONNX nodes.
struct ONNXGraphTranslation {
    let graph: Graph
    let weights: [String: NamedTensor]
    let file: String
    var builder = ONNXGraphBuilder()
    /// The ONNX value holding each graph node's output.
    private var value: [Int: String] = [:]

    init(graph: Graph, weights: [String: NamedTensor], file: String) {
        self.graph = graph
        self.weights = weights
        self.file = file
    }

    /// The graph's input, normalised first when `mean` is given.
    mutating func input(mean: [Float]?, std: [Float]) throws -> String {
        guard let mean else { return "input" }
        let m = builder.floats("mean", dims: [1, mean.count, 1, 1], mean)
        let s = builder.floats("std", dims: [1, std.count, 1, 1], std)
        let centred = builder.node("Sub", ["input", m], name: "normalize_sub")
        return builder.node("Div", [centred, s], name: "normalize_div")
    }

    /// Translates every node the output depends on; returns the output's value.
    mutating func translate(from input: String) throws -> String {
        let live = liveNodes()
        var consumers = [Int](repeating: 0, count: graph.nodes.count)
        for node in graph.nodes where live.contains(node.id) {
            for i in node.inputs { consumers[i] += 1 }
        }
        var folded: Set<Int> = []
        for node in graph.nodes where live.contains(node.id) && !folded.contains(node.id) {
            if case .input = node.operation {
                value[node.id] = input
                continue
            }
            let x = node.inputs.map { value[$0]! }
            if case .conv2d(let p) = node.operation, consumers[node.id] == 1,
               let next = graph.nodes.first(where: { live.contains($0.id) && $0.inputs.contains(node.id) }),
               case .batchNorm(let eps, _) = next.operation {
                let out = try conv(node, p, x[0], foldingBatchNorm: (next, eps))
                value[node.id] = out
                value[next.id] = out
                folded.insert(next.id)
                continue
            }
            value[node.id] = try translate(node, x)
        }
        return value[graph.output]!
    }

    /// Nodes the output depends on (plugins may build layers past their features).
    private func liveNodes() -> Set<Int> {
        var live: Set<Int> = [graph.output], stack = [graph.output]
        while let id = stack.popLast() {
            for i in graph.nodes[id].inputs where live.insert(i).inserted { stack.append(i) }
        }
        return live
    }

    private func tensor(_ node: Node, _ suffix: String) throws -> NamedTensor {
        let key = suffix.isEmpty ? node.name : node.name + "." + suffix
        guard let t = weights[key] else { throw ONNXExportError.missingTensor(file: file, node: node.name, tensor: key) }
        return t
    }

    private mutating func translate(_ node: Node, _ x: [String]) throws -> String {
        let name = node.name
        switch node.operation {
        case .input:
            preconditionFailure("the input is translated by the caller")
        case .conv2d(let p):
            return try conv(node, p, x[0], foldingBatchNorm: nil)
        case .linear(let outFeatures, let bias):
            return try conv(node, Conv2DParams(outChannels: outFeatures, kernel: 1, bias: bias), x[0], foldingBatchNorm: nil)
        case .batchNorm(let eps, _):
            let inputs = try ["weight", "bias", "running_mean", "running_var"].map { key -> String in
                let t = try tensor(node, key)
                return builder.floats("\(name).\(key)", dims: t.shape, t.values)
            }
            return builder.node("BatchNormalization", [x[0]] + inputs, name: name,
                                attributes: [ONNXAttribute.float("epsilon", eps)])
        case .activation(let a):
            return activation(a, x[0], name: name)
        case .add:
            return builder.node("Add", x, name: name)
        case .channelMultiply:
            return builder.node("Mul", x, name: name)
        case .maxPool(let p):
            return builder.node("MaxPool", x, name: name, attributes: poolAttributes(p))
        case .avgPool(let p):
            return builder.node("AveragePool", x, name: name,
                                attributes: poolAttributes(p) + [ONNXAttribute.int("count_include_pad", p.countIncludePad ? 1 : 0)])
        case .globalAvgPool:
            return builder.node("GlobalAveragePool", x, name: name)
        case .stochasticDepth, .dropout:
            return x[0]  // identity in inference
        case .concat:
            return builder.node("Concat", x, name: name, attributes: [ONNXAttribute.int("axis", 1)])
        case .narrow(let start, let length):
            let starts = builder.int64s("\(name).starts", [start])
            let ends = builder.int64s("\(name).ends", [start + length])
            let axes = builder.int64s("\(name).axes", [1])
            return builder.node("Slice", [x[0], starts, ends, axes], name: name)
        case .channelShuffle(let groups):
            let s = node.outputShape
            let split = builder.int64s("\(name).split_shape", [0, groups, s.channels / groups, s.height, s.width])
            let merged = builder.int64s("\(name).merged_shape", [0, s.channels, s.height, s.width])
            let a = builder.node("Reshape", [x[0], split], name: name + "_split")
            let t = builder.node("Transpose", [a], name: name + "_transpose", attributes: [ONNXAttribute.ints("perm", [0, 2, 1, 3, 4])])
            return builder.node("Reshape", [t, merged], name: name + "_merge")
        case .layerNorm(let eps):
            // LayerNormalization normalises trailing axes: channels last around it.
            let w = try tensor(node, "weight"), b = try tensor(node, "bias")
            let scale = builder.floats(w.name, dims: w.shape, w.values), shift = builder.floats(b.name, dims: b.shape, b.values)
            let nhwc = builder.node("Transpose", [x[0]], name: name + "_to_nhwc", attributes: [ONNXAttribute.ints("perm", [0, 2, 3, 1])])
            let n = builder.node("LayerNormalization", [nhwc, scale, shift], name: name,
                                 attributes: [ONNXAttribute.int("axis", -1), ONNXAttribute.float("epsilon", eps)])
            return builder.node("Transpose", [n], name: name + "_to_nchw", attributes: [ONNXAttribute.ints("perm", [0, 3, 1, 2])])
        case .channelScale:
            let s = try tensor(node, "")
            return builder.node("Mul", [x[0], builder.floats(name, dims: s.shape, s.values)], name: name + "_mul")
        }
    }

    /// A convolution (or a linear layer as a 1x1 convolution), with the batch norm after it folded
    /// into its weights and bias: w * g / sqrt(v + eps) and (b - m) * g / sqrt(v + eps) + beta.
    private mutating func conv(_ node: Node, _ p: Conv2DParams, _ x: String,
                               foldingBatchNorm bn: (node: Node, eps: Float)?) throws -> String {
        let w = try tensor(node, "weight")
        let o = p.outChannels
        var weight = w.values
        var bias = p.bias ? try tensor(node, "bias").values : [Float](repeating: 0, count: o)
        var name = node.name
        if let bn {
            let g = try tensor(bn.node, "weight").values, beta = try tensor(bn.node, "bias").values
            let mean = try tensor(bn.node, "running_mean").values, variance = try tensor(bn.node, "running_var").values
            let perOutput = weight.count / o
            for c in 0..<o {
                let scale = Double(g[c]) / (Double(variance[c]) + Double(bn.eps)).squareRoot()
                for k in c * perOutput..<(c + 1) * perOutput { weight[k] = Float(Double(weight[k]) * scale) }
                bias[c] = Float((Double(bias[c]) - Double(mean[c])) * scale + Double(beta[c]))
            }
            name = bn.node.name
        }
        // nn.Linear's (out, in) weights are a 1x1 convolution's (out, in, 1, 1).
        let dims = w.shape.count == 4 ? w.shape : [o, w.count / o, 1, 1]
        let inputs = [x, builder.floats(node.name + ".weight", dims: dims, weight)]
            + (p.bias || bn != nil ? [builder.floats(node.name + ".bias", dims: [o], bias)] : [])
        let pad = p.padding
        return builder.node("Conv", inputs, name: name, attributes: [
            ONNXAttribute.ints("kernel_shape", [p.kernel.h, p.kernel.w]),
            ONNXAttribute.ints("strides", [p.stride.h, p.stride.w]),
            ONNXAttribute.ints("pads", [pad.top, pad.left, pad.bottom, pad.right]),
            ONNXAttribute.ints("dilations", [p.dilation.h, p.dilation.w]),
            ONNXAttribute.int("group", p.groups),
        ])
    }

    private func poolAttributes(_ p: PoolParams) -> [Onnx_AttributeProto] {
        [ONNXAttribute.ints("kernel_shape", [p.kernel.h, p.kernel.w]),
         ONNXAttribute.ints("strides", [p.stride.h, p.stride.w]),
         ONNXAttribute.ints("pads", [p.padding.top, p.padding.left, p.padding.bottom, p.padding.right]),
         ONNXAttribute.int("ceil_mode", p.ceilMode ? 1 : 0)]
    }

    private mutating func activation(_ a: Activation, _ x: String, name: String) -> String {
        switch a {
        case .relu:
            return builder.node("Relu", [x], name: name)
        case .relu6:
            let lo = builder.floats(name + ".min", dims: [], [0]), hi = builder.floats(name + ".max", dims: [], [6])
            return builder.node("Clip", [x, lo, hi], name: name)
        case .sigmoid:
            return builder.node("Sigmoid", [x], name: name)
        case .silu:
            let s = builder.node("Sigmoid", [x], name: name + "_sigmoid")
            return builder.node("Mul", [x, s], name: name)
        case .gelu:
            // Exact GELU, x * (1 + erf(x / sqrt 2)) / 2 (opset 17 has no Gelu operator).
            let root2 = builder.floats(name + ".sqrt2", dims: [], [Float(2.0.squareRoot())])
            let one = builder.floats(name + ".one", dims: [], [1]), half = builder.floats(name + ".half", dims: [], [0.5])
            let e = builder.node("Erf", [builder.node("Div", [x, root2], name: name + "_div")], name: name + "_erf")
            let p = builder.node("Mul", [x, builder.node("Add", [e, one], name: name + "_add")], name: name + "_mul")
            return builder.node("Mul", [p, half], name: name)
        case .hardswish:
            return builder.node("HardSwish", [x], name: name)
        case .hardsigmoid:
            return builder.node("HardSigmoid", [x], name: name,
                                attributes: [ONNXAttribute.float("alpha", 1.0 / 6), ONNXAttribute.float("beta", 0.5)])
        }
    }
}
