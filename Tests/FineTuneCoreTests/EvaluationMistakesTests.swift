import Foundation
import XCTest
@testable import FineTuneCore

/// The report's top losses come from the evaluation: each misclassified image's loss and the
/// probability of its prediction, and the worst few kept in order within a bound.
final class EvaluationMistakesTests: XCTestCase {
    /// Softmax cross-entropy and the prediction's probability, against the formula in Double.
    func testLossAndProbabilityOfOneImage() {
        let logits: [Float] = [2.5, -1, 0.25]
        let m = logits.withUnsafeBufferPointer {
            Evaluation.mistake($0.baseAddress!, classes: 3, index: 7, truth: 2, prediction: 0)
        }
        let e = logits.map { exp(Double($0)) }
        let sum = e.reduce(0, +)
        XCTAssertEqual(m.index, 7)
        XCTAssertEqual(m.probability, e[0] / sum, accuracy: 1e-12)
        XCTAssertEqual(m.loss, -log(e[2] / sum), accuracy: 1e-12)
    }

    /// Large logits do not overflow: the maximum is subtracted first.
    func testLargeLogitsStayFinite() {
        let logits: [Float] = [1000, 900, -1000]
        let m = logits.withUnsafeBufferPointer {
            Evaluation.mistake($0.baseAddress!, classes: 3, index: 0, truth: 2, prediction: 0)
        }
        XCTAssertEqual(m.probability, 1, accuracy: 1e-12)
        XCTAssertEqual(m.loss, 2000, accuracy: 1e-9)
    }

    func testKeepsTheHighestLossesInOrder() {
        var worst: [Evaluation.Mistake] = []
        let losses = [0.5, 3, 1, 7, 0.1, 2, 7.5, 4]
        for (i, loss) in losses.enumerated() {
            Evaluation.keep(.init(index: i, truth: 0, prediction: 1, probability: 0.5, loss: loss), in: &worst, limit: 3)
        }
        XCTAssertEqual(worst.map(\.loss), [7.5, 7, 4])
        XCTAssertEqual(worst.map(\.index), [6, 3, 7])
        var none: [Evaluation.Mistake] = []
        Evaluation.keep(.init(index: 0, truth: 0, prediction: 1, probability: 0.5, loss: 1), in: &none, limit: 0)
        XCTAssertEqual(none, [])
    }
}
