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
        let o = Self.tinyRun(strategy, prefix: "finetune-run")
        outputs.append(o.output)
        return o
    }

    /// A short run on `data` (mobilenet-v2 at 64 px, batches of 8) into a new temporary folder.
    static func tinyRun(_ strategy: TrainingOptions.Strategy, prefix: String) -> TrainingOptions {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)").path
        var o = TrainingOptions(backbone: "mobilenet-v2", data: data, output: out)
        o.strategy = strategy
        o.freezeEpochs = 1
        o.epochs = 2
        o.batchSize = 8
        o.inputSize = 64
        o.logEvery = 2
        o.seed = 5
        return o
    }

    func trainer(_ o: TrainingOptions, resume: Bool = false, overwrite: Bool = false, stopAfter steps: Int? = nil,
                 commandLine: [String] = []) throws -> Trainer {
        var polls = 0
        return try Trainer(options: o, catalog: BuiltInBackboneTests.catalog, resume: resume, overwrite: overwrite,
                           commandLine: commandLine, onEvent: { _ in }, shouldStop: {
            polls += 1
            return steps.map { polls > $0 } ?? false
        })
    }

    func testTwoStageRunWritesEveryArtifact() throws {
        let o = options()
        guard case .finished(let best) = try trainer(o).run() else { return XCTFail("interrupted") }
        let files = try FileManager.default.contentsOfDirectory(atPath: o.output)
        for name in ["best.safetensors", "last.safetensors", "metrics.jsonl", "report.html", "training-state.json", "optimizer.safetensors"] {
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
        // 36 training images in batches of 8, the last incomplete one left out: 4 steps per epoch.
        XCTAssertEqual(records.filter { $0.kind == .epoch }.map { $0.step_learning_rates?.count }, [4, 4, 4])
        XCTAssertEqual(records.filter { $0.kind == .epoch }.map { $0.step_learning_rates?.last }, [1e-3, 1e-4, 1e-4].map { Double(Float($0)) })
        let html = try String(contentsOfFile: o.output + "/report.html", encoding: .utf8)
        XCTAssertTrue(html.contains("freeze → finetune"))
        XCTAssertEqual(html.components(separatedBy: "<table class=\"metrics epochs\">").count, 2)
        // The best model's mistakes on the validation set, as thumbnails (as many as it made, up to the limit).
        let confusion = try XCTUnwrap(best?.confusion)
        let wrong = confusion.total - confusion.classes.indices.reduce(0) { $0 + confusion.counts[$1][$1] }
        XCTAssertGreaterThan(wrong, 0, "the test needs a model that makes mistakes")
        XCTAssertEqual(html.components(separatedBy: "<img src=\"data:image/jpeg;base64,").count - 1, min(wrong, Limits.reportTopLosses))
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
        try t.calibrateBatchNorm()  // run() measures the statistics again, to the same values, before its first step
        let before = try t.model.tensor("features.2.conv.0.0.weight"), headBefore = try t.model.tensor("head.weight")
        let runningBefore = try t.model.tensor("features.2.conv.0.1.running_mean")
        _ = try t.run()
        let last = try ModelFile(contentsOf: URL(fileURLWithPath: o.output + "/last.safetensors"))
        func values(_ name: String) -> [Float] { last.tensors.first { $0.name == name }!.values }
        XCTAssertEqual(values("features.2.conv.0.0.weight"), before)
        XCTAssertEqual(values("features.2.conv.0.1.running_mean"), runningBefore, "frozen BN keeps its statistics")
        XCTAssertNotEqual(values("head.weight"), headBefore)
    }

    /// (Features computed batch by batch and not standardized: a head trained on standardized
    /// features is saved folded onto raw ones, and a resumed run unfolds it again, which rounds;
    /// `TrainingFeatureCacheTests` resumes such a stage.)
    func testResumeAfterInterruptionEndsWhereAnUninterruptedRunEnds() throws {
        var a = options()
        a.cacheFeatures = 0
        a.standardizeCachedFeatures = false
        _ = try trainer(a).run()
        var b = options()
        b.cacheFeatures = 0
        b.standardizeCachedFeatures = false
        b.seed = a.seed
        // Stop inside the second stage (epoch 2 of 3: 4 steps per epoch with 36 images in batches of 8;
        // polled before each step, each of the 2 validation batches and after validation).
        let started = ["finetune", "train", "--output", b.output, "--lr", "0.001"]
        guard case .interrupted = try trainer(b, stopAfter: 9, commandLine: started).run() else { return XCTFail("expected an interruption") }
        let state = try TrainingState(contentsOf: RunFolder(URL(fileURLWithPath: b.output)).url(.state))
        XCTAssertEqual(state.stage, 1)
        XCTAssertEqual(state.batchInEpoch, 2)
        Thread.sleep(forTimeInterval: 1.5)  // a pause between the sessions, which the wall time leaves out
        let resumed = ["finetune", "train", "--resume", b.output]
        guard case .finished = try trainer(b, resume: true, commandLine: resumed).run() else { return XCTFail("interrupted again") }
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

        // The wall time goes on across the resume and leaves out the pause between the sessions.
        let finished = try TrainingState(contentsOf: RunFolder(URL(fileURLWithPath: b.output)).url(.state))
        XCTAssertEqual(finished.sessions.count, 2)
        XCTAssertEqual(finished.sessions[0], state.sessions[0], "the first session ended at its last commit")
        XCTAssertGreaterThanOrEqual(finished.sessions[1].start - finished.sessions[0].end, 1.5)
        XCTAssertEqual(records.map(\.elapsed), records.map(\.elapsed).sorted(), "elapsed never starts again from 0")
        XCTAssertGreaterThan(records[1].elapsed, state.sessions[0].seconds, "epoch 2 ended in the second session")
        XCTAssertLessThanOrEqual(records[2].elapsed, finished.sessions.seconds + 1e-6)
        XCTAssertEqual(finished.commandLine, started)
        let html = try String(contentsOfFile: b.output + "/report.html", encoding: .utf8)
        XCTAssertTrue(html.contains("over 2 sessions"), "the report's wall time sums the sessions")
        XCTAssertTrue(html.contains("<td>finetune train --output \(b.output) --lr 0.001</td>"), "the command line that started the run")
        XCTAssertTrue(html.contains("<td>finetune train --resume \(b.output)</td>"), "and the one that resumed it")
    }

    /// The imbalanced-classes options resume too: an interrupted run with the balanced sampler,
    /// balanced class weights and best by balanced accuracy ends where an uninterrupted one ends.
    func testImbalanceOptionsResumeWhereAnUninterruptedRunEnds() throws {
        func imbalanced() -> TrainingOptions {
            var o = options(.full)
            o.epochs = 2
            o.sampler = .balanced
            o.classWeights = .balanced
            o.bestMetric = .balancedAccuracy
            return o
        }
        let a = imbalanced(), b = imbalanced()
        _ = try trainer(a).run()
        // 4 steps per epoch: stopped after 2 steps of epoch 2 (polled before each step, each of the
        // 2 validation batches and after validation).
        guard case .interrupted = try trainer(b, stopAfter: 9).run() else { return XCTFail("expected an interruption") }
        XCTAssertEqual(try TrainingState(contentsOf: RunFolder(URL(fileURLWithPath: b.output)).url(.state)).batchInEpoch, 2)
        guard case .finished = try trainer(b, resume: true).run() else { return XCTFail("interrupted again") }
        for file in ["/last.safetensors", "/best.safetensors"] {
            let x = try ModelFile(contentsOf: URL(fileURLWithPath: a.output + file)).tensors
            let y = try ModelFile(contentsOf: URL(fileURLWithPath: b.output + file)).tensors
            for (p, q) in zip(x, y) {
                let scale = max(p.values.map(abs).max() ?? 0, 1e-6)
                let worst = zip(p.values, q.values).map { abs($0 - $1) }.max() ?? 0
                XCTAssertLessThanOrEqual(worst / scale, 1e-5, file + " " + p.name)
            }
        }
        let state = try TrainingState(contentsOf: RunFolder(URL(fileURLWithPath: b.output)).url(.state))
        let records = Trainer.readRecords(URL(fileURLWithPath: b.output)).filter { $0.kind == .epoch }
        XCTAssertEqual(records.map(\.epoch), [1, 2])
        let best = try XCTUnwrap(records.max { ($0.val_balanced_accuracy ?? 0) < ($1.val_balanced_accuracy ?? 0) })
        XCTAssertEqual(state.bestValue, best.val_balanced_accuracy, "best is by balanced accuracy")
    }

    /// Mixup, CutMix and the weight average resume too: an interrupted run ends where an
    /// uninterrupted one ends, its average saved beside the weights and validated every epoch.
    func testMixupCutMixAndEMAResumeWhereAnUninterruptedRunEnds() throws {
        func mixed() -> TrainingOptions {
            var o = options(.full)
            o.epochs = 2
            o.mixup = Mixup(mixupAlpha: 0.4, cutmixAlpha: 1)
            o.ema = 0.9
            return o
        }
        let a = mixed(), b = mixed()
        _ = try trainer(a).run()
        // 4 steps per epoch: stopped after 2 steps of epoch 2 (polled before each step, each of the
        // 2 validation batches and after validation, for the weights and for their average).
        guard case .interrupted = try trainer(b, stopAfter: 12).run() else { return XCTFail("expected an interruption") }
        XCTAssertEqual(try TrainingState(contentsOf: RunFolder(URL(fileURLWithPath: b.output)).url(.state)).batchInEpoch, 2)
        guard case .finished = try trainer(b, resume: true).run() else { return XCTFail("interrupted again") }
        for file in ["/last.safetensors", "/best.safetensors", "/ema.safetensors"] {
            let x = try ModelFile(contentsOf: URL(fileURLWithPath: a.output + file)).tensors
            let y = try ModelFile(contentsOf: URL(fileURLWithPath: b.output + file)).tensors
            XCTAssertEqual(x.map(\.name), y.map(\.name))
            for (p, q) in zip(x, y) {
                let scale = max(p.values.map(abs).max() ?? 0, 1e-6)
                let worst = zip(p.values, q.values).map { abs($0 - $1) }.max() ?? 0
                XCTAssertLessThanOrEqual(worst / scale, 1e-5, file + " " + p.name)
            }
        }
        let last = try ModelFile(contentsOf: URL(fileURLWithPath: a.output + "/last.safetensors")).tensors
        let average = try ModelFile(contentsOf: URL(fileURLWithPath: a.output + "/ema.safetensors")).tensors
        XCTAssertNotEqual(last.first { $0.name.hasSuffix("weight") }?.values, average.first { $0.name.hasSuffix("weight") }?.values,
                          "the average is not the weights")
        let records = Trainer.readRecords(URL(fileURLWithPath: b.output)).filter { $0.kind == .epoch }
        XCTAssertEqual(records.map(\.epoch), [1, 2])
        XCTAssertTrue(records.allSatisfy { $0.ema_val_accuracy != nil && $0.ema_val_loss != nil }, "the average is validated every epoch")
        let state = try TrainingState(contentsOf: RunFolder(URL(fileURLWithPath: b.output)).url(.state))
        let bestRecord = try XCTUnwrap(records.first { $0.epoch == state.bestEpoch })
        XCTAssertEqual(state.bestAccuracy, state.bestFromAverage == true ? bestRecord.ema_val_accuracy : bestRecord.val_accuracy)
        let html = try String(contentsOfFile: b.output + "/report.html", encoding: .utf8)
        XCTAssertTrue(html.contains("mixup α 0.4, CutMix α 1.0"))
        XCTAssertTrue(html.contains("weight average (EMA)"))
        XCTAssertTrue(html.contains("<th scope=\"col\">EMA val accuracy</th>"), "the epoch table shows the average's accuracy")
    }

    /// With mixing off and no average, a run takes the same steps as before they existed: the
    /// mixing draws come from their own stream, and the default options leave every batch as it is.
    func testMixupWithAlphaZeroChangesNothing() throws {
        var a = options(.full), b = options(.full)
        a.epochs = 1; b.epochs = 1
        b.mixup = Mixup(mixupAlpha: 0, cutmixAlpha: 0)
        _ = try trainer(a).run()
        _ = try trainer(b).run()
        let x = try ModelFile(contentsOf: URL(fileURLWithPath: a.output + "/last.safetensors")).tensors
        let y = try ModelFile(contentsOf: URL(fileURLWithPath: b.output + "/last.safetensors")).tensors
        XCTAssertEqual(x.map(\.values), y.map(\.values))
        XCTAssertFalse(FileManager.default.fileExists(atPath: a.output + "/ema.safetensors"))
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

    /// `clipGrad` bounds the step: one plain SGD step on one batch moves the parameters by
    /// lr * NORM in L2 norm when the gradient's norm is over NORM (batch norm frozen, so nothing
    /// else changes them).
    func testClipGradBoundsTheStep() throws {
        var o = options(.full)
        o.optimizer = .sgd
        o.weightDecay = 0
        o.batchNorm = .frozen
        o.epochs = 1
        o.batchSize = 36  // the 36 training images: one step
        o.lr = 0.1
        o.clipGrad = 0.01
        let t = try trainer(o)
        let before = t.model.parameters.map { Array(UnsafeBufferPointer(start: $0.value.pointer, count: $0.value.count)) }
        _ = try t.run()
        XCTAssertEqual(try TrainingState(contentsOf: RunFolder(URL(fileURLWithPath: o.output)).url(.state)).globalStep, 1)
        var moved = 0.0
        for (slot, start) in zip(t.model.parameters, before) {
            for i in 0..<slot.value.count { moved += Double(slot.value[i] - start[i]) * Double(slot.value[i] - start[i]) }
        }
        XCTAssertEqual(moved.squareRoot(), Double(o.lr * o.clipGrad!), accuracy: 1e-3 * Double(o.lr * o.clipGrad!))
    }

    /// Gradient accumulation: without batch statistics (`--bn frozen`), 2 accumulated batches of 6
    /// make the step of one batch of 12 (weights within 1e-4 of each tensor's largest value; one
    /// step, as later steps of a randomly initialised network let float rounding grow); an epoch's
    /// leftover batches still step; a run interrupted between steps resumes to the same end.
    func testAccumulatedBatchesStepAsOneLargerBatch() throws {
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("finetune-accumulate-\(UUID().uuidString)").path
        outputs.append(data)
        try DemoDataset.write(to: data, perClass: 4, heldOut: 0)  // 12 training images
        func run(batchSize: Int, accumulate: Int, stopAfter polls: Int? = nil) throws -> TrainingOptions {
            var o = options(.full)
            o.data = data
            o.batchNorm = .frozen
            o.optimizer = .sgd
            o.epochs = 1
            o.batchSize = batchSize
            o.accumulate = accumulate
            if let polls {
                guard case .interrupted = try trainer(o, stopAfter: polls).run() else { XCTFail("expected an interruption"); return o }
                let state = try TrainingState(contentsOf: RunFolder(URL(fileURLWithPath: o.output)).url(.state))
                XCTAssertEqual(state.batchInEpoch, accumulate, "stopped between steps, after the first")
                XCTAssertEqual(state.globalStep, 1)
                guard case .finished = try trainer(o, resume: true).run() else { XCTFail("interrupted again"); return o }
            } else {
                _ = try trainer(o).run()
            }
            return o
        }
        func weights(_ o: TrainingOptions) throws -> [NamedTensor] {
            try ModelFile(contentsOf: URL(fileURLWithPath: o.output + "/last.safetensors")).tensors
        }
        func steps(_ o: TrainingOptions) throws -> Int {
            try TrainingState(contentsOf: RunFolder(URL(fileURLWithPath: o.output)).url(.state)).globalStep
        }
        func assertSameWeights(_ a: TrainingOptions, _ b: TrainingOptions, _ what: String) throws {
            for (p, q) in zip(try weights(a), try weights(b)) {
                let scale = max(p.values.map(abs).max() ?? 0, 1e-6)
                let worst = zip(p.values, q.values).map { abs($0 - $1) }.max() ?? 0
                XCTAssertLessThanOrEqual(worst / scale, 1e-4, "\(what): \(p.name)")
            }
        }
        let twelve = try run(batchSize: 12, accumulate: 1)
        let sixTwice = try run(batchSize: 6, accumulate: 2)
        try assertSameWeights(twelve, sixTwice, "2 x 6 against 12")
        XCTAssertEqual(try steps(sixTwice), 1)
        let plainSix = try run(batchSize: 6, accumulate: 1)
        XCTAssertEqual(try steps(plainSix), 2)
        XCTAssertNotEqual(try weights(plainSix).map(\.values), try weights(sixTwice).map(\.values), "accumulating changes the steps")

        let leftover = try run(batchSize: 4, accumulate: 2)  // 3 batches: a step of 2, then one of the third
        XCTAssertEqual(try steps(leftover), 2)
        let epoch = try XCTUnwrap(Trainer.readRecords(URL(fileURLWithPath: leftover.output)).first { $0.kind == .epoch })
        XCTAssertEqual(epoch.step_learning_rates?.count, 2, "the schedule counts optimiser steps")
        let resumed = try run(batchSize: 4, accumulate: 2, stopAfter: 1)
        try assertSameWeights(leftover, resumed, "interrupted and resumed")
    }

    /// A run folder copied elsewhere resumes into the folder it is in, whatever its state says;
    /// metrics lines of an epoch lost to a crash are dropped, so no epoch is listed twice.
    func testCopiedRunFolderResumesIntoItselfWithoutRepeatingAnEpoch() throws {
        var a = options(.freeze)
        a.epochs = 2
        guard case .interrupted = try trainer(a, stopAfter: 6).run() else { return XCTFail("expected an interruption") }
        let copy = options(.freeze).output
        try FileManager.default.copyItem(atPath: a.output, toPath: copy)
        let original = try Data(contentsOf: URL(fileURLWithPath: a.output + "/training-state.json"))
        // A crash after the epoch's lines were appended but before its commit.
        let lost = MetricsRecord(kind: .epoch, stage: "freeze", epoch: 2, step: 8, loss: 1, accuracy: 0.5,
                                 learning_rate: 1e-3, images_per_second: 1, val_loss: 1, val_accuracy: 0.5, elapsed: 1)
        try MetricsLog(url: URL(fileURLWithPath: copy + "/metrics.jsonl")).append(lost)
        var b = try TrainingState(contentsOf: URL(fileURLWithPath: copy + "/training-state.json")).options
        XCTAssertEqual(b.output, a.output, "the state names the folder it was saved in")
        b.output = copy
        guard case .finished = try trainer(b, resume: true).run() else { return XCTFail("interrupted again") }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: a.output + "/training-state.json")), original, "the original is untouched")
        XCTAssertFalse(FileManager.default.fileExists(atPath: a.output + "/best.safetensors"))
        let epochs = Trainer.readRecords(URL(fileURLWithPath: copy)).filter { $0.kind == .epoch }.map(\.epoch)
        XCTAssertEqual(epochs, [1, 2])
        let state = try TrainingState(contentsOf: URL(fileURLWithPath: copy + "/training-state.json"))
        XCTAssertTrue(state.finished)
        XCTAssertEqual(state.options.output, copy)
    }

    /// --output naming another run's folder is refused without --overwrite; with it, the other
    /// run's files (its accuracy-named copy too) go, the user's other files stay.
    func testOutputHoldingAnotherRunNeedsOverwrite() throws {
        var a = options(.freeze)
        a.epochs = 1
        _ = try trainer(a).run()
        let before = try FileManager.default.contentsOfDirectory(atPath: a.output)
        XCTAssertEqual(before.filter { $0.hasPrefix("mobilenet-v2.") }.count, 1, "\(before)")
        try Data("mine".utf8).write(to: URL(fileURLWithPath: a.output + "/notes.txt"))
        var b = a
        b.seed = 99
        XCTAssertThrowsError(try trainer(b)) { error in
            XCTAssertTrue("\(error)".contains("holds another run"), "\(error)")
            XCTAssertTrue("\(error)".contains("--overwrite"), "\(error)")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: a.output).sorted(), (before + ["notes.txt"]).sorted())
        var stopped = try trainer(b, overwrite: true, stopAfter: 1)
        guard case .interrupted = try stopped.run() else { return XCTFail("expected an interruption") }
        stopped = try trainer(b, resume: true)
        _ = try stopped.run()
        let after = try FileManager.default.contentsOfDirectory(atPath: a.output)
        XCTAssertTrue(after.contains("notes.txt"))
        let accuracy = try XCTUnwrap(try TrainingState(contentsOf: URL(fileURLWithPath: a.output + "/training-state.json")).bestAccuracy)
        XCTAssertEqual(after.filter { $0.hasPrefix("mobilenet-v2.") },
                       [RunFolder.bestCopyName(backbone: "mobilenet-v2", data: b.data, accuracy: accuracy)])
    }

    /// A run that fails before its first step leaves no folder behind.
    func testFailingRunLeavesNoFolder() throws {
        var o = options(.full)
        o.data = Self.data + "/no-such-folder"
        XCTAssertThrowsError(try trainer(o))
        XCTAssertFalse(FileManager.default.fileExists(atPath: o.output))
        o = options(.full)
        o.optimizer = .sgd
        o.lr = 1e30
        XCTAssertThrowsError(try trainer(o).run())
        XCTAssertFalse(FileManager.default.fileExists(atPath: o.output), "diverged before any epoch was saved")
    }
}
