import Foundation
import XCTest
import FineTuneCore

/// `finetune train`, `predict --json` and `evaluate --json` as outside scripts call them (DESIGN §7).
final class TrainPredictCLITests: CLITestCase {
    func testTrainThenPredictAndEvaluateJSON() throws {
        let data = dir.appendingPathComponent("data").path
        _ = try DemoDataset.write(to: data, perClass: 8, heldOut: 1)
        let out = dir.appendingPathComponent("run").path
        let train = try runFinetune(["train", "--backbone", "mobilenet-v2", "--data", data, "--output", out,
                                         "--freeze-epochs", "1", "--epochs", "1", "--input-size", "32", "--batch-size", "8"])
        XCTAssertEqual(train.status, 0, train.stderr)
        XCTAssertTrue(train.stdout.contains("random initialisation"), train.stdout)
        XCTAssertTrue(train.stdout.contains("report: \(out)/report.html"), train.stdout)
        let metrics = try String(contentsOfFile: out + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        let epoch = try XCTUnwrap(metrics.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .first { $0["kind"] as? String == "epoch" })
        for key in ["stage", "epoch", "step", "loss", "accuracy", "learning_rate", "images_per_second", "val_loss", "val_accuracy"] {
            XCTAssertNotNil(epoch[key], "metrics.jsonl epoch record lacks \(key)")
        }

        let predict = try runFinetune(["predict", "--model", out + "/best.safetensors", "--json", data + "/holdout"])
        XCTAssertEqual(predict.status, 0, predict.stderr)
        let lines = predict.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 3)
        for line in lines {
            let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            XCTAssertEqual((object["logits"] as? [Double])?.count, 3)
            XCTAssertEqual((object["probabilities"] as? [Double])?.reduce(0, +) ?? 0, 1, accuracy: 1e-6)
            XCTAssertNotNil(object["image"] as? String)
            let top = try XCTUnwrap(object["top"] as? [[String: Any]])
            XCTAssertTrue(DemoDataset.classes.contains(top[0]["class"] as? String ?? ""))
        }
        let broken = dir.appendingPathComponent("broken.jpg").path
        try "not an image".write(toFile: broken, atomically: true, encoding: .utf8)
        let mixed = try runFinetune(["predict", "--model", out + "/best.safetensors", broken, data + "/holdout"])
        XCTAssertEqual(mixed.status, 1)
        XCTAssertTrue(mixed.stderr.contains("broken.jpg"), mixed.stderr)
        XCTAssertEqual(mixed.stdout.split(separator: "\n").count, 3, "the readable images still classify")

        let evaluate = try runFinetune(["evaluate", "--model", out + "/best.safetensors", "--data", data, "--json"])
        XCTAssertEqual(evaluate.status, 0, evaluate.stderr)
        let report = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(evaluate.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(report["images"] as? Int, 6)
        XCTAssertEqual((report["confusion_matrix"] as? [[Int]])?.count, 3)
        XCTAssertEqual((report["per_class"] as? [[String: Any]])?.count, 3)
    }

    /// Every built-in backbone trains in two stages (the head alone, then everything) and
    /// predicts, at 32 px on a few images: the families' blocks work end to end, not only in parity.
    func testEveryBuiltInBackboneTrainsAndPredicts() throws {
        let data = dir.appendingPathComponent("data").path
        _ = try DemoDataset.write(to: data, perClass: 4, heldOut: 1)
        let list = try runFinetune(["backbones", "--json"])
        let names = try JSONDecoder().decode([BackboneInfo].self, from: Data(list.stdout.utf8)).map(\.name)
        XCTAssertEqual(names.count, 12, list.stdout)
        for name in names {
            let out = dir.appendingPathComponent("run-\(name)").path
            let train = try runFinetune(["train", "--backbone", name, "--data", data, "--output", out, "--strategy", "two-stage",
                                         "--freeze-epochs", "1", "--epochs", "1", "--input-size", "32", "--batch-size", "4"])
            XCTAssertEqual(train.status, 0, "\(name): \(train.stderr)")
            let predict = try runFinetune(["predict", "--model", out + "/best.safetensors", data + "/holdout"])
            XCTAssertEqual(predict.status, 0, "\(name): \(predict.stderr)")
            XCTAssertEqual(predict.stdout.split(separator: "\n").count, 3, "\(name): \(predict.stdout)")
        }
    }
}
