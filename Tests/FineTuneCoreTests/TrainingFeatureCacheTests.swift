import Foundation
import XCTest
@testable import FineTuneCore

/// `--cache-features`: training the head on cached backbone features (mobilenet-v2 at 64 px,
/// 36 training and 9 validation images, batches of 8).
final class TrainingFeatureCacheTests: XCTestCase {
    static let data: String = {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("finetune-cache-data-\(UUID().uuidString)").path
        try! DemoDataset.write(to: dir, perClass: 12, heldOut: 0)
        return dir
    }()

    var outputs: [String] = []
    override func tearDown() {
        for o in outputs { try? FileManager.default.removeItem(atPath: o) }
    }

    func options(_ strategy: TrainingOptions.Strategy = .freeze, epochs: Int = 2, cache: Int? = nil) -> TrainingOptions {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("finetune-cache-run-\(UUID().uuidString)").path
        outputs.append(out)
        var o = TrainingOptions(backbone: "mobilenet-v2", data: Self.data, output: out)
        o.strategy = strategy
        o.epochs = epochs
        o.freezeEpochs = 1
        o.batchSize = 8
        o.inputSize = 64
        o.seed = 3
        o.cacheFeatures = cache
        return o
    }

    /// The messages a trainer reported.
    final class Messages { var list: [String] = [] }

    /// A trainer whose `shouldStop` turns true after `stopAfter` polls, collecting its messages.
    func trainer(_ o: TrainingOptions, resume: Bool = false, stopAfter polls: Int? = nil,
                 messages: Messages? = nil) throws -> Trainer {
        var count = 0
        return try Trainer(options: o, catalog: BuiltInBackboneTests.catalog, resume: resume, onEvent: { event in
            if case .info(let m) = event { messages?.list.append(m) }
        }, shouldStop: {
            count += 1
            return polls.map { count > $0 } ?? false
        })
    }

    func lastTensors(_ o: TrainingOptions) throws -> [NamedTensor] {
        try ModelFile(contentsOf: URL(fileURLWithPath: o.output + "/last.safetensors")).tensors
    }

    /// Every tensor of two model files agrees within `tolerance`, relative to the tensor's largest value.
    func assertSameTensors(_ x: [NamedTensor], _ y: [NamedTensor], tolerance: Float, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(x.map(\.name), y.map(\.name), file: file, line: line)
        for (p, q) in zip(x, y) {
            let scale = max(p.values.map(abs).max() ?? 0, 1e-6)
            let worst = zip(p.values, q.values).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThanOrEqual(worst / scale, tolerance, p.name, file: file, line: line)
        }
    }

    /// Kept views (one view for one epoch with flips off; as many as epochs, given or by
    /// default) train exactly the head that features computed batch by batch (`--cache-features
    /// 0`) train, with or without standardization: same weights (5e-5 of each tensor's largest
    /// value, 5e-4 standardized; the features come from differently composed batches) and the
    /// same validation.
    func testKeptViewsTrainTheSameHeadAsFeaturesComputedPerBatch() throws {
        for (epochs, views, flips, standardizes) in [(1, 1, false, false), (2, 2, true, false), (2, nil, true, true)] as [(Int, Int?, Bool, Bool)] {
            var plain = options(epochs: epochs, cache: 0), cached = options(epochs: epochs, cache: views)
            plain.horizontalFlip = flips
            cached.horizontalFlip = flips
            plain.standardizeCachedFeatures = standardizes
            cached.standardizeCachedFeatures = standardizes
            _ = try trainer(plain).run()
            _ = try trainer(cached).run()
            let x = try lastTensors(plain), y = try lastTensors(cached)
            XCTAssertNotEqual(x.first { $0.name == "head.weight" }?.values, try trainer(options()).model.tensor("head.weight"),
                              "the head trained")
            // Standardization divides by each feature's spread, magnifying rounding differences.
            assertSameTensors(x, y, tolerance: standardizes ? 5e-4 : 5e-5)
            let a = Trainer.readRecords(URL(fileURLWithPath: plain.output)).filter { $0.kind == .epoch }
            let b = Trainer.readRecords(URL(fileURLWithPath: cached.output)).filter { $0.kind == .epoch }
            XCTAssertEqual(a.map(\.val_accuracy), b.map(\.val_accuracy))
            XCTAssertEqual(a.map(\.step), b.map(\.step))
            for (p, q) in zip(a, b) {
                XCTAssertEqual(p.loss, q.loss, accuracy: 1e-5)
                XCTAssertEqual(p.val_loss!, q.val_loss!, accuracy: 1e-5)
            }
        }
    }

    /// Without standardization, the head trained on features computed batch by batch is the
    /// head the whole network trains with its backbone frozen (the path a partly frozen
    /// backbone takes).
    func testFeaturesPerBatchTrainTheHeadTheWholeNetworkTrains() throws {
        var o = options(epochs: 2, cache: 0)
        o.standardizeCachedFeatures = false
        _ = try trainer(o).run()
        let t = try trainer(options(epochs: 2))
        try t.calibrateBatchNorm()  // as run() does from random initialisation
        let stage = t.stages[0]
        let executor = try Executor(model: t.model, batchSize: 8, training: true, frozenGroups: stage.frozenGroups)
        let trainable = t.model.parameters.filter { !stage.frozenGroups.contains($0.group) }
        let optimizer = t.makeOptimizer()
        for epoch in 1...2 {
            for batch in t.train.epoch(epoch) {
                var rng = SplitMix64(seed: 0)
                let logits = batch.images.withUnsafeBufferPointer { executor.forward($0.baseAddress!, count: batch.count, rng: &rng) }
                var dLogits = [Float](repeating: 0, count: batch.count * t.classes.count)
                _ = batch.labels.withUnsafeBufferPointer { labels in
                    dLogits.withUnsafeMutableBufferPointer {
                        SoftmaxCrossEntropy.forwardBackward(logits: logits, labels: labels.baseAddress!, n: batch.count,
                                                            classes: t.classes.count, labelSmoothing: 0, dLogits: $0.baseAddress!)
                    }
                }
                for slot in trainable { slot.grad!.zero() }
                executor.backward(dLogits)
                withExtendedLifetime(batch) {}
                optimizer.step(trainable) { _ in stage.lr }
                t.model.markChanged()
            }
        }
        let head = try lastTensors(o).filter { $0.name.hasPrefix("head.") }
        XCTAssertEqual(head.count, 2)
        for tensor in head {
            let whole = try t.model.tensor(tensor.name)
            let worst = zip(whole, tensor.values).map { abs($0 - $1) }.max()!
            XCTAssertLessThanOrEqual(worst / max(whole.map(abs).max()!, 1e-6), 5e-5, tensor.name)
        }
    }

    /// With standardized features (the default) the head trains differently, and the head the
    /// classifier files hold — folded back onto raw features — gives, run whole on the
    /// validation images, the loss and accuracy the cached evaluation of each epoch gave.
    func testStandardizedHeadFoldsBackOntoRawFeatures() throws {
        var plain = options(epochs: 2, cache: 2)
        plain.standardizeCachedFeatures = false
        let standardized = options(epochs: 2, cache: 2)
        _ = try trainer(plain).run()
        let t = try trainer(standardized)
        _ = try t.run()
        let head = try lastTensors(standardized).first { $0.name == "head.weight" }!.values
        XCTAssertNotEqual(head, try lastTensors(plain).first { $0.name == "head.weight" }!.values)
        let records = Trainer.readRecords(URL(fileURLWithPath: standardized.output)).filter { $0.kind == .epoch }
        let file = URL(fileURLWithPath: standardized.output + "/last.safetensors")
        try t.model.load(try ModelFile(contentsOf: file).graphAndWeights(backbone: t.backbone, file: file.path).weights)
        let whole = Evaluation.run(try Executor(model: t.model, batchSize: 8, training: false), loader: t.validation, classes: t.classes)
        XCTAssertEqual(whole.loss, records.last!.val_loss!, accuracy: 1e-4)
        XCTAssertEqual(whole.accuracy, records.last!.val_accuracy!)
    }

    /// The map standardizes its table to mean 0 and variance 1 per feature, and `unfold` then
    /// `fold` give back the layer (a dead feature keeps its weights).
    func testStandardizationStatisticsAndFoldRoundTrip() {
        let table = FeatureTable(labels: [0, 1, 0, 1], width: 3)
        let rows: [[Float]] = [[1, 5, 2], [3, 7, 2], [5, 9, 2], [7, 11, 2]]
        for (i, row) in rows.enumerated() { row.withUnsafeBufferPointer { table.set(i, from: $0.baseAddress!) } }
        let s = FeatureStandardization(of: table, rows: [0, 1, 2, 3])
        XCTAssertEqual(s.mean, [4, 8, 2])
        s.apply(to: table)
        let z = Array(UnsafeBufferPointer(start: table.values.pointer, count: 12))
        for c in 0..<2 {
            let column = (0..<4).map { z[$0 * 3 + c] }
            XCTAssertEqual(column.reduce(0, +), 0, accuracy: 1e-5)
            XCTAssertEqual(column.map { $0 * $0 }.reduce(0, +) / 4, 1, accuracy: 1e-4)
        }
        XCTAssertEqual((0..<4).map { z[$0 * 3 + 2] }, [0, 0, 0, 0])
        var weight: [Float] = [0.5, -1, 0.25, 2, 0.75, -0.5], bias: [Float] = [0.1, -0.2]
        let (w0, b0) = (weight, bias)
        s.unfold(weight: &weight, bias: &bias, outputs: 2)
        // The layer over z gives, on row 0's z, what the original gives on row 0's x.
        for o in 0..<2 {
            let onZ = (0..<3).reduce(bias[o]) { $0 + weight[o * 3 + $1] * z[$1] }
            let onX = (0..<3).reduce(b0[o]) { $0 + w0[o * 3 + $1] * rows[0][$1] }
            XCTAssertEqual(onZ, onX, accuracy: 1e-5)
        }
        s.fold(weight: &weight, bias: &bias, outputs: 2)
        for (a, b) in zip(weight + bias, w0 + b0) { XCTAssertEqual(a, b, accuracy: 1e-6) }
    }

    /// A training state written before `standardizeCachedFeatures` existed resumes with its
    /// default; the saved options are kept, and a state that is not one still fails clearly.
    func testStateWithoutTheStandardizeOptionReadsWithItsDefault() throws {
        var o = options(cache: 2)
        o.standardizeCachedFeatures = false
        o.seed = 12
        let dir = URL(fileURLWithPath: o.output)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var state = TrainingState(options: o)
        state.epochInStage = 1
        state.globalStep = 5
        state.generation = 1
        let file = RunFolder(dir).url(.state)
        try state.encoded().write(to: file)
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: file)) as! [String: Any]
        var saved = json["options"] as! [String: Any]
        XCTAssertNotNil(saved.removeValue(forKey: "standardizeCachedFeatures"))
        json["options"] = saved
        try JSONSerialization.data(withJSONObject: json).write(to: file)
        let read = try TrainingState(contentsOf: file)
        XCTAssertTrue(read.options.standardizeCachedFeatures)
        XCTAssertEqual(read.options.seed, 12)
        XCTAssertEqual(read.options.cacheFeatures, 2)
        XCTAssertEqual(read.globalStep, 5)
        try Data("{\"options\": {}}".utf8).write(to: file)
        XCTAssertThrowsError(try TrainingState(contentsOf: file)) { XCTAssertTrue("\($0)".contains("not a training state")) }
    }

    /// The standardization sample: every image up to 1,024, else 1,024 distinct ones in
    /// dataset order, fixed by the seed.
    func testStandardizationSample() {
        XCTAssertEqual(FeatureStandardization.sample(images: 5, seed: 1), [0, 1, 2, 3, 4])
        let a = FeatureStandardization.sample(images: 5000, seed: 1)
        XCTAssertEqual(a.count, 1024)
        XCTAssertEqual(a, a.sorted())
        XCTAssertEqual(Set(a).count, 1024)
        XCTAssertEqual(a, FeatureStandardization.sample(images: 5000, seed: 1))
        XCTAssertNotEqual(a, FeatureStandardization.sample(images: 5000, seed: 2))
    }

    /// Views are the loader's augmentation of different epochs; they repeat after N epochs.
    func testViewsDifferAndRepeat() throws {
        let t = try trainer(options(cache: 2))
        let cache = try FeatureCache(model: t.model, views: 2, train: t.train, validation: t.validation)
        for epoch in 1...3 { XCTAssertTrue(cache.prepare(epoch: epoch, progress: { _, _, _, _ in }, shouldStop: { false })) }
        /// Each image's features in `epoch`'s batches.
        func rows(_ epoch: Int) -> [Int: [Float]] {
            var rows: [Int: [Float]] = [:]
            let width = cache.extractor.width
            for batch in cache.trainingBatches(epoch: epoch, loader: t.train).batches {
                XCTAssertEqual(batch.images.count, batch.count * width)
                for (r, index) in batch.indices.enumerated() { rows[index] = Array(batch.images[(r * width)..<((r + 1) * width)]) }
            }
            return rows
        }
        let first = rows(1), second = rows(2)
        XCTAssertEqual(first.count, 32)  // 36 images in batches of 8, the incomplete one dropped
        XCTAssertNotEqual(Set(first.keys), Set(second.keys), "each epoch's own shuffle")
        let common = Set(first.keys).intersection(second.keys)
        XCTAssertFalse(common.isEmpty)
        for i in common { XCTAssertNotEqual(first[i], second[i]) }
        for (i, row) in rows(3) where first[i] != nil { XCTAssertEqual(row, first[i]) }
        XCTAssertEqual(cache.validation?.batches(of: 8).map(\.count), [8, 1])
    }

    /// Stopped while features are computed, then inside an epoch's steps, then resumed: the run
    /// ends at the weights of an uninterrupted one.
    func testResumeOfACachedRunEndsWhereAnUninterruptedRunEnds() throws {
        let a = options(epochs: 3, cache: 2)
        _ = try trainer(a).run()
        let b = options(epochs: 3, cache: 2)
        // Polls: 2 validation + 5 training-view batches, 4 steps, 5 more for view 2, then steps.
        guard case .interrupted = try trainer(b, stopAfter: 1).run() else { return XCTFail("expected an interruption while caching") }
        guard case .interrupted = try trainer(b, resume: true, stopAfter: 17).run() else { return XCTFail("expected an interruption") }
        let state = try TrainingState(contentsOf: RunFolder(URL(fileURLWithPath: b.output)).url(.state))
        XCTAssertEqual(state.epochInStage, 1)
        XCTAssertEqual(state.batchInEpoch, 1)
        guard case .finished = try trainer(b, resume: true).run() else { return XCTFail("interrupted again") }
        assertSameTensors(try lastTensors(a), try lastTensors(b), tolerance: 1e-6)
        XCTAssertEqual(Trainer.readRecords(URL(fileURLWithPath: b.output)).filter { $0.kind == .epoch }.map(\.epoch), [1, 2, 3])
    }

    /// In two-stage, the freeze stage is cached and the fine-tuning stage (backbone trains) says
    /// once that the flag does not apply to it, then trains the whole network as before.
    func testFlagIsIgnoredWithANoticeWhereTheBackboneTrains() throws {
        let log = Messages()
        let o = options(.twoStage, epochs: 1, cache: 1)
        guard case .finished(let best) = try trainer(o, messages: log).run() else { return XCTFail("interrupted") }
        let messages = log.list
        XCTAssertNotNil(best)
        XCTAssertEqual(messages.filter { $0.contains("--cache-features is ignored in stage finetune") }.count, 1, "\(messages)")
        XCTAssertEqual(messages.filter { $0.contains("stage freeze trains the head on cached backbone features") }.count, 1, "\(messages)")
        let records = Trainer.readRecords(URL(fileURLWithPath: o.output)).filter { $0.kind == .epoch }
        XCTAssertEqual(records.map(\.stage), ["freeze", "finetune"])
        let first = try ModelFile(contentsOf: URL(fileURLWithPath: o.output + "/last.safetensors")).tensors
        XCTAssertNotEqual(first.first { $0.name == "features.2.conv.0.0.weight" }?.values,
                          try trainer(options()).model.tensor("features.2.conv.0.0.weight"), "the backbone trained in stage two")
    }
}
