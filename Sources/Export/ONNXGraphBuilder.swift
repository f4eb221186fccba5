import Foundation
import ONNXProto

/// Collects an ONNX graph's nodes and initialisers, giving every value and node a unique name.
struct ONNXGraphBuilder {
    private(set) var nodes: [Onnx_NodeProto] = []
    private(set) var initializers: [Onnx_TensorProto] = []
    /// Bytes of initialiser data so far (protobuf caps a message at 2 GiB).
    private(set) var initializerBytes = 0
    private var used: Set<String> = []

    /// `base`, or `base_2`, `base_3`, ... if taken.
    mutating func unique(_ base: String) -> String {
        var name = base, n = 1
        while used.contains(name) {
            n += 1
            name = "\(base)_\(n)"
        }
        used.insert(name)
        return name
    }

    /// Adds a node and returns the name of its (first) output.
    @discardableResult
    mutating func node(_ op: String, _ inputs: [String], name: String, attributes: [Onnx_AttributeProto] = [],
                       output: String? = nil) -> String {
        var n = Onnx_NodeProto()
        n.opType = op
        n.name = unique(name)
        n.input = inputs
        let out = output.map { unique($0) } ?? unique(name + "_out")
        n.output = [out]
        n.attribute = attributes
        nodes.append(n)
        return out
    }

    /// A float initialiser of `dims` holding `values`, row-major; returns its name.
    mutating func floats(_ name: String, dims: [Int], _ values: [Float]) -> String {
        precondition(values.count == dims.reduce(1, *), "initialiser '\(name)': \(values.count) values for \(dims)")
        var t = Onnx_TensorProto()
        t.name = unique(name)
        t.dataType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        t.dims = dims.map(Int64.init)
        t.rawData = values.withUnsafeBufferPointer { Data(buffer: $0) }  // little-endian on every host we build for
        initializerBytes += t.rawData.count
        initializers.append(t)
        return t.name
    }

    /// A 1-D int64 initialiser (shapes, axes, slice bounds); returns its name.
    mutating func int64s(_ name: String, _ values: [Int]) -> String {
        var t = Onnx_TensorProto()
        t.name = unique(name)
        t.dataType = Int32(Onnx_TensorProto.DataType.int64.rawValue)
        t.dims = [Int64(values.count)]
        t.int64Data = values.map(Int64.init)
        initializers.append(t)
        return t.name
    }
}

/// Node attributes, by ONNX type.
enum ONNXAttribute {
    static func int(_ name: String, _ value: Int) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = name
        a.type = .int
        a.i = Int64(value)
        return a
    }

    static func ints(_ name: String, _ values: [Int]) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = name
        a.type = .ints
        a.ints = values.map(Int64.init)
        return a
    }

    static func float(_ name: String, _ value: Float) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = name
        a.type = .float
        a.f = value
        return a
    }
}

/// A float tensor's type: (batch, dims...) with a symbolic batch dimension.
func onnxTensorValue(_ name: String, batch: String, dims: [Int]) -> Onnx_ValueInfoProto {
    var shape = Onnx_TensorShapeProto()
    var b = Onnx_TensorShapeProto.Dimension()
    b.dimParam = batch
    shape.dim = [b] + dims.map { d in
        var dim = Onnx_TensorShapeProto.Dimension()
        dim.dimValue = Int64(d)
        return dim
    }
    var tensor = Onnx_TypeProto.Tensor()
    tensor.elemType = Int32(Onnx_TensorProto.DataType.float.rawValue)
    tensor.shape = shape
    var type = Onnx_TypeProto()
    type.tensorType = tensor
    var v = Onnx_ValueInfoProto()
    v.name = name
    v.type = type
    return v
}
