import Foundation
import ONNXProto
import XCTest
@testable import FineTuneCore
@testable import FineTuneExport

/// `finetune export`'s ONNX files, parsed back with the generated protobuf code and checked for
/// structure. That onnxruntime computes the same logits is `tools/check_onnx_export.py`'s job.
final class ExportONNXTests: XCTestCase {
    static let classes = ["cat", "dog", "fox", "owl"]

    /// A randomly initialised model of `name` at 64 px whose batch norm statistics and scales are
    /// not 0/1, so that folding them shows.
    static func modelFile(_ name: String, head: HeadSpec = .linear) throws -> (ModelFile, Backbone) {
        let backbone = try BuiltInBackboneTests.catalog.backbone(named: name)
        let model = try Model(graph: backbone.makeClassifier(classes: classes.count, head: head, inputSize: 64))
        model.initialize(seed: 5)
        var rng = SplitMix64(seed: 9)
        let tensors = model.namedTensors().map { t -> NamedTensor in
            var t = t
            let range: ClosedRange<Float>? = t.name.hasSuffix("running_var") ? 0.5...1.5
                : t.name.hasSuffix("running_mean") ? -0.3...0.3 : nil
            if let range { t.values = t.values.map { _ in Float.random(in: range, using: &rng) } }
            return t
        }
        var file = ModelFile(backbone: backbone, classes: classes, provenance: Provenance(command: "train", source: "weights.pth"),
                             tensors: tensors)
        file.head = head.description
        file.inputSize = 64
        file.evalResize = 72
        return (file, backbone)
    }

    static func exported(_ name: String, head: HeadSpec = .linear, withPreprocessing: Bool = false) throws -> (Onnx_ModelProto, ModelFile) {
        let (file, backbone) = try modelFile(name, head: head)
        let onnx = try ONNXExport.model(file, backbone: backbone, file: "model.safetensors", withPreprocessing: withPreprocessing)
        // Through bytes, as a runtime reads it.
        return (try Onnx_ModelProto(serializedBytes: try onnx.serializedData()), file)
    }

    func dims(_ v: Onnx_ValueInfoProto) -> [String] {
        v.type.tensorType.shape.dim.map { d in
            if case .dimParam(let p)? = d.value { return p }
            return String(d.dimValue)
        }
    }

    /// Every node's inputs are the graph input, an initialiser or an earlier node's output.
    func assertTopological(_ g: Onnx_GraphProto, file: StaticString = #filePath, line: UInt = #line) {
        var defined = Set(g.input.map(\.name) + g.initializer.map(\.name))
        for n in g.node {
            for i in n.input { XCTAssert(defined.contains(i), "node \(n.name) reads undefined \(i)", file: file, line: line) }
            XCTAssertFalse(n.output.contains(where: defined.contains), "node \(n.name) redefines a value", file: file, line: line)
            defined.formUnion(n.output)
        }
        for o in g.output { XCTAssert(defined.contains(o.name), "output \(o.name) is never computed", file: file, line: line) }
    }

    func testInputsOutputsAndMetadata() throws {
        let (m, _) = try Self.exported("mobilenet-v2")
        XCTAssertEqual(m.irVersion, ONNXExport.irVersion)
        XCTAssertEqual(m.opsetImport.map(\.version), [Int64(ONNXExport.opset)])
        XCTAssertEqual(m.graph.input.map(\.name), ["input"])
        XCTAssertEqual(dims(m.graph.input[0]), ["batch", "3", "64", "64"])
        XCTAssertEqual(m.graph.output.map(\.name), ["logits"])
        XCTAssertEqual(dims(m.graph.output[0]), ["batch", "4"])
        assertTopological(m.graph)
        let meta = Dictionary(uniqueKeysWithValues: m.metadataProps.map { ($0.key, $0.value) })
        XCTAssertEqual(meta["classes"], #"["cat","dog","fox","owl"]"#)
        XCTAssertEqual(meta["input_size"], "64")
        XCTAssertEqual(meta["resize"], "72")
        XCTAssertEqual(meta["interpolation"], "bilinear")
        XCTAssertEqual(meta["input"], "normalized")
        XCTAssertEqual(meta["backbone"], "mobilenet-v2")
        XCTAssertEqual(meta["weights"], "weights.pth")
        XCTAssertEqual(meta["head"], "linear")
        let mean = try JSONDecoder().decode([Float].self, from: Data(meta["mean"]!.utf8))
        XCTAssertEqual(mean, [0.485, 0.456, 0.406])
        XCTAssertNotNil(meta["std"])
    }

    /// Batch norm after a convolution is folded into it; dropout leaves no node.
    func testBatchNormFoldedAndDropoutRemoved() throws {
        let (m, file) = try Self.exported("mobilenet-v2", head: HeadSpec(hidden: [16], dropout: 0.2))
        let ops = m.graph.node.map(\.opType)
        XCTAssertFalse(ops.contains("BatchNormalization"))
        XCTAssertFalse(ops.contains("Dropout"))
        XCTAssertEqual(ops.filter { $0 == "Conv" }.count, 52 + 2)  // 52 convolutions and the head's two layers
        let initializers = Dictionary(uniqueKeysWithValues: m.graph.initializer.map { ($0.name, $0) })
        for n in m.graph.node where n.opType == "Conv" {
            let w = try XCTUnwrap(initializers[n.input[1]])
            XCTAssertEqual(w.dims.count, 4, n.name)
            XCTAssertEqual(n.input.count, 3, "\(n.name) has a bias (folded or its own)")
        }
        // features.0.0 (3x3 conv, no bias) followed by features.0.1 (BN, eps 1e-5).
        let t = Dictionary(uniqueKeysWithValues: file.tensors.map { ($0.name, $0.values) })
        let w = try XCTUnwrap(initializers["features.0.0.weight"]), b = try XCTUnwrap(initializers["features.0.0.bias"])
        XCTAssertEqual(w.dims, [32, 3, 3, 3])
        let folded = w.rawData.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        let bias = b.rawData.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        for c in [0, 7, 31] {
            let scale = t["features.0.1.weight"]![c] / (t["features.0.1.running_var"]![c] + 1e-5).squareRoot()
            XCTAssertEqual(folded[c * 27 + 4], t["features.0.0.weight"]![c * 27 + 4] * scale, accuracy: 1e-6)
            XCTAssertEqual(bias[c], t["features.0.1.bias"]![c] - t["features.0.1.running_mean"]![c] * scale, accuracy: 1e-6)
        }
    }

    /// Every operation the built-in plugins describe exports: ShuffleNetV2's split, concat and
    /// shuffle; ConvNeXt's layer norm, GELU, linear layers and layer scale; MobileNetV3's hard
    /// activations; MobileNetV2's ReLU6; DenseNet's batch norm that follows a concat, not a convolution.
    func testEveryOperationExports() throws {
        var ops: Set<String> = []
        for name in ["shufflenet-v2-x1.0", "convnext-tiny", "mobilenet-v3-large", "densenet121", "efficientnet-b0", "mobilenet-v2"] {
            let (m, _) = try Self.exported(name)
            assertTopological(m.graph)
            XCTAssertEqual(dims(m.graph.output[0]), ["batch", "4"], name)
            ops.formUnion(m.graph.node.map(\.opType))
        }
        let expected: Set = ["Conv", "Relu", "Clip", "Sigmoid", "Mul", "Add", "MaxPool", "AveragePool", "GlobalAveragePool",
                             "Concat", "Slice", "Reshape", "Transpose", "LayerNormalization", "Erf", "Div", "HardSwish",
                             "HardSigmoid", "BatchNormalization", "Flatten"]
        XCTAssertEqual(expected.subtracting(ops), [])
    }

    func testWithPreprocessingNormalisesFirstAndAddsProbabilities() throws {
        let (m, file) = try Self.exported("resnet18", withPreprocessing: true)
        XCTAssertEqual(Array(m.graph.node.prefix(2).map(\.opType)), ["Sub", "Div"])
        XCTAssertEqual(m.graph.output.map(\.name), ["logits", "probabilities"])
        XCTAssertEqual(m.graph.node.last?.opType, "Softmax")
        assertTopological(m.graph)
        let mean = try XCTUnwrap(m.graph.initializer.first { $0.name == "mean" })
        XCTAssertEqual(mean.dims, [1, 3, 1, 1])
        XCTAssertEqual(mean.rawData.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }, file.mean)
        XCTAssertEqual(m.metadataProps.first { $0.key == "input" }?.value, "rgb01")
    }

    /// The command writes a file that parses back, atomically, and refuses a model it cannot read.
    func testWriteAndReadBack() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("finetune-export-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let (file, backbone) = try Self.modelFile("resnet18")
        let url = dir.appendingPathComponent("model.onnx")
        try ONNXExport.write(try ONNXExport.model(file, backbone: backbone, file: "m"), to: url)
        let back = try Onnx_ModelProto(serializedBytes: try Data(contentsOf: url))
        // Each convolution's weights keep their name and OIHW shape; the head's (4, 512) become (4, 512, 1, 1).
        let shapes = Dictionary(uniqueKeysWithValues: back.graph.initializer.map { ($0.name, $0.dims.map(Int.init)) })
        for t in file.tensors where t.shape.count == 4 { XCTAssertEqual(shapes[t.name], t.shape, t.name) }
        XCTAssertEqual(shapes["head.weight"], [4, 512, 1, 1])
        XCTAssertEqual(shapes["head.bias"], [4])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["model.onnx"])
    }
}
