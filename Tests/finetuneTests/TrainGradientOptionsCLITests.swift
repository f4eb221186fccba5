import Foundation
import XCTest
import FineTuneCore

/// `train`'s gradient options (`--clip-grad`, `--accumulate`): typed and range-checked before any image is
/// scanned, listed in the help's Optimisation group, kept in the run state so `--resume` keeps
/// them, and shown in the report.
final class TrainGradientOptionsCLITests: CLITestCase {
    func testBadValuesAreUsageErrorsBeforeAnythingIsTouched() throws {
        let out = dir.appendingPathComponent("run").path
        // No images there: a check that ran after scanning would report the data instead.
        let train = ["train", "--backbone", "resnet18", "--data", dir.appendingPathComponent("absent").path, "--output", out]
        for (flag, value) in [("--clip-grad", "0"), ("--clip-grad", "-1"), ("--clip-grad", "nan"), ("--clip-grad", "inf"),
                              ("--clip-grad", "big"), ("--accumulate", "0"), ("--accumulate", "-2"), ("--accumulate", "5000"),
                              ("--accumulate", "1.5")] {
            let r = try runFinetune(train + [flag, value])
            XCTAssertEqual(r.status, 64, "\(flag) \(value): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(flag), "\(flag) \(value): \(r.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: out), "\(flag) \(value) made the output folder")
        }
        let applies = try runFinetune(train + ["--clip-grad", "2.5", "--accumulate", "4"])
        XCTAssertEqual(applies.status, 1, applies.stderr)
        XCTAssertTrue(applies.stderr.contains("does not exist"), applies.stderr)

        let help = try runFinetune(["train", "--help"], environment: ["COLUMNS": "100"])
        let optimisation = try XCTUnwrap(help.stdout.components(separatedBy: "\nOPTIMISATION:\n").last?
            .components(separatedBy: "\nAUGMENTATION:\n").first, help.stdout)
        XCTAssertTrue(optimisation.contains("--clip-grad <NORM>"), optimisation)
        XCTAssertTrue(optimisation.contains("--accumulate <N>"), optimisation)
    }

    func testTheRunKeepsAndReportsTheOptions() throws {
        let data = dir.appendingPathComponent("data").path, out = dir.appendingPathComponent("run").path
        _ = try DemoDataset.write(to: data, perClass: 4, heldOut: 0)
        let r = try runFinetune(["train", "--backbone", "mobilenet-v2", "--data", data, "--output", out, "--strategy", "full",
                                 "--epochs", "1", "--input-size", "32", "--batch-size", "4", "--clip-grad", "0.5", "--accumulate", "2"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let state = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/training-state.json")))
                                  as? [String: Any])
        let options = try XCTUnwrap(state["options"] as? [String: Any])
        XCTAssertEqual(options["clipGrad"] as? Double, 0.5)
        XCTAssertEqual(options["accumulate"] as? Int, 2)
        let html = try String(contentsOfFile: out + "/report.html", encoding: .utf8)
        XCTAssertTrue(html.contains("<td>total L2 norm at most 0.5</td>"), "the report shows the clipping")
        XCTAssertTrue(html.contains("<td>4, gradients of 2 batches accumulated per step</td>"), "and the accumulation")
        let accumulating = try runFinetune(["train", "--resume", out, "--accumulate", "3"])
        XCTAssertEqual(accumulating.status, 1)
        XCTAssertTrue(accumulating.stderr.contains("--accumulate cannot change on --resume; the run keeps 2"), accumulating.stderr)
        let changed = try runFinetune(["train", "--resume", out, "--clip-grad", "1"])
        XCTAssertEqual(changed.status, 1)
        XCTAssertTrue(changed.stderr.contains("--clip-grad cannot change on --resume; the run keeps 0.5"), changed.stderr)
        let same = try runFinetune(["train", "--resume", out, "--clip-grad", "0.5"])
        XCTAssertEqual(same.status, 0, same.stderr)
    }
}
