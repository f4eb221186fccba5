import Foundation
import XCTest
@testable import FineTuneCore

/// A training step with frozen batch-norm statistics (`BatchNormMode.frozen`) against torchvision
/// in eval mode with trainable parameters (fixture written by tools/make_frozen_bn_fixtures.py):
/// the logits, the loss and every parameter's gradient, with EngineParityTests' tolerance, on
/// one lane and on two (frozen statistics exchange nothing between lanes, so both must agree).
/// The running statistics must not move.
final class EngineFrozenBatchNormParityTests: XCTestCase {
    struct Fixture: Decodable {
        var seed: UInt64
        var batch: Int
        var classes: Int
        var models: [String: Case]
    }
    struct Case: Decodable {
        var input_size: Int
        var labels: [Int32]
        var logits: [Double]
        var loss: Double
        var gradients: [String: EngineParityTests.Summary]
    }

    /// parity-frozen-bn.json holds resnet18 and mobilenet-v2; each later one has a file of its own.
    static func fixture(_ file: String) -> Fixture {
        let url = Bundle.module.url(forResource: "Fixtures/\(file)", withExtension: "json")!
        return try! JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }
    static let fixture = fixture("parity-frozen-bn")

    func testResNet18() throws { for lanes in [1, 2] { try check("resnet18", lanes: lanes) } }
    func testMobileNetV2() throws { for lanes in [1, 2] { try check("mobilenet-v2", lanes: lanes) } }
    /// ResNet50's and DenseNet121's training-mode references are not well conditioned
    /// (tools/make_parity_fixtures.py); these are.
    func testResNet50() throws {
        let f = Self.fixture("parity-frozen-bn-resnet50")
        for lanes in [1, 2] { try check("resnet50", lanes: lanes, in: f) }
    }
    func testDenseNet121() throws {
        let f = Self.fixture("parity-frozen-bn-densenet121")
        for lanes in [1, 2] { try check("densenet121", lanes: lanes, in: f) }
    }

    func check(_ name: String, lanes: Int, in fixture: Fixture = EngineFrozenBatchNormParityTests.fixture) throws {
        let f = fixture, c = f.models[name]!
        let tolerance = EngineParityTests.tolerance
        let backbone = try BuiltInBackboneTests.catalog.backbone(named: name)
        let model = try Model(graph: try backbone.makeClassifier(classes: f.classes, inputSize: c.input_size))
        let gen = ReferenceGenerator(seed: f.seed)
        try gen.fill(model)
        let statistics = model.slots.filter { $0.spec.name.hasSuffix("running_mean") || $0.spec.name.hasSuffix("running_var")
            || $0.spec.name.hasSuffix("num_batches_tracked") }
        let before = statistics.map(\.value.array)
        let n = f.batch
        let nhwc = gen.input(batch: n, size: c.input_size)
        var rng = FineTuneCore.SplitMix64(seed: 0)
        let train = try Executor(model: model, batchSize: n, training: true, batchNorm: .frozen, lanes: lanes)
        model.zeroGradients()
        let logits = nhwc.withUnsafeBufferPointer {
            Array(UnsafeBufferPointer(start: train.forward($0.baseAddress!, count: n, rng: &rng), count: n * f.classes))
        }
        let what = "\(name), \(lanes) lane(s)"
        assertClose(logits.map(Double.init), c.logits, "\(what) logits", tolerance: tolerance)
        // Inference (batch norm folded into the convolutions) gives the same logits.
        let inference = try Executor(model: model, batchSize: n, training: false, lanes: lanes)
        let evalLogits = nhwc.withUnsafeBufferPointer {
            Array(UnsafeBufferPointer(start: inference.forward($0.baseAddress!, count: n, rng: &rng), count: n * f.classes))
        }
        assertClose(evalLogits.map(Double.init), c.logits, "\(what) inference logits", tolerance: tolerance)
        var dLogits = [Float](repeating: 0, count: logits.count)
        let loss = c.labels.withUnsafeBufferPointer { labels in
            SoftmaxCrossEntropy.forwardBackward(logits: logits, labels: labels.baseAddress!, n: n, classes: f.classes, dLogits: &dLogits)
        }
        XCTAssertEqual(Double(loss), c.loss, accuracy: tolerance * abs(c.loss), "\(what) loss")
        train.backward(dLogits)
        withExtendedLifetime(nhwc) {}

        XCTAssertEqual(Set(model.parameters.map(\.spec.name)), Set(c.gradients.keys), what)
        let floor = 1e-2 * (c.gradients.values.map(\.norm).max() ?? 0)
        for slot in model.parameters {
            let ref = c.gradients[slot.spec.name]!
            let layout = model.kernelLayout(slot)
            let ours = (0..<slot.spec.count).map { slot.grad![layout($0)] }
            let norm = ours.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
            let scale = max(ref.norm, floor)
            XCTAssertEqual(norm, ref.norm, accuracy: tolerance * scale, "\(what) \(slot.spec.name) gradient norm")
            assertClose(ref.index.map { Double(ours[$0]) }, ref.value, "\(what) \(slot.spec.name) gradient",
                        tolerance: tolerance, scale: scale)
        }
        XCTAssertEqual(statistics.map(\.value.array), before, "\(what): running statistics must not change")
    }

    func assertClose(_ ours: [Double], _ ref: [Double], _ what: String, tolerance: Double, scale: Double? = nil,
                     file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(ours.count, ref.count, what, file: file, line: line)
        let s = max(scale ?? 0, ref.map(abs).max() ?? 0, 1e-12)
        let worst = zip(ours, ref).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThanOrEqual(worst / s, tolerance, "\(what): largest difference \(worst) against scale \(s)",
                                 file: file, line: line)
    }
}
