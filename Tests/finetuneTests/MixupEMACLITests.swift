import Foundation
import XCTest
import FineTuneCore

/// `train --mixup`, `--cutmix` and `--ema`: range-checked before any image is scanned, refused
/// where no stage trains backbone layers, listed in the help, kept in the run state, and the
/// average saved and validated beside the weights.
final class MixupEMACLITests: CLITestCase {
    func testBadOrInapplicableValuesAreUsageErrors() throws {
        let out = dir.appendingPathComponent("run").path
        let train = ["train", "--backbone", "resnet18", "--data", dir.appendingPathComponent("absent").path, "--output", out]
        for (flag, value) in [("--mixup", "-0.1"), ("--mixup", "nan"), ("--mixup", "101"), ("--cutmix", "-1"), ("--cutmix", "inf"),
                              ("--ema", "0"), ("--ema", "1"), ("--ema", "1.5"), ("--ema", "nan")] {
            let r = try runFinetune(train + [flag, value])
            XCTAssertEqual(r.status, 64, "\(flag) \(value): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(flag), "\(flag) \(value): \(r.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: out), "\(flag) \(value) made the output folder")
        }
        for flag in ["--mixup", "--cutmix", "--ema"] {
            let r = try runFinetune(train + ["--strategy", "freeze", flag, "0.5"])
            XCTAssertEqual(r.status, 64, "\(flag): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("\(flag) applies to stages that train backbone layers"), r.stderr)
        }
        let applies = try runFinetune(train + ["--mixup", "0.2", "--cutmix", "1", "--ema", "0.999"])
        XCTAssertEqual(applies.status, 1, applies.stderr)
        XCTAssertTrue(applies.stderr.contains("does not exist"), applies.stderr)

        let help = try runFinetune(["train", "--help"], environment: ["COLUMNS": "100"])
        XCTAssertTrue(help.stdout.contains("--mixup <ALPHA>"), help.stdout)
        XCTAssertTrue(help.stdout.contains("--cutmix <ALPHA>"), help.stdout)
        XCTAssertTrue(help.stdout.contains("--ema <DECAY>"), help.stdout)
    }

    func testTwoStageMixesAndAveragesInItsSecondStageAndResumeKeepsThem() throws {
        let data = dir.appendingPathComponent("data").path, out = dir.appendingPathComponent("run").path
        _ = try DemoDataset.write(to: data, perClass: 4, heldOut: 1)
        let r = try runFinetune(["train", "--backbone", "mobilenet-v2", "--data", data, "--output", out, "--freeze-epochs", "1",
                                 "--epochs", "1", "--input-size", "32", "--batch-size", "4", "--mixup", "0.4", "--ema", "0.9"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("stage freeze trains its head on backbone features: mixing and --ema apply where backbone layers train"),
                      r.stdout)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/ema.safetensors"))
        let lines = try String(contentsOfFile: out + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        let epochs = try lines.compactMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .filter { $0["kind"] as? String == "epoch" }
        XCTAssertEqual(epochs.map { $0["ema_val_accuracy"] != nil }, [false, true], "the average is validated in the second stage only")
        let state = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/training-state.json")))
                                  as? [String: Any])
        let options = try XCTUnwrap(state["options"] as? [String: Any])
        XCTAssertEqual(options["ema"] as? Double, 0.9)
        XCTAssertEqual((options["mixup"] as? [String: Any])?["mixupAlpha"] as? Double, 0.4)
        let changed = try runFinetune(["train", "--resume", out, "--ema", "0.99"])
        XCTAssertEqual(changed.status, 1)
        XCTAssertTrue(changed.stderr.contains("--ema cannot change on --resume; the run keeps 0.9"), changed.stderr)
        let evaluated = try runFinetune(["evaluate", "--model", out + "/ema.safetensors", "--data", data + "/val"])
        XCTAssertEqual(evaluated.status, 0, "the average is an ordinary model file: \(evaluated.stderr)")
    }
}
