import Foundation
import XCTest
@testable import FineTuneCore

/// `GradientClipping` (train --clip-grad) against torch.nn.utils.clip_grad_norm_ (fixture written
/// by tools/make_clip_accumulate_fixtures.py, whose docstring gives the shared input formulas).
///
/// Tolerance: every total norm and clipped gradient within 1e-6 of the reference, relative to the
/// norm (float32 gradients on both sides; torch sums the squares in float32, this in Double).
final class TrainingGradientClippingTests: XCTestCase {
    static let tolerance = 1e-6

    struct Fixture: Decodable {
        var steps: Int
        var cases: [String: Case]
    }
    struct Case: Decodable {
        var scale: Float
        var max_norm: Float
        var steps: [Step]
    }
    struct Step: Decodable {
        var norm: Double
        var a: [Double]
        var b: [Double]
    }

    static let fixture: Fixture = {
        let url = Bundle.module.url(forResource: "Fixtures/clip-grad", withExtension: "json")!
        return try! JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }()

    func testClippingMatchesTorch() throws {
        let fixture = Self.fixture
        XCTAssertEqual(Set(fixture.cases.keys), ["clipped", "around", "under"])
        var clippedSteps = 0, untouchedSteps = 0
        for (name, c) in fixture.cases {
            XCTAssertEqual(c.steps.count, fixture.steps)
            for (index, expected) in c.steps.enumerated() {
                let t = index + 1
                let slots = TrainingOptimizerTests.makeSlots()
                for (k, slot) in slots.enumerated() {
                    for i in 0..<slot.value.count { slot.grad![i] = c.scale * (Float((7 * i + 3 * t + 5 * k) % 11 - 5) / 4 + 0.125) }
                }
                let before = slots.map { Array(UnsafeBufferPointer(start: $0.grad!.pointer, count: $0.grad!.count)) }
                let norm = GradientClipping.clip(slots, maxNorm: c.max_norm)
                XCTAssertEqual(norm, expected.norm, accuracy: Self.tolerance * expected.norm, "\(name) step \(t): total norm")
                for (slot, reference) in zip(slots, [expected.a, expected.b]) {
                    for i in 0..<slot.grad!.count {
                        XCTAssertEqual(Double(slot.grad![i]), reference[i], accuracy: Self.tolerance * expected.norm,
                                       "\(name) step \(t): \(slot.spec.name)[\(i)]")
                    }
                }
                let after = slots.map { Array(UnsafeBufferPointer(start: $0.grad!.pointer, count: $0.grad!.count)) }
                if norm > Double(c.max_norm) {
                    clippedSteps += 1
                    XCTAssertEqual(GradientClipping.totalNorm(slots), Double(c.max_norm), accuracy: 1e-5, "\(name) step \(t)")
                } else {
                    untouchedSteps += 1
                    XCTAssertEqual(after, before, "\(name) step \(t): a norm within the limit leaves the gradients as they are")
                }
            }
        }
        XCTAssertGreaterThan(clippedSteps, 0, "the fixture clips")
        XCTAssertGreaterThan(untouchedSteps, 0, "and leaves some steps alone")
    }
}
