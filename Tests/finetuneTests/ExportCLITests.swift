import Foundation
import ONNXProto
import XCTest
import FineTuneCore

/// `finetune export` from the command line, on the example C plugin's tiny-cnn.
final class ExportCLITests: CLITestCase {
    func writeModel(head: HeadSpec = .linear) throws -> String {
        try compileExample("tiny_cnn.so")
        let backbone = try PluginCatalog(directories: [dir.path]).backbone(named: "tiny-cnn")
        let graph = try backbone.makeClassifier(classes: 3, head: head)
        var model = ModelFile(backbone: backbone, classes: ["cat", "dog", "bird"], provenance: Provenance(command: "train"),
                              tensors: graph.tensors.map { NamedTensor(zeros: $0.name, shape: $0.shape) })
        model.head = head.description
        let url = dir.appendingPathComponent("model.safetensors")
        try model.write(to: url)
        return url.path
    }

    func testExportsONNXThatParsesBack() throws {
        let model = try writeModel()
        let output = dir.appendingPathComponent("model.onnx").path
        let r = try runFinetune(["export", "--plugin-dir", dir.path, "--model", model, "--output", output, "--with-preprocessing"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssert(r.stdout.contains("ONNX opset 17, tiny-cnn"), r.stdout)
        let onnx = try Onnx_ModelProto(serializedBytes: try Data(contentsOf: URL(fileURLWithPath: output)))
        XCTAssertEqual(onnx.graph.output.map(\.name), ["logits", "probabilities"])
        XCTAssertEqual(onnx.metadataProps.first { $0.key == "classes" }?.value, #"["cat","dog","bird"]"#)
    }

    func testSafetensorsBackboneSaysWhereTheHeadWent() throws {
        let model = try writeModel(head: HeadSpec(hidden: [8]))
        let output = dir.appendingPathComponent("backbone.safetensors").path
        let r = try runFinetune(["export", "--plugin-dir", dir.path, "--model", model, "--output", output,
                                 "--format", "safetensors-backbone"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssert(r.stdout.contains("an MLP head has no torchvision counterpart"), r.stdout)
        let back = try StateDict.load(contentsOf: URL(fileURLWithPath: output))
        XCTAssertFalse(back.names.contains { $0.hasPrefix("head.") })
    }

    func testMistakesAreClearErrors() throws {
        let model = try writeModel()
        let output = dir.appendingPathComponent("x.onnx").path
        let wrongFormat = try runFinetune(["export", "--plugin-dir", dir.path, "--model", model, "--output", output,
                                           "--format", "safetensors-backbone", "--with-preprocessing"])
        XCTAssertEqual(wrongFormat.status, 64)
        XCTAssert(wrongFormat.stderr.contains("--with-preprocessing applies to --format onnx only"), wrongFormat.stderr)
        let unknown = try runFinetune(["export", "--model", model, "--output", output, "--format", "tflite"])
        XCTAssertEqual(unknown.status, 64)
        XCTAssert(unknown.stderr.contains("onnx"), unknown.stderr)
        let missing = try runFinetune(["export", "--plugin-dir", dir.path, "--model", dir.appendingPathComponent("none.safetensors").path,
                                       "--output", output])
        XCTAssertEqual(missing.status, 1)
        XCTAssert(missing.stderr.contains("none.safetensors"), missing.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: output))
    }
}
