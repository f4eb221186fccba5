import Foundation
import XCTest
@testable import FineTuneCore

/// `--class-weights`: the weighted loss against torch's `CrossEntropyLoss(weight=, label_smoothing=)`
/// and the balanced weights against scikit-learn's `compute_class_weight("balanced")` (fixture
/// written by tools/make_imbalance_fixtures.py), and the weights file read as hostile input.
///
/// Tolerance: loss and gradient within 1e-5 of torch's float64 values (the kernel sums in Double
/// and rounds to Float); balanced weights within 1e-6, relative.
final class TrainingClassWeightsTests: XCTestCase {
    struct Fixture: Decodable {
        struct CrossEntropy: Decodable {
            var classes: Int
            var logits: [Float]
            var labels: [Int32]
            var weights: [Float]?
            var label_smoothing: Float
            var loss: Double
            var gradient: [Double]
        }
        struct Balanced: Decodable {
            var classes: Int
            var labels: [Int]
            var weights: [Double]
        }
        var cross_entropy: [CrossEntropy]
        var balanced_weights: [Balanced]
    }

    static let fixture: Fixture = {
        let url = Bundle.module.url(forResource: "Fixtures/imbalance", withExtension: "json")!
        return try! JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }()

    func testWeightedLossAndGradientMatchTorch() {
        for (k, c) in Self.fixture.cross_entropy.enumerated() {
            let n = c.labels.count
            var d = [Float](repeating: 0, count: n * c.classes)
            let loss = d.withUnsafeMutableBufferPointer { d in
                (c.weights ?? []).withUnsafeBufferPointer { w in
                    SoftmaxCrossEntropy.forwardBackward(logits: c.logits, labels: c.labels, n: n, classes: c.classes,
                                                        labelSmoothing: c.label_smoothing,
                                                        classWeights: c.weights == nil ? nil : w.baseAddress, dLogits: d.baseAddress)
                }
            }
            XCTAssertEqual(Double(loss), c.loss, accuracy: 1e-5, "case \(k): loss")
            for i in d.indices {
                XCTAssertEqual(Double(d[i]), c.gradient[i], accuracy: 1e-5, "case \(k): d logit \(i)")
            }
        }
    }

    func testBalancedWeightsMatchScikitLearn() throws {
        for c in Self.fixture.balanced_weights {
            let classes = (0..<c.classes).map { "c\($0)" }
            let counts = (0..<c.classes).map { k in c.labels.filter { $0 == k }.count }
            let weights = try ClassWeights.balanced.weights(classes: classes, counts: counts)
            for (w, expected) in zip(weights, c.weights) {
                XCTAssertEqual(Double(w), expected, accuracy: 1e-6 * expected, "labels \(c.labels)")
            }
        }
        XCTAssertThrowsError(try ClassWeights.balanced.weights(classes: ["a", "b"], counts: [3, 0])) {
            XCTAssertTrue("\($0)".contains("class 'b' has no training images"), "\($0)")
        }
    }

    func testFileListsWeightsByClass() throws {
        let text = "# weights\n\ncat 2\nsnow leopard\t0.5\r\n  dog   1e-1  \n"
        let weights = try ClassWeights.parse(Array(text.utf8), source: "w.txt")
        XCTAssertEqual(weights, ["cat": 2, "snow leopard": 0.5, "dog": 0.1])
        let given = ClassWeights.given(file: "w.txt", weights: weights)
        XCTAssertEqual(try given.weights(classes: ["cat", "dog", "snow leopard"], counts: [1, 1, 1]), [2, 0.1, 0.5])
        XCTAssertThrowsError(try given.weights(classes: ["cat", "dog", "owl", "snow leopard"], counts: [1, 1, 1, 1])) {
            XCTAssertEqual("\($0)", "w.txt: gives no weight for class 'owl': list every class once")
        }
        XCTAssertThrowsError(try given.weights(classes: ["cat", "dog"], counts: [1, 1])) {
            XCTAssertTrue("\($0)".hasPrefix("w.txt: lists class 'snow leopard', which the training images do not have"), "\($0)")
        }
    }

    /// Every malformed line is an error naming the file and the line.
    func testMalformedFilesAreRefusedWithFileAndLine() {
        let cases: [(String, String)] = [
            ("cat 1\ncat 2\n", "w.txt:2: 'cat' is listed already on line 1"),
            ("cat\n", "w.txt:1: expected `class weight`, got 'cat'"),
            ("cat 0\n", "w.txt:1: the weight of 'cat' must be a number above 0 and at most"),
            ("cat -1\n", "w.txt:1: the weight of 'cat' must be"),
            ("dog 1\ncat nan\n", "w.txt:2: the weight of 'cat' must be"),
            ("cat inf\n", "w.txt:1: the weight of 'cat' must be"),
            ("cat 1e9\n", "w.txt:1: the weight of 'cat' must be"),
            ("cat two\n", "w.txt:1: the weight of 'cat' must be"),
            ("c\u{1b}[2Jat 1\n", "w.txt:1: the class name"),
            ("# nothing\n\n", "w.txt: lists no class"),
        ]
        for (text, expected) in cases {
            XCTAssertThrowsError(try ClassWeights.parse(Array(text.utf8), source: "w.txt")) {
                XCTAssertTrue("\($0)".hasPrefix(expected), "\(text.debugDescription): \($0)")
            }
        }
        XCTAssertThrowsError(try ClassWeights.parse([0x63, 0x20, 0xFF, 0x0A], source: "w.txt")) {
            XCTAssertEqual("\($0)", "w.txt: is not UTF-8 text")
        }
    }

    func testFileThatIsNotARegularSmallFileIsRefused() throws {
        XCTAssertThrowsError(try ClassWeights.read("/nonexistent/weights.txt")) {
            XCTAssertEqual("\($0)", "/nonexistent/weights.txt: no such file")
        }
        XCTAssertThrowsError(try ClassWeights.read("/dev/zero")) {
            XCTAssertTrue("\($0)".hasPrefix("/dev/zero: "), "\($0)")
        }
    }

    /// The weights read are what a run keeps: they round-trip through the options' JSON, and
    /// out-of-range values read back are refused as the command line refuses them.
    func testWeightsRoundTripAndAreValidatedInOptions() throws {
        var o = TrainingOptions(backbone: "resnet18", data: "d", output: "o")
        o.classWeights = .given(file: "w.txt", weights: ["cat": 2, "dog": 0.5])
        let read = try JSONDecoder().decode(TrainingOptions.self, from: try JSONEncoder().encode(o))
        XCTAssertEqual(read, o)
        XCTAssertNoThrow(try read.validate())
        o.classWeights = .given(file: "w.txt", weights: ["cat": .infinity])
        XCTAssertThrowsError(try o.validate()) { XCTAssertEqual(($0 as? InvalidOption)?.option, "--class-weights") }
    }
}
