import Foundation
import XCTest
@testable import FineTuneCore

/// `--best-metric`: balanced accuracy and macro-F1 from the confusion matrix against
/// scikit-learn's `balanced_accuracy_score` and `f1_score(average="macro", zero_division=0)`
/// (fixture written by tools/make_imbalance_fixtures.py), and what "better" means for each metric.
///
/// Tolerance: 1e-12 (the same counts divided in Double on both sides).
final class TrainingBestMetricTests: XCTestCase {
    struct Fixture: Decodable {
        struct Metrics: Decodable {
            var classes: Int
            var labels: [Int]
            var predictions: [Int]
            var accuracy: Double
            var balanced_accuracy: Double
            var macro_f1: Double
        }
        var metrics: [Metrics]
    }

    static let fixture: Fixture = {
        let url = Bundle.module.url(forResource: "Fixtures/imbalance", withExtension: "json")!
        return try! JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }()

    func testBalancedAccuracyAndMacroF1MatchScikitLearn() {
        for c in Self.fixture.metrics {
            var m = ConfusionMatrix(classes: (0..<c.classes).map { "c\($0)" })
            for (truth, prediction) in zip(c.labels, c.predictions) { m.add(truth: truth, prediction: prediction) }
            XCTAssertEqual(m.accuracy, c.accuracy, accuracy: 1e-12, "\(c.labels) \(c.predictions)")
            XCTAssertEqual(m.balancedAccuracy, c.balanced_accuracy, accuracy: 1e-12, "\(c.labels) \(c.predictions)")
            XCTAssertEqual(m.macroF1, c.macro_f1, accuracy: 1e-12, "\(c.labels) \(c.predictions)")
        }
        let empty = ConfusionMatrix(classes: ["a", "b"])
        XCTAssertEqual(empty.balancedAccuracy, 0)
        XCTAssertEqual(empty.macroF1, 0)
    }

    func testLowerIsBetterOnlyForTheLoss() {
        XCTAssertTrue(BestMetric.accuracy.improves(0.5, on: nil))
        XCTAssertTrue(BestMetric.macroF1.improves(0.6, on: 0.5))
        XCTAssertFalse(BestMetric.balancedAccuracy.improves(0.5, on: 0.5), "a tie is no improvement")
        XCTAssertTrue(BestMetric.valLoss.improves(0.4, on: 0.5))
        XCTAssertFalse(BestMetric.valLoss.improves(0.6, on: 0.5))
        XCTAssertFalse(BestMetric.valLoss.improves(.nan, on: nil), "a loss that is not a number is never best")
        var m = ConfusionMatrix(classes: ["a", "b"])
        m.add(truth: 0, prediction: 0); m.add(truth: 0, prediction: 0); m.add(truth: 0, prediction: 0); m.add(truth: 1, prediction: 0)
        let eval = Evaluation(loss: 0.7, accuracy: m.accuracy, confusion: m, skipped: 0)
        XCTAssertEqual(BestMetric.accuracy.value(of: eval), 0.75)
        XCTAssertEqual(BestMetric.balancedAccuracy.value(of: eval), 0.5, "the minority class is never found")
        XCTAssertEqual(BestMetric.valLoss.value(of: eval), 0.7)
    }
}
