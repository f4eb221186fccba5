import Foundation
import XCTest
@testable import FineTuneCore

/// The change from two-stage's freeze stage to its second stage keeps what the head learned: the
/// first step of the second stage has a loss within 1.5x of the freeze stage's last epoch loss.
/// Generated images (DemoDataset), resnet18 at 64 px, where the shock reproduces when batch norm
/// switches from the statistics the head was trained under to batch statistics (`--bn train` over
/// pretrained statistics that do not fit the data: 17x in the demo).
final class TrainingStageChangeTests: XCTestCase {
    static let data: String = {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("finetune-stage-data-\(UUID().uuidString)").path
        try! DemoDataset.write(to: dir, perClass: 32, heldOut: 0)
        return dir
    }()

    var paths: [String] = []
    override func tearDown() {
        for p in paths { try? FileManager.default.removeItem(atPath: p) }
    }

    func temporary(_ name: String) -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("finetune-\(name)-\(UUID().uuidString)").path
        paths.append(path)
        return path
    }

    func options(weights: String? = nil, batchNorm: BatchNormMode? = nil) -> TrainingOptions {
        var o = TrainingOptions(backbone: "resnet18", data: Self.data, output: temporary("stage-run"))
        o.strategy = .twoStage
        o.freezeEpochs = 2
        o.epochs = 1
        o.finetuneLR = 1e-3  // as the demo
        o.batchSize = 16
        o.inputSize = 64
        o.logEvery = 1
        o.seed = 1
        o.weights = weights
        o.batchNorm = batchNorm
        return o
    }

    /// The first step of the second stage against the freeze stage's last epoch, from metrics.jsonl.
    func stageChange(_ o: TrainingOptions) throws -> (lastFreeze: Double, firstStep: Double, notices: [String]) {
        var notices: [String] = []
        let trainer = try Trainer(options: o, catalog: BuiltInBackboneTests.catalog, onEvent: {
            if case .info(let text) = $0 { notices.append(text) }
        })
        guard case .finished = try trainer.run() else { throw XCTSkip("interrupted") }
        let records = Trainer.readRecords(URL(fileURLWithPath: o.output))
        let lastFreeze = try XCTUnwrap(records.last { $0.kind == .epoch && $0.stage == "freeze" }).loss
        let first = try XCTUnwrap(records.first { $0.kind == .step && $0.stage == "finetune" })
        XCTAssertEqual(first.step, 2 * trainer.train.batchCount + 1, "the second stage's first step is recorded alone")
        return (lastFreeze, first.loss, notices)
    }

    /// A backbone file with a fresh initialisation's running statistics (mean 0, variance 1), which
    /// describe nothing about these images, as pretrained statistics from another domain.
    func weightsWithUnfittingStatistics() throws -> String {
        let model = try Model(graph: try BuiltInBackboneTests.catalog.backbone(named: "resnet18").makeClassifier(classes: 3, inputSize: 64))
        model.initialize(seed: 3)
        let tensors = try model.slots.filter { !$0.spec.name.hasPrefix("head.") }.map {
            NamedTensor(name: $0.spec.name, shape: $0.spec.shape, values: try model.tensor($0.spec.name))
        }
        let path = temporary("weights") + ".safetensors"
        try SafeTensorsWriter.write(tensors, to: URL(fileURLWithPath: path))
        return path
    }

    /// `--bn` left out: frozen statistics with --weights, batch statistics without; given, it applies
    /// to every stage where backbone layers train.
    func testDefaultBatchNormFollowsTheWeights() {
        let groups = ["stem", "blocks", "head"]
        for (weights, given, expected) in [("w.pth", nil, BatchNormMode.frozen), (nil, nil, .train),
                                           ("w.pth", .train, .train), (nil, .frozen, .frozen)] as [(String?, BatchNormMode?, BatchNormMode)] {
            for strategy in [TrainingOptions.Strategy.twoStage, .full, .discriminative] {
                var o = options(weights: weights, batchNorm: given)
                o.strategy = strategy
                XCTAssertEqual(Stage.plan(o, groups: groups).last?.batchNorm, expected, "\(strategy), weights \(weights ?? "none"), --bn \(given?.rawValue ?? "-")")
            }
        }
    }

    /// `--bn` where no stage trains backbone layers is said to be ignored, not silently dropped.
    func testBatchNormOptionIsIgnoredWithANoticeWhereNothingTrainsTheBackbone() throws {
        var o = options(batchNorm: .frozen)
        o.strategy = .freeze
        o.epochs = 1
        var notices: [String] = []
        _ = try Trainer(options: o, catalog: BuiltInBackboneTests.catalog, onEvent: {
            if case .info(let text) = $0 { notices.append(text) }
        }).run()
        XCTAssertEqual(notices.filter { $0.hasPrefix("--bn is ignored") }.count, 1, "\(notices)")
    }

    func testFrozenStatisticsKeepTheStageChangeSmoothAndBatchStatisticsShockIt() throws {
        let weights = try weightsWithUnfittingStatistics()
        let smooth = try stageChange(options(weights: weights))  // --bn left out: frozen with --weights
        XCTAssertLessThan(smooth.firstStep, 1.5 * smooth.lastFreeze, "default with --weights: \(smooth)")
        XCTAssertFalse(smooth.notices.contains { $0.contains("running statistics measured") }, "pretrained statistics are kept")
        let shocked = try stageChange(options(weights: weights, batchNorm: .train))
        XCTAssertGreaterThan(shocked.firstStep, 1.5 * shocked.lastFreeze, "--bn train over unfitting statistics: \(shocked)")
    }

    func testRandomInitialisationMeasuresItsStatisticsSoTheStageChangeIsSmooth() throws {
        let change = try stageChange(options())
        XCTAssertLessThan(change.firstStep, 1.5 * change.lastFreeze, "default from random initialisation: \(change.firstStep), \(change.lastFreeze)")
        XCTAssertTrue(change.notices.contains { $0.contains("running statistics measured on 96 training images") }, "\(change.notices)")
    }
}
