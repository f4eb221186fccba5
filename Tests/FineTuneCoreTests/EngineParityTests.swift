import Foundation
import XCTest
@testable import FineTuneCore

/// The built-in backbones with a 10-class linear head against torchvision (fixture written by
/// tools/make_parity_fixtures.py): eval-mode logits, and for one training step the logits,
/// the loss, every parameter's gradient and the updated BN running statistics.
///
/// Tolerance: every compared value within 1e-3 of the reference, relative to the largest
/// magnitude in its tensor; gradients within 1e-3 relative to the tensor's gradient norm, where
/// that norm is counted as at least 1% of the model's largest gradient norm. Some gradients are
/// zero up to rounding (a bias whose output feeds a training-mode BN through linear layers only:
/// BN's input gradient sums to zero per channel), and tiny ones carry the rounding of the large
/// ones they are computed from, so their own scale would measure rounding, not the code.
final class EngineParityTests: XCTestCase {
    static let tolerance = 1e-3

    struct Fixture: Decodable {
        var seed: UInt64
        var batch: Int
        var classes: Int
        var models: [String: Case]
    }
    struct Case: Decodable {
        var input_size: Int
        var labels: [Int32]
        var eval_logits: [Double]
        var train_logits: [Double]
        var train_loss: Double
        var gradients: [String: Summary]
        var running_stats: [String: Summary]
    }
    struct Summary: Decodable {
        var norm: Double
        var index: [Int]
        var value: [Double]
    }

    /// parity.json holds the first three backbones; each later one has parity-<name>.json.
    static func fixture(_ file: String) -> Fixture {
        let url = Bundle.module.url(forResource: "Fixtures/\(file)", withExtension: "json")!
        return try! JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }
    static let fixture = fixture("parity")

    func testResNet18() throws { try check("resnet18") }
    func testMobileNetV2() throws { try check("mobilenet-v2") }
    func testEfficientNetB3() throws { try check("efficientnet-b3") }
    func testShuffleNetV2() throws { try check("shufflenet-v2-x1.0", in: Self.fixture("parity-shufflenet-v2-x1.0")) }
    func testResNet34() throws { try check("resnet34", in: Self.fixture("parity-resnet34")) }
    func testEfficientNetB0() throws { try check("efficientnet-b0", in: Self.fixture("parity-efficientnet-b0")) }
    func testRegNetY800MF() throws { try check("regnet-y-800mf", in: Self.fixture("parity-regnet-y-800mf")) }
    func testEfficientNetV2S() throws { try check("efficientnet-v2-s", in: Self.fixture("parity-efficientnet-v2-s")) }
    func testMobileNetV3Large() throws { try check("mobilenet-v3-large", in: Self.fixture("parity-mobilenet-v3-large")) }
    func testConvNeXtTiny() throws { try check("convnext-tiny", in: Self.fixture("parity-convnext-tiny")) }

    func check(_ name: String, in fixture: Fixture = EngineParityTests.fixture) throws {
        let f = fixture, c = f.models[name]!
        let backbone = try BuiltInBackboneTests.catalog.backbone(named: name)
        var graph = try backbone.makeClassifier(classes: f.classes, inputSize: c.input_size)
        // Stochastic depth and dropout are random; the reference turns them off, and so does this test.
        for i in graph.nodes.indices {
            if case .stochasticDepth = graph.nodes[i].operation { graph.nodes[i].operation = .stochasticDepth(p: 0) }
            if case .dropout = graph.nodes[i].operation { graph.nodes[i].operation = .dropout(p: 0) }
        }
        let model = try Model(graph: graph)
        let gen = ReferenceGenerator(seed: f.seed)
        try gen.fill(model)
        let n = f.batch
        let nhwc = gen.input(batch: n, size: c.input_size)
        var rng = FineTuneCore.SplitMix64(seed: 0)

        let eval = try Executor(model: model, batchSize: n, training: false)
        let evalLogits = nhwc.withUnsafeBufferPointer { Array(UnsafeBufferPointer(start: eval.forward($0.baseAddress!, count: n, rng: &rng), count: n * f.classes)) }
        assertClose(evalLogits.map(Double.init), c.eval_logits, "\(name) eval logits")

        // One lane: a batch split between lanes (ExecutorLanesTests) changes the rounding of BN's
        // batch mean, and at batch 2 MobileNetV2's gradients sit on ReLU6 kinks (in float64 a
        // 1e-6 change of the input moves them by 4e-2): two lanes move one BN bias gradient by 4e-3.
        let train = try Executor(model: model, batchSize: n, training: true, lanes: 1)
        model.zeroGradients()
        let logits = nhwc.withUnsafeBufferPointer { Array(UnsafeBufferPointer(start: train.forward($0.baseAddress!, count: n, rng: &rng), count: n * f.classes)) }
        assertClose(logits.map(Double.init), c.train_logits, "\(name) train logits")
        var dLogits = [Float](repeating: 0, count: logits.count)
        let loss = c.labels.withUnsafeBufferPointer { labels in
            SoftmaxCrossEntropy.forwardBackward(logits: logits, labels: labels.baseAddress!, n: n, classes: f.classes, dLogits: &dLogits)
        }
        XCTAssertEqual(Double(loss), c.train_loss, accuracy: Self.tolerance * abs(c.train_loss), "\(name) loss")
        train.backward(dLogits)
        withExtendedLifetime(nhwc) {}  // backward reads the input through forward's pointer

        XCTAssertEqual(Set(model.parameters.map(\.spec.name)), Set(c.gradients.keys), name)
        let floor = 1e-2 * (c.gradients.values.map(\.norm).max() ?? 0)
        for slot in model.parameters {
            let ref = c.gradients[slot.spec.name]!
            let ours = try fileLayout(model, slot, gradient: true)
            let norm = ours.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
            let scale = max(ref.norm, floor)
            XCTAssertEqual(norm, ref.norm, accuracy: Self.tolerance * scale, "\(name) \(slot.spec.name) gradient norm")
            assertClose(ref.index.map { Double(ours[$0]) }, ref.value, "\(name) \(slot.spec.name) gradient", scale: scale)
        }
        for (key, ref) in c.running_stats {
            let ours = try model.tensor(key)
            assertClose(ref.index.map { Double(ours[$0]) }, ref.value, "\(name) \(key)")
        }
        print("\(name): largest relative difference from torch \(worstSeen) (tolerance \(Self.tolerance))")
    }

    /// A parameter's gradient in the file layout.
    func fileLayout(_ model: Model, _ slot: Model.Slot, gradient: Bool) throws -> [Float] {
        let layout = model.kernelLayout(slot)
        return (0..<slot.spec.count).map { slot.grad![layout($0)] }
    }

    /// The largest relative difference seen, per model, printed at the end of each test.
    var worstSeen = 0.0

    func assertClose(_ ours: [Double], _ ref: [Double], _ what: String, scale: Double? = nil,
                     file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(ours.count, ref.count, what, file: file, line: line)
        let s = max(scale ?? 0, ref.map(abs).max() ?? 0, 1e-12)
        let worst = zip(ours, ref).map { abs($0 - $1) }.max() ?? 0
        worstSeen = max(worstSeen, worst / s)
        XCTAssertLessThanOrEqual(worst / s, Self.tolerance, "\(what): largest difference \(worst) against scale \(s)",
                                 file: file, line: line)
    }
}

/// The counter-based generator tools/make_parity_fixtures.py uses, bit for bit.
struct ReferenceGenerator {
    let seed: UInt64

    /// Every tensor of `model` but `num_batches_tracked`, as the script fills torchvision's.
    func fill(_ model: Model) throws {
        for slot in model.slots where !slot.spec.name.hasSuffix("num_batches_tracked") {
            let values = tensorValues(slot.spec.name, shape: slot.spec.shape)
            try values.withUnsafeBufferPointer { try model.setTensor(slot.spec.name, fileLayout: $0) }
        }
    }

    /// The script's input batch (n, 3, size, size), in the engine's NHWC layout.
    func input(batch n: Int, size: Int) -> [Float] {
        let nchw = symmetric("input", n * 3 * size * size, scale: 1)
        var nhwc = [Float](repeating: 0, count: nchw.count)
        for s in 0..<n { for ch in 0..<3 { for y in 0..<size { for x in 0..<size {
            nhwc[((s * size + y) * size + x) * 3 + ch] = nchw[((s * 3 + ch) * size + y) * size + x]
        } } } }
        return nhwc
    }

    static func fnv1a(_ text: String) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in text.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
        return h
    }

    func uniform(_ key: String, _ count: Int) -> [Float] {
        let base = seed ^ Self.fnv1a(key)
        return (0..<count).map { i in
            var z = base &+ UInt64(i + 1) &* 0x9E37_79B9_7F4A_7C15
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z = z ^ (z >> 31)
            return Float(z >> 40) * (1 / 16_777_216)
        }
    }

    func symmetric(_ key: String, _ count: Int, scale: Float) -> [Float] {
        uniform(key, count).map { (2 * $0 - 1) * scale }
    }

    func tensorValues(_ name: String, shape: [Int]) -> [Float] {
        let count = shape.reduce(1, *)
        if name.hasSuffix("running_var") { return uniform(name, count).map { 0.5 + $0 } }
        if name.hasSuffix("running_mean") || name.hasSuffix(".bias") { return symmetric(name, count, scale: 0.1) }
        if shape.count == 1 { return uniform(name, count).map { 0.5 + $0 } }
        let fanIn = shape.dropFirst().reduce(1, *)
        return symmetric(name, count, scale: Float((6.0 / Double(fanIn)).squareRoot()))
    }
}
