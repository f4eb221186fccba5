import Foundation
import XCTest
@testable import FineTuneCore

/// Model files whose metadata asks for what finetune must not do: each is refused on load with
/// an error naming the file and the key, before a graph or a buffer is sized from it.
final class ModelFileValidationTests: XCTestCase {
    /// A model of the tiny test graph (zeros) with `head` for `classes`.
    func model(head: HeadSpec = .linear, classes: [String] = ["cat", "dog", "bird"]) throws -> ModelFile {
        var graph = try IOFixture.tinyGraph()
        try graph.attachHead(head, classes: classes.count)
        return ModelFile(backbone: "tiny", pluginVersion: "0.1", classes: classes, head: head.description,
                         inputSize: 16, evalResize: 20, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225],
                         provenance: Provenance(command: "train"),
                         tensors: graph.tensors.map { NamedTensor(zeros: $0.name, shape: $0.shape) })
    }

    /// Asserts that `model`'s bytes with `edit` applied to the metadata are refused, naming the file and `parts`.
    func assertRefused(_ model: ModelFile, _ edit: (inout [String: String]) -> Void, mentioning parts: [String],
                       file: StaticString = #filePath, line: UInt = #line) throws {
        var metadata = model.metadata
        edit(&metadata)
        let data = try SafeTensorsWriter.encode(model.tensors, metadata: metadata)
        assertIOError(try ModelFile(data: data, file: "m.safetensors"), mentioning: ["m.safetensors: "] + parts,
                      file: file, line: line)
    }

    func testAGoodModelFileLoads() throws {
        for head in [HeadSpec.linear, HeadSpec(hidden: [8, 5])] {
            let model = try model(head: head)
            let read = try ModelFile(data: try SafeTensorsWriter.encode(model.tensors, metadata: model.metadata), file: "m")
            XCTAssertEqual(read.classes, model.classes)
            XCTAssertEqual(read.headSpec, head)
        }
    }

    func testSizesOutsideTheLimitsAreRefused() throws {
        let model = try model()
        for size in ["4294967296", "4611686018427387904", "100000", "15", "0", "-224"] {
            try assertRefused(model, { $0["input_size"] = size }, mentioning: ["'input_size'", size, "16 to 2048"])
        }
        try assertRefused(model, { $0["input_size"] = "99999999999999999999" }, mentioning: ["'input_size'", "not an integer"])
        for resize in ["4611686018427387904", "4294967296", "12"] {
            try assertRefused(model, { $0["eval_resize"] = resize }, mentioning: ["'eval_resize'", resize, "from input_size (16)"])
        }
    }

    /// The evaluation resize's filter reads back as written; a file from before it was recorded
    /// reads as bilinear; any other value is refused.
    func testInterpolationIsRecordedAndChecked() throws {
        var bicubic = try model()
        bicubic.interpolation = .bicubic
        XCTAssertEqual(bicubic.metadata["interpolation"], "bicubic")
        let read = try ModelFile(data: try SafeTensorsWriter.encode(bicubic.tensors, metadata: bicubic.metadata), file: "m")
        XCTAssertEqual(read.interpolation, .bicubic)
        var older = bicubic.metadata
        older["interpolation"] = nil
        XCTAssertEqual(try ModelFile(data: try SafeTensorsWriter.encode(bicubic.tensors, metadata: older), file: "m").interpolation, .bilinear)
        try assertRefused(bicubic, { $0["interpolation"] = "lanczos" }, mentioning: ["'interpolation'", "lanczos", "\"bilinear\" or \"bicubic\""])
        try assertRefused(bicubic, { $0["interpolation"] = "bicubic\u{1B}[2J" }, mentioning: ["'interpolation'", "\\u{1B}"])
    }

    func testNormalisationThatIsNotFiniteIsRefused() throws {
        let model = try model()
        try assertRefused(model, { $0["std"] = "[0,0.224,0.225]" }, mentioning: ["'std'", "at least"])
        try assertRefused(model, { $0["std"] = "[-1,0.224,0.225]" }, mentioning: ["'std'"])
        try assertRefused(model, { $0["std"] = "[0.229,0.224]" }, mentioning: ["'std'", "2 numbers"])
        try assertRefused(model, { $0["mean"] = "[1e30,0.456,0.406]" }, mentioning: ["'mean'", "-1000.0 to 1000.0"])
        try assertRefused(model, { $0["mean"] = "[\"a\",0.456,0.406]" }, mentioning: ["'mean'", "not a valid JSON"])
    }

    func testClassNamesAreUniquePrintableAndBounded() throws {
        let model = try model()
        func classes(_ names: [String]) -> (inout [String: String]) -> Void {
            { $0["classes"] = String(decoding: try! JSONEncoder().encode(names), as: UTF8.self) }
        }
        try assertRefused(model, classes(["cat", "dog", "cat"]), mentioning: ["'classes'", "'cat' appears twice (names 1 and 3)"])
        try assertRefused(model, classes(["cat", "\u{1B}[2J\u{1B}]0;owned\u{07}", "bird"]),
                          mentioning: ["'classes'", "class name 2", "'\\u{1B}[2J\\u{1B}]0;owned\\u{7}'", "control character"])
        try assertRefused(model, classes(["cat", "dog\u{202E}gnp.exe", "bird"]), mentioning: ["class name 2", "control character"])
        try assertRefused(model, classes(["cat", "two\nlines", "bird"]), mentioning: ["class name 2", "'two\\nlines'"])
        try assertRefused(model, classes(["cat", " ", "bird"]), mentioning: ["class name 2 is blank"])
        try assertRefused(model, classes(["cat", String(repeating: "x", count: 5000), "bird"]),
                          mentioning: ["class name 2 is 5000 bytes long", "at most 1024"])
        try assertRefused(model, { $0["backbone"] = "tiny\u{1B}[31m" }, mentioning: ["'backbone'", "control character"])
        // Whatever the error says, it carries no raw escape to the terminal.
        var metadata = model.metadata
        classes(["cat", "\u{1B}[31mred", "bird"])(&metadata)
        do {
            _ = try ModelFile(data: try SafeTensorsWriter.encode(model.tensors, metadata: metadata), file: "m")
            XCTFail("an escape sequence in a class name loaded")
        } catch {
            XCTAssertFalse("\(error)".contains("\u{1B}"), "\(error)")
        }
    }

    func testTheHeadMustAgreeWithItsSpecAndTheClasses() throws {
        let linear = try model()
        try assertRefused(linear, { $0["classes"] = #"["a","b"]"# }, mentioning: ["head.weight is [3, 4]", "2 class names"])
        try assertRefused(linear, { $0["head"] = "mlp:1000000000" }, mentioning: ["'head'", "1000000000", "1 to 65536"])
        try assertRefused(linear, { $0["head"] = "mlp:" + Array(repeating: "8", count: 17).joined(separator: ",") },
                          mentioning: ["'head'", "more than 16 hidden layers"])
        try assertRefused(linear, { $0["head"] = "mlp:8" }, mentioning: ["head.0.weight and head.0.bias are missing"])
        let mlp = try model(head: HeadSpec(hidden: [8, 5]))
        try assertRefused(mlp, { $0["head"] = "mlp:8,6" }, mentioning: ["head.1.weight is [5, 8]", "head mlp:8,6 makes layer 1 6 wide"])
        try assertRefused(mlp, { $0["head"] = "mlp:8" }, mentioning: ["head.1.weight is [5, 8]", "3 class names"])
    }

    /// `ImageClassifier` refuses a bad model file before it looks for the backbone's plugin, and
    /// a batch size it cannot run.
    func testImageClassifierRefusesBeforeBuildingAnything() throws {
        let model = try model()
        var metadata = model.metadata
        metadata["input_size"] = String(1 << 62)
        let url = try IOFixture.temporaryDirectory(self).appendingPathComponent("huge.safetensors")
        try SafeTensorsWriter.write(model.tensors, metadata: metadata, to: url)
        assertIOError(try ImageClassifier(contentsOf: url, catalog: PluginCatalog(directories: [])),
                      mentioning: ["huge.safetensors", "'input_size'", "4611686018427387904"])
        assertIOError(try ImageClassifier(contentsOf: url, catalog: PluginCatalog(directories: []), batchSize: 0),
                      mentioning: ["--batch-size", "from 1 to 65536"])
    }

    /// A model file is never written when it would be refused on reading.
    func testWritingRefusesWhatReadingWould() throws {
        var model = try model()
        model.classes = ["cat", "dog", "cat"]
        let url = try IOFixture.temporaryDirectory(self).appendingPathComponent("dup.safetensors")
        assertIOError(try model.write(to: url), mentioning: ["dup.safetensors", "'cat' appears twice"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: url.path))
    }

    func testTerminalSafeText() {
        XCTAssertEqual("plain name ✓".terminalSafe, "plain name ✓")
        XCTAssertEqual("a\u{1B}[31mb\u{9B}c\u{7F}".terminalSafe, "a\\u{1B}[31mb\\u{9B}c\\u{7F}")
        XCTAssertEqual("x\u{202E}y\tz".terminalSafe, "x\\u{202E}y\\tz")
        XCTAssertEqual("a\u{1B}\nb".terminalSafeLines, "a\\u{1B}\nb")
        XCTAssertFalse("日本語 émigré".hasControlCharacters)
        XCTAssertEqual(String(repeating: "x", count: 150).quotedForTerminal,
                       "'" + String(repeating: "x", count: 100) + "...' (150 characters)")
    }
}

extension ModelFileValidationTests {
    /// The fuzz target's seeds: the good model files read, the near-misses are refused.
    func testFuzzSeedsReadAsTheirNamesSay() throws {
        let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fuzz/Corpus/modelfile")
        for name in ["linear", "mlp"] {
            XCTAssertNoThrow(try ModelFile(contentsOf: corpus.appendingPathComponent(name + ".safetensors")), name)
        }
        for (name, key) in [("input-size-2-62", "'input_size'"), ("std-zero", "'std'"), ("classes-escape-twice", "class name 2"),
                            ("head-huge", "'head'")] {
            assertIOError(try ModelFile(contentsOf: corpus.appendingPathComponent(name + ".safetensors")), mentioning: [key])
        }
    }
}
