import Foundation
import XCTest
@testable import FineTuneCore

final class IOModelFileTests: XCTestCase {
    /// io-tiny.pth imported by hand: its classifier as the head of the tiny graph.
    func tinyModel() throws -> ModelFile {
        let sd = try StateDict.load(contentsOf: IOFixture.url("io-tiny.pth"))
        let tensors = try sd.matchedTensors(to: IOFixture.tinyGraph(classes: 5), classifier: .keepAsHead)
        return ModelFile(backbone: "tiny", pluginVersion: "0.1", classes: ["a", "b", "c", "d", "e/f \"g\""],
                         inputSize: 16, evalResize: 20, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225],
                         provenance: Provenance(command: "train", source: "io-tiny.pth", strategy: "two-stage",
                                                stage: "full", epoch: 3, metrics: ["val_accuracy": 0.75]),
                         tensors: tensors)
    }

    func testWriteAndReadBack() throws {
        let model = try tinyModel()
        let url = try IOFixture.temporaryDirectory(self).appendingPathComponent("best.safetensors")
        try model.write(to: url)
        let read = try ModelFile(contentsOf: url)
        XCTAssertEqual(read.backbone, "tiny")
        XCTAssertEqual(read.pluginVersion, "0.1")
        XCTAssertEqual(read.classes, model.classes)
        XCTAssertEqual(read.head, "linear")
        XCTAssertEqual([read.inputSize, read.evalResize], [16, 20])
        XCTAssertEqual(read.mean, model.mean)
        XCTAssertEqual(read.std, model.std)
        XCTAssertEqual(read.provenance, model.provenance)
        XCTAssertEqual(read.tensors, model.tensors)
        // The metadata is plain safetensors metadata other tools can read.
        let raw = try SafeTensorsFile(contentsOf: url)
        XCTAssertEqual(raw.metadata["format_version"], "1")
        XCTAssertEqual(raw.metadata["classes"], #"["a","b","c","d","e/f \"g\""]"#)
        XCTAssertEqual(raw.metadata["input_size"], "16")
        // Its tensors load back into the graph, every key checked.
        let weights = try StateDict(tensors: read.tensors, file: url.path).matched(to: IOFixture.tinyGraph(classes: 5), classifier: .keepAsHead)
        XCTAssertEqual(weights.count, 14)
    }

    func testBadModelFilesAreNamed() throws {
        let model = try tinyModel()
        let dir = try IOFixture.temporaryDirectory(self)
        func write(_ edit: (inout [String: String]) -> Void, tensors: [NamedTensor]? = nil) throws -> URL {
            var metadata = model.metadata
            edit(&metadata)
            let url = dir.appendingPathComponent("m.safetensors")
            try SafeTensorsWriter.write(tensors ?? model.tensors, metadata: metadata, to: url)
            return url
        }
        assertIOError(try ModelFile(contentsOf: write { $0["format_version"] = nil }),
                     mentioning: ["m.safetensors", "not a finetune model file", "import"])
        assertIOError(try ModelFile(contentsOf: write { $0["format_version"] = "2" }),
                     mentioning: ["format version '2'", "reads version 1"])
        assertIOError(try ModelFile(contentsOf: write { $0["classes"] = "[\"a\"" }), mentioning: ["'classes'"])
        assertIOError(try ModelFile(contentsOf: write { $0["input_size"] = "big" }), mentioning: ["'input_size'"])
        assertIOError(try ModelFile(contentsOf: write { $0["backbone"] = nil }), mentioning: ["'backbone'", "missing"])
        assertIOError(try ModelFile(contentsOf: write { $0["head"] = "mlp" }), mentioning: ["head 'mlp'"])
        assertIOError(try ModelFile(contentsOf: write { $0["classes"] = "[\"a\",\"b\"]" }),
                     mentioning: ["head.weight", "2 class names"])
        assertIOError(try ModelFile(contentsOf: write({ _ in }, tensors: Array(model.tensors.dropLast()))),
                     mentioning: ["head.bias"])
    }

    func testAMissingBackbonePluginIsNamed() throws {
        let model = try tinyModel()
        let url = try IOFixture.temporaryDirectory(self).appendingPathComponent("model.safetensors")
        try model.write(to: url)
        assertIOError(try ModelFile.load(contentsOf: url, catalog: PluginCatalog(directories: [])),
                     mentioning: ["model.safetensors", "needs backbone 'tiny'", "installed: none", "--plugin-dir"])
    }

    func testClassNamesFile() throws {
        let dir = try IOFixture.temporaryDirectory(self)
        let url = dir.appendingPathComponent("classes.txt")
        try "katana\n  gun \n\nbow\n".write(to: url, atomically: true, encoding: .utf8)
        XCTAssertEqual(try ModelFile.readClassNames(contentsOf: url), ["katana", "gun", "bow"])
        try "a\nb\na\n".write(to: url, atomically: true, encoding: .utf8)
        assertIOError(try ModelFile.readClassNames(contentsOf: url), mentioning: ["classes.txt", "'a' appears twice"])
        try "\n".write(to: url, atomically: true, encoding: .utf8)
        assertIOError(try ModelFile.readClassNames(contentsOf: url), mentioning: ["no class names"])
    }

    /// `finetune import`'s library path, with torchvision's resnet18 keys (zeros) and the plugin.
    func testImportingAResNet18Checkpoint() throws {
        let catalog = PluginCatalog(directories: [PluginCatalog.executableDir!])
        guard let resnet = catalog.backbones.first(where: { $0.name == "resnet18" }) else {
            throw XCTSkip("the resnet18 plugin is not built")
        }
        var tensors = try resnet.makeClassifier(classes: 3).tensors.map { NamedTensor(zeros: $0.name, shape: $0.shape) }
        tensors = tensors.map { t in
            var t = t
            t.name = t.name.replacingOccurrences(of: "head.", with: "fc.")
            return t
        }
        let dir = try IOFixture.temporaryDirectory(self)
        let weights = dir.appendingPathComponent("resnet18-3.safetensors")
        try SafeTensorsWriter.write(tensors, to: weights)
        let sd = try StateDict.load(contentsOf: weights)
        assertIOError(try ModelFile.importing(sd, backbone: resnet, classNames: ["a", "b"]),
                     mentioning: ["3 outputs", "2 class names"])
        let model = try ModelFile.importing(sd, backbone: resnet, classNames: nil)
        XCTAssertEqual(model.classes, ["class0", "class1", "class2"])
        XCTAssertEqual(model.provenance.source, "resnet18-3.safetensors")
        let out = dir.appendingPathComponent("model.safetensors")
        try model.write(to: out)
        let (read, backbone) = try ModelFile.load(contentsOf: out, catalog: catalog)
        XCTAssertEqual(backbone.name, "resnet18")
        XCTAssertEqual(read.inputSize, 224)
        XCTAssertEqual(try read.graphAndWeights(backbone: backbone, file: out.path).weights.count, tensors.count)
    }
}
