import Foundation
import XCTest
import FineTuneCore

/// `finetune train --cache-features N` as a user runs it: progress while caching, the notice for
/// a stage whose backbone trains, the help text, and a bad N refused.
final class CacheFeaturesCLITests: CLITestCase {
    func testCachedTwoStageRunReportsCachingAndTheIgnoredStage() throws {
        let data = dir.appendingPathComponent("data").path
        _ = try DemoDataset.write(to: data, perClass: 8, heldOut: 0)
        let out = dir.appendingPathComponent("run").path
        let train = try runFinetune(["train", "--backbone", "mobilenet-v2", "--data", data, "--output", out, "--cache-features", "1",
                                     "--freeze-epochs", "2", "--epochs", "1", "--input-size", "32", "--batch-size", "8"])
        XCTAssertEqual(train.status, 0, train.stderr)
        XCTAssertTrue(train.stdout.contains("caching features of training images, view 1 of 1"), train.stdout)
        XCTAssertTrue(train.stdout.contains("--cache-features is ignored in stage finetune"), train.stdout)
        for name in ["best.safetensors", "last.safetensors", "metrics.jsonl", "report.html", "training-state.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/" + name), name)
        }
    }

    func testHelpStatesTheViewsAndTooManyViewsAreRefused() throws {
        let help = try runFinetune(["train", "--help"])
        XCTAssertTrue(help.stdout.contains("--cache-features <N>"), help.stdout)
        let text = help.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")  // wrapped to the terminal
        XCTAssertTrue(text.contains("exactly the augmentation every step would see"), help.stdout)
        XCTAssertTrue(text.contains("0 keeps none"), help.stdout)
        let many = try runFinetune(["train", "--backbone", "mobilenet-v2", "--data", "x", "--output", "y", "--cache-features", "1001"])
        XCTAssertNotEqual(many.status, 0)
        XCTAssertTrue(many.stderr.contains("--cache-features must be an integer from 0 (keep no features) to 1000"), many.stderr)
    }
}
