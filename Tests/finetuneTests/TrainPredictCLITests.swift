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
        let html = try String(contentsOfFile: out + "/report.html", encoding: .utf8)
        XCTAssertTrue(html.contains("finetune train --backbone mobilenet-v2 --data \(data) --output \(out) --freeze-epochs 1 --epochs 1 "
                                    + "--input-size 32 --batch-size 8</td>"), "the report shows the command line")
        XCTAssertTrue(html.contains("<td>random resized crop, horizontal flip</td>"), "and the augmentation")
        let metrics = try String(contentsOfFile: out + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        let epoch = try XCTUnwrap(metrics.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .first { $0["kind"] as? String == "epoch" })
        for key in ["stage", "epoch", "step", "loss", "accuracy", "learning_rate", "images_per_second", "val_loss", "val_accuracy"] {
            XCTAssertNotNil(epoch[key], "metrics.jsonl epoch record lacks \(key)")
        }

        let model = out + "/best.safetensors"
        let predict = try runFinetune(["predict", "--model", model, "--json", data + "/holdout"])
        XCTAssertEqual(predict.status, 0, predict.stderr)
        var lines = try predict.stdout.split(separator: "\n").map {
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        XCTAssertEqual(lines.count, 4, "a header, then one record per image")
        let header = lines.removeFirst()
        XCTAssertEqual(header["classes"] as? [String], DemoDataset.classes)
        let described = try XCTUnwrap(header["model"] as? [String: Any])
        XCTAssertEqual(described["file"] as? String, model)
        XCTAssertEqual(described["backbone"] as? String, "mobilenet-v2")
        XCTAssertEqual(described["input_size"] as? Int, 32)
        XCTAssertNil(described["classes"], "the header states the classes once")
        for object in lines {
            XCTAssertEqual((object["logits"] as? [Double])?.count, 3)
            let probabilities = try XCTUnwrap(object["probabilities"] as? [Double])
            XCTAssertEqual(probabilities.reduce(0, +), 1, accuracy: 1e-5)
            for p in probabilities { XCTAssertEqual(p, (p * 1e6).rounded() / 1e6, "rounded to 6 decimals") }
            XCTAssertNotNil(object["image"] as? String)
            XCTAssertNil(object["error"])
            let top = try XCTUnwrap(object["top"] as? [[String: Any]])
            XCTAssertTrue(DemoDataset.classes.contains(top[0]["class"] as? String ?? ""))
        }
        let broken = dir.appendingPathComponent("broken.jpg").path
        try "not an image".write(toFile: broken, atomically: true, encoding: .utf8)
        let mixed = try runFinetune(["predict", "--model", model, broken, data + "/holdout"])
        XCTAssertEqual(mixed.status, 1)
        XCTAssertTrue(mixed.stderr.contains("broken.jpg"), mixed.stderr)
        XCTAssertEqual(mixed.stdout.split(separator: "\n").count, 3, "the readable images still classify")

        let mixedJSON = try runFinetune(["predict", "--model", model, "--json", broken, data + "/holdout"])
        XCTAssertEqual(mixedJSON.status, 1, "an image that could not be read fails the run")
        let records = try mixedJSON.stdout.split(separator: "\n").map {
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        XCTAssertEqual(records.count, 5, "header, the broken image's record, the three others")
        XCTAssertNotNil(records[0]["classes"])
        XCTAssertEqual(records[1]["image"] as? String, broken)
        XCTAssertTrue((records[1]["error"] as? String)?.contains("broken.jpg") ?? false, "\(records[1])")
        XCTAssertNil(records[1]["probabilities"])
        XCTAssertEqual(records.dropFirst(2).filter { $0["top"] != nil }.count, 3, "the readable images still classify")
        XCTAssertTrue(mixedJSON.stderr.contains("1 of 4 images could not be read"), mixedJSON.stderr)

        let evaluate = try runFinetune(["evaluate", "--model", model, "--data", data, "--json"])
        XCTAssertEqual(evaluate.status, 0, evaluate.stderr)
        let report = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(evaluate.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(report["images"] as? Int, 6)
        XCTAssertEqual((report["confusion_matrix"] as? [[Int]])?.count, 3)
        XCTAssertEqual((report["per_class"] as? [[String: Any]])?.count, 3)
        let evaluated = try XCTUnwrap(report["model"] as? [String: Any])
        XCTAssertEqual(evaluated["file"] as? String, model)
        XCTAssertEqual(evaluated["backbone"] as? String, "mobilenet-v2")
        XCTAssertEqual(evaluated["classes"] as? [String], DemoDataset.classes)
        let evaluatedData = try XCTUnwrap(report["data"] as? [String: Any])
        XCTAssertEqual(evaluatedData["folder"] as? String, data + "/val", "DIR/val when DIR has train and val")
        XCTAssertEqual(evaluatedData["images"] as? Int, 6)
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
