import Foundation
import XCTest
@testable import FineTuneCore

/// Whole runs of the trainer on a small generated image folder (mobilenet-v2 at 64 px).
final class TrainingEndToEndTests: XCTestCase {
    static let data: String = {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("finetune-train-data-\(UUID().uuidString)").path
        try! DemoDataset.write(to: dir, perClass: 12, heldOut: 1)
        return dir
    }()

    var outputs: [String] = []
    override func tearDown() {
        for o in outputs { try? FileManager.default.removeItem(atPath: o) }
    }

    func options(_ strategy: TrainingOptions.Strategy = .twoStage) -> TrainingOptions {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("finetune-run-\(UUID().uuidString)").path
        outputs.append(out)
        var o = TrainingOptions(backbone: "mobilenet-v2", data: Self.data, output: out)
        o.strategy = strategy
        o.freezeEpochs = 1
        o.epochs = 2
        o.batchSize = 8
        o.inputSize = 64
        o.logEvery = 2
        o.seed = 5
        return o
    }

    func trainer(_ o: TrainingOptions, resume: Bool = false, stopAfter steps: Int? = nil) throws -> Trainer {
        var polls = 0
        return try Trainer(options: o, catalog: BuiltInBackboneTests.catalog, resume: resume, onEvent: { _ in }, shouldStop: {
            polls += 1
            return steps.map { polls > $0 } ?? false
        })
    }

    func testTwoStageRunWritesEveryArtifact() throws {
        let o = options()
        guard case .finished(let best) = try trainer(o).run() else { return XCTFail("interrupted") }
        let files = try FileManager.default.contentsOfDirectory(atPath: o.output)
        for name in ["best.safetensors", "last.safetensors", "metrics.jsonl", "report.html", TrainingState.fileName] {
            XCTAssertTrue(files.contains(name), "\(name) in \(files)")
        }
        let accuracy = try XCTUnwrap(best?.accuracy)
        XCTAssertTrue(files.contains(String(format: "mobilenet-v2.%@.%.4f.safetensors", URL(fileURLWithPath: Self.data).lastPathComponent, accuracy))
                      || files.contains { $0.hasPrefix("mobilenet-v2.finetune-train-data-") }, "\(files)")
        let records = Trainer.readRecords(URL(fileURLWithPath: o.output))
        XCTAssertEqual(records.filter { $0.kind == .epoch }.map(\.stage), ["freeze", "finetune", "finetune"])
        XCTAssertEqual(records.filter { $0.kind == .epoch }.map(\.epoch), [1, 2, 3])
        XCTAssertTrue(records.filter { $0.kind == .epoch }.allSatisfy { $0.val_accuracy != nil && $0.val_loss != nil })
        XCTAssertFalse(records.filter { $0.kind == .step }.isEmpty)
        let html = try String(contentsOfFile: o.output + "/report.html", encoding: .utf8)
        XCTAssertTrue(html.contains("freeze → finetune"))
        // The model file classifies with the library API.
        let classifier = try ImageClassifier(contentsOf: URL(fileURLWithPath: o.output + "/best.safetensors"),
                                             catalog: BuiltInBackboneTests.catalog)
        XCTAssertEqual(classifier.classes, DemoDataset.classes)
        let holdout = Self.data + "/holdout/disks-0.jpg"
        let result = try classifier.classify(imageAt: FileManager.default.fileExists(atPath: holdout) ? holdout : Self.data + "/holdout/disks-0.png")
        XCTAssertEqual(result.probabilities.reduce(0, +), 1, accuracy: 1e-6)
    }

    func testFreezeTrainsOnlyTheHead() throws {
        let o = options(.freeze)
        let t = try trainer(o)
        let before = try t.model.tensor("features.2.conv.0.0.weight"), headBefore = try t.model.tensor("head.weight")
        let runningBefore = try t.model.tensor("features.2.conv.0.1.running_mean")
        _ = try t.run()
        let last = try ModelFile(contentsOf: URL(fileURLWithPath: o.output + "/last.safetensors"))
        func values(_ name: String) -> [Float] { last.tensors.first { $0.name == name }!.values }
        XCTAssertEqual(values("features.2.conv.0.0.weight"), before)
        XCTAssertEqual(values("features.2.conv.0.1.running_mean"), runningBefore, "frozen BN keeps its statistics")
        XCTAssertNotEqual(values("head.weight"), headBefore)
    }

    func testResumeAfterInterruptionEndsWhereAnUninterruptedRunEnds() throws {
        let a = options()
        _ = try trainer(a).run()
        var b = options()
        b.seed = a.seed
        // Stop inside the second stage (epoch 2 of 3: 4 steps per epoch with 36 images in batches of 8).
        guard case .interrupted = try trainer(b, stopAfter: 6).run() else { return XCTFail("expected an interruption") }
        let state = try TrainingState.read(from: URL(fileURLWithPath: b.output))
        XCTAssertEqual(state.stage, 1)
        XCTAssertGreaterThan(state.batchInEpoch, 0)
        guard case .finished = try trainer(b, resume: true).run() else { return XCTFail("interrupted again") }
        let x = try ModelFile(contentsOf: URL(fileURLWithPath: a.output + "/last.safetensors")).tensors
        let y = try ModelFile(contentsOf: URL(fileURLWithPath: b.output + "/last.safetensors")).tensors
        XCTAssertEqual(x.map(\.name), y.map(\.name))
        for (p, q) in zip(x, y) {
            let scale = max(p.values.map(abs).max() ?? 0, 1e-6)
            let worst = zip(p.values, q.values).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThanOrEqual(worst / scale, 1e-5, p.name)
        }
        let records = Trainer.readRecords(URL(fileURLWithPath: b.output)).filter { $0.kind == .epoch }
        XCTAssertEqual(records.map(\.epoch), [1, 2, 3])
    }

    func testDivergingLossStopsWithAClearError() throws {
        var o = options(.full)
        o.optimizer = .sgd
        o.lr = 1e12
        o.epochs = 3
        XCTAssertThrowsError(try trainer(o).run()) { error in
            XCTAssertTrue("\(error)".contains("the loss became"), "\(error)")
            XCTAssertTrue("\(error)".contains("Lower --lr"), "\(error)")
        }
    }
}
