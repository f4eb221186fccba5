import Foundation
import XCTest
@testable import FineTuneCore

/// Mixup, CutMix and the soft-target loss against timm and PyTorch (fixture written by
/// tools/make_mixup_fixtures.py: timm's `Mixup` in batch mode with its draws fixed, and
/// torch's cross-entropy with probability targets).
///
/// Tolerance: mixed pixels and targets within 1e-6 (float32 on both sides; timm converts lam to
/// float32 once, as this does); the loss and its gradient within 1e-5 relative (float32 logits,
/// summed in Double here).
final class TrainingMixupTests: XCTestCase {
    struct Fixture: Decodable {
        var classes: Int
        var smoothing: Float
        var height: Int
        var width: Int
        var soft_loss: SoftLoss
        var mixup: [Mixed]
        var cutmix: [Mixed]
    }
    struct SoftLoss: Decodable {
        var logits: [Float]
        var targets: [Float]
        var labels: [Int32]
        var cases: [LossCase]
    }
    struct LossCase: Decodable {
        var weights: [Float]?
        var loss: Float
        var grad: [Float]
    }
    struct Mixed: Decodable {
        var lam: Double
        var centre: [Int]?
        var labels: [Int32]
        var images: [Float]
        var mixed: [Float]
        var targets: [Float]
        var corrected_lam: Double?
    }

    static let fixture: Fixture = {
        let url = Bundle.module.url(forResource: "Fixtures/mixup", withExtension: "json")!
        return try! JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }()

    func testSoftTargetLossMatchesTorch() throws {
        let f = Self.fixture, s = f.soft_loss, n = s.labels.count
        for c in s.cases {
            var grad = [Float](repeating: 0, count: s.logits.count)
            let loss = s.logits.withUnsafeBufferPointer { z in
                s.targets.withUnsafeBufferPointer { t in
                    (c.weights ?? []).withUnsafeBufferPointer { w in
                        SoftmaxCrossEntropy.forwardBackward(logits: z.baseAddress!, targets: t.baseAddress!, n: n, classes: f.classes,
                                                            classWeights: c.weights == nil ? nil : w.baseAddress, dLogits: &grad)
                    }
                }
            }
            let label = c.weights == nil ? "unweighted" : "weighted"
            XCTAssertEqual(loss, c.loss, accuracy: 1e-5 * c.loss, label)
            let scale = c.grad.map(abs).max()!
            for i in grad.indices { XCTAssertEqual(grad[i], c.grad[i], accuracy: 1e-5 * scale, "\(label) grad[\(i)]") }
        }
    }

    /// The soft-target loss with one-hot targets is the hard-label loss, smoothing included
    /// (without class weights, where PyTorch normalises both by the batch size).
    func testOneHotTargetsGiveTheLabelLoss() {
        let f = Self.fixture, s = f.soft_loss, n = s.labels.count, e: Float = 0.1
        var targets = [Float](repeating: e / Float(f.classes), count: n * f.classes)
        for i in 0..<n { targets[i * f.classes + Int(s.labels[i])] += 1 - e }
        var soft = [Float](repeating: 0, count: n * f.classes), hard = soft
        let a = SoftmaxCrossEntropy.forwardBackward(logits: s.logits, targets: targets, n: n, classes: f.classes, dLogits: &soft)
        let b = SoftmaxCrossEntropy.forwardBackward(logits: s.logits, labels: s.labels, n: n, classes: f.classes,
                                                    labelSmoothing: e, dLogits: &hard)
        XCTAssertEqual(a, b, accuracy: 1e-6)
        for i in soft.indices { XCTAssertEqual(soft[i], hard[i], accuracy: 1e-6) }
    }

    func testMixupAndCutMixMatchTimm() throws {
        let f = Self.fixture
        for (name, cases) in [("mixup", f.mixup), ("cutmix", f.cutmix)] {
            for c in cases {
                var batch = Batch(images: c.images, labels: c.labels, indices: Array(c.labels.indices), count: c.labels.count,
                                  height: f.height, width: f.width)
                let draw = c.centre.map { Mixup.cutmix(lam: c.lam, centre: ($0[0], $0[1]), height: f.height, width: f.width) }
                    ?? Mixup.Draw(lam: c.lam)
                if let corrected = c.corrected_lam { XCTAssertEqual(draw.lam, corrected, accuracy: 1e-6, "\(name) lam \(c.lam): corrected") }
                let targets = Mixup.apply(draw, to: &batch, classes: f.classes, labelSmoothing: f.smoothing)
                XCTAssertEqual(batch.images.count, c.mixed.count)
                let worst = zip(batch.images, c.mixed).map { abs($0 - $1) }.max()!
                XCTAssertLessThanOrEqual(worst, 1e-6, "\(name) lam \(c.lam): mixed pixels")
                let worstTarget = zip(targets, c.targets).map { abs($0 - $1) }.max()!
                XCTAssertLessThanOrEqual(worstTarget, 1e-6, "\(name) lam \(c.lam): soft targets")
                if c.centre != nil { XCTAssertNotEqual(batch.images, c.images, "\(name) lam \(c.lam): a box was pasted") }
            }
        }
    }

    /// Beta(alpha, alpha) draws have mean 1/2 and variance 1 / (4 (2 alpha + 1)); 40,000 draws
    /// put both within about 4 standard errors of them.
    func testBetaDrawsHaveTheirDistributionsMoments() {
        for alpha in [0.2, 1.0, 4.0] {
            var random = SeededRandom(seed: 9)
            let draws = (0..<40_000).map { _ in Mixup.beta(alpha, using: &random) }
            XCTAssertTrue(draws.allSatisfy { (0...1).contains($0) })
            let mean = draws.reduce(0, +) / Double(draws.count)
            let variance = draws.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(draws.count - 1)
            let expected = 1 / (4 * (2 * alpha + 1))
            XCTAssertEqual(mean, 0.5, accuracy: 4 * (expected / Double(draws.count)).squareRoot(), "alpha \(alpha): mean")
            XCTAssertEqual(variance, expected, accuracy: 0.04 * expected, "alpha \(alpha): variance")
        }
    }

    /// The batch draw: mixup alone never boxes, CutMix alone always does, both switch at even
    /// odds, a probability of 0 mixes nothing, and the draws repeat for a seed.
    func testDrawsFollowTheConfiguration() {
        func draws(_ m: Mixup) -> [Mixup.Draw] {
            var random = SeededRandom(seed: 3)
            return (0..<2000).map { _ in m.draw(height: 20, width: 30, using: &random) }
        }
        XCTAssertTrue(draws(Mixup(mixupAlpha: 0.4)).allSatisfy { $0.box == nil && $0.lam > 0 && $0.lam < 1 })
        let cut = draws(Mixup(cutmixAlpha: 1))
        XCTAssertTrue(cut.allSatisfy { d in d.box.map { $0.top <= $0.bottom && $0.bottom <= 20 && $0.left <= $0.right && $0.right <= 30 } ?? false })
        let both = draws(Mixup(mixupAlpha: 0.4, cutmixAlpha: 1)).filter { $0.box != nil }.count
        XCTAssertEqual(Double(both) / 2000, 0.5, accuracy: 0.05)
        var never = Mixup(mixupAlpha: 0.4)
        never.probability = 0
        XCTAssertFalse(never.isActive)
        XCTAssertTrue(draws(never).allSatisfy { $0.lam == 1 && $0.box == nil })
        XCTAssertEqual(draws(Mixup(mixupAlpha: 0.4, cutmixAlpha: 1)), draws(Mixup(mixupAlpha: 0.4, cutmixAlpha: 1)))
    }
}
