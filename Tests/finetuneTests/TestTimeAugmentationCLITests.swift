import Foundation
import XCTest
import FineTuneCore

/// `predict --tta` and `evaluate --tta`: the augmented result in predict's records, and next to
/// the plain one in evaluate's text and JSON, the two commands agreeing image by image.
final class TestTimeAugmentationCLITests: CLITestCase {
    func testPredictAndEvaluateCarryTheAugmentedResult() throws {
        let data = dir.appendingPathComponent("data").path
        _ = try DemoDataset.write(to: data, perClass: 8, heldOut: 1)
        let out = dir.appendingPathComponent("run").path
        let train = try runFinetune(["train", "--backbone", "mobilenet-v2", "--data", data, "--output", out,
                                     "--strategy", "freeze", "--epochs", "1", "--input-size", "32", "--batch-size", "4"])
        XCTAssertEqual(train.status, 0, train.stderr)
        let model = out + "/best.safetensors"

        func records(_ arguments: [String]) throws -> (header: [String: Any], records: [[String: Any]]) {
            let r = try runFinetune(["predict", "--model", model, "--json"] + arguments)
            XCTAssertEqual(r.status, 0, r.stderr)
            var lines = try r.stdout.split(separator: "\n").map {
                try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
            }
            return (lines.removeFirst(), lines)
        }
        let plain = try records([data + "/val"])
        let augmented = try records(["--tta", data + "/val"])
        XCTAssertEqual(plain.header["tta"] as? Bool, false)
        XCTAssertEqual(augmented.header["tta"] as? Bool, true)
        XCTAssertEqual(augmented.records.count, plain.records.count)
        XCTAssertNotEqual(augmented.records.map { "\($0["probabilities"] ?? "")" }, plain.records.map { "\($0["probabilities"] ?? "")" },
                          "the augmented probabilities are not the plain ones")
        for record in augmented.records {
            let probabilities = try XCTUnwrap(record["probabilities"] as? [Double])
            XCTAssertEqual(probabilities.reduce(0, +), 1, accuracy: 1e-5)
            XCTAssertEqual((record["logits"] as? [Double])?.count, 3)
        }

        let evaluate = try runFinetune(["evaluate", "--model", model, "--data", data, "--json"])
        let evaluateTTA = try runFinetune(["evaluate", "--model", model, "--data", data, "--json", "--tta"])
        XCTAssertEqual(evaluateTTA.status, 0, evaluateTTA.stderr)
        let report = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(evaluate.stdout.utf8)) as? [String: Any])
        let reportTTA = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(evaluateTTA.stdout.utf8)) as? [String: Any])
        XCTAssertNil(report["tta"])
        for key in ["accuracy", "loss"] {
            XCTAssertEqual(try XCTUnwrap(reportTTA[key] as? Double), try XCTUnwrap(report[key] as? Double), "the plain \(key) is the same with --tta")
        }
        XCTAssertEqual(reportTTA["images"] as? Int, 6)
        XCTAssertEqual(reportTTA["confusion_matrix"] as? [[Int]], report["confusion_matrix"] as? [[Int]])
        let tta = try XCTUnwrap(reportTTA["tta"] as? [String: Any])
        XCTAssertEqual((tta["per_class"] as? [[String: Any]])?.count, 3)
        XCTAssertNotNil(tta["loss"] as? Double)
        // evaluate's augmented confusion matrix is predict --tta's top class of each image of DATA/val.
        var counts = [[Int]](repeating: [0, 0, 0], count: 3)
        for record in augmented.records {
            let image = try XCTUnwrap(record["image"] as? String)
            let truth = try XCTUnwrap(DemoDataset.classes.firstIndex { image.contains("/val/\($0)/") }, image)
            let top = try XCTUnwrap((record["top"] as? [[String: Any]])?.first?["class"] as? String)
            counts[truth][try XCTUnwrap(DemoDataset.classes.firstIndex(of: top))] += 1
        }
        XCTAssertEqual(tta["confusion_matrix"] as? [[Int]], counts)
        XCTAssertEqual(tta["accuracy"] as? Double, Double((0..<3).map { counts[$0][$0] }.reduce(0, +)) / Double(augmented.records.count))

        let text = try runFinetune(["evaluate", "--model", model, "--data", data, "--tta"])
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertTrue(text.stdout.contains("with TTA (centre crop + flip): accuracy "), text.stdout)
    }
}
