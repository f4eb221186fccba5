import Foundation
import XCTest
import FineTuneCore

/// `predict` and `evaluate` given model files whose metadata was tampered with: each is refused
/// with exit status 1 and a message naming the file and the key; nothing crashes, nothing reaches
/// the terminal raw.
final class ModelFileCLITests: CLITestCase {
    /// A model file of the example plugin's tiny-cnn (zero weights, 3 classes), `edit` applied to its metadata.
    func writeModel(_ name: String, _ edit: (inout [String: String]) -> Void = { _ in }) throws -> String {
        let backbone = try PluginCatalog(directories: [dir.path]).backbone(named: "tiny-cnn")
        let graph = try backbone.makeClassifier(classes: 3)
        let model = ModelFile(backbone: backbone, classes: ["cat", "dog", "bird"], provenance: Provenance(command: "train"),
                              tensors: graph.tensors.map { NamedTensor(zeros: $0.name, shape: $0.shape) })
        var metadata = model.metadata
        edit(&metadata)
        let url = dir.appendingPathComponent(name)
        try SafeTensorsWriter.write(model.tensors, metadata: metadata, to: url)
        return url.path
    }

    func testTamperedModelFilesAreRefusedByName() throws {
        try compileExample("tiny_cnn.so")
        let data = dir.appendingPathComponent("data").path
        _ = try DemoDataset.write(to: data, perClass: 1, heldOut: 1)
        let good = try writeModel("good.safetensors")
        let ok = try runFinetune(["predict", "--plugin-dir", dir.path, "--model", good, data + "/holdout"])
        XCTAssertEqual(ok.status, 0, ok.stderr)

        let cases: [(name: String, edit: (inout [String: String]) -> Void, mentions: [String])] = [
            ("in32.safetensors", { $0["input_size"] = "4294967296" }, ["'input_size'", "4294967296"]),
            ("in62.safetensors", { $0["input_size"] = "4611686018427387904" }, ["'input_size'"]),
            ("in100k.safetensors", { $0["input_size"] = "100000" }, ["'input_size'", "16 to 2048"]),
            ("resize.safetensors", { $0["eval_resize"] = "4611686018427387904" }, ["'eval_resize'"]),
            ("std0.safetensors", { $0["std"] = "[0,0,0]" }, ["'std'"]),
            ("twice.safetensors", { $0["classes"] = #"["cat","dog","cat"]"# }, ["'cat' appears twice"]),
            ("ansi.safetensors", { $0["classes"] = #"["cat","\u001b[2J\u001b]0;x\u0007","bird"]"# }, ["class name 2", "control character"]),
            ("count.safetensors", { $0["classes"] = #"["cat","dog"]"# }, ["2 class names"]),
            ("head.safetensors", { $0["head"] = "mlp:1000000000" }, ["'head'", "1 to 65536"]),
        ]
        for (name, edit, mentions) in cases {
            let model = try writeModel(name, edit)
            for arguments in [["predict", "--model", model, data + "/holdout"], ["evaluate", "--model", model, "--data", data]] {
                let r = try runFinetune(arguments + ["--plugin-dir", dir.path])
                XCTAssertEqual(r.status, 1, "\(name) \(arguments[0]): \(r.stderr)")
                for part in [model + ": "] + mentions {
                    XCTAssertTrue(r.stderr.contains(part), "\(name) \(arguments[0]): stderr lacks '\(part)':\n\(r.stderr)")
                }
                XCTAssertFalse(r.stderr.contains("\u{1B}") || r.stdout.contains("\u{1B}"), "\(name): a raw escape was printed")
            }
        }
    }

    /// The executor refuses a batch at the model's input size that the machine cannot hold.
    func testABatchTooLargeForTheMachineIsRefused() throws {
        try compileExample("tiny_cnn.so")
        let model = try writeModel("large.safetensors") { $0["input_size"] = "2048"; $0["eval_resize"] = "2048" }
        let r = try runFinetune(["evaluate", "--plugin-dir", dir.path, "--model", model, "--data", "data", "--batch-size", "65536"])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("not enough memory for inference on batches of 65536"), r.stderr)
        XCTAssertTrue(r.stderr.contains("lower --batch-size or --input-size"), r.stderr)
    }

    /// A class folder whose name a model file could not hold is refused before training starts.
    func testTrainRefusesAClassNameAModelFileWouldRefuse() throws {
        let data = dir.appendingPathComponent("data").path
        _ = try DemoDataset.write(to: data, perClass: 2, heldOut: 1)
        for split in ["train", "val"] {
            try FileManager.default.moveItem(atPath: "\(data)/\(split)/disks", toPath: "\(data)/\(split)/disks\u{1B}[31m")
        }
        let r = try runFinetune(["train", "--backbone", "mobilenet-v2", "--data", data, "--output", dir.appendingPathComponent("run").path,
                                 "--input-size", "32", "--batch-size", "2"])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("'disks\\u{1B}[31m'") && r.stderr.contains("control character"), r.stderr)
        XCTAssertFalse(r.stderr.contains("\u{1B}") || r.stdout.contains("\u{1B}"), "a raw escape was printed")
    }

    /// Names from outside print inert: an image whose file name holds an escape sequence.
    func testNamesArePrintedWithoutTheirControlCharacters() throws {
        try compileExample("tiny_cnn.so")
        let data = dir.appendingPathComponent("data").path
        _ = try DemoDataset.write(to: data, perClass: 1, heldOut: 1)
        let holdout = try FileManager.default.contentsOfDirectory(atPath: data + "/holdout").sorted()
        let image = dir.appendingPathComponent("\u{1B}[31mred." + (holdout[0] as NSString).pathExtension).path
        try FileManager.default.copyItem(atPath: data + "/holdout/" + holdout[0], toPath: image)
        let r = try runFinetune(["predict", "--plugin-dir", dir.path, "--model", try writeModel("good.safetensors"), image])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertFalse(r.stdout.contains("\u{1B}"), r.stdout)
        XCTAssertTrue(r.stdout.contains("\\u{1B}[31mred."), r.stdout)
    }
}
