import Foundation
import XCTest
import FineTuneCore

/// `train`'s options for imbalanced classes: refused before any image is scanned when their
/// values are bad, kept by `--resume`, shown in the report.
final class ImbalanceCLITests: CLITestCase {
    func testBadClassWeightsAreUsageErrorsBeforeTheImagesAreScanned() throws {
        let out = dir.appendingPathComponent("run").path
        let train = ["train", "--backbone", "resnet18", "--data", dir.appendingPathComponent("absent").path, "--output", out]
        let file = dir.appendingPathComponent("weights.txt")
        try Data("disks 1\nstripes -2\n".utf8).write(to: file)
        let missing = dir.appendingPathComponent("none.txt").path
        for (value, expected) in [(file.path, "\(file.path):2: the weight of 'stripes' must be"), (missing, "\(missing): no such file")] {
            let r = try runFinetune(train + ["--class-weights", value])
            XCTAssertEqual(r.status, 64, r.stderr)
            XCTAssertTrue(r.stderr.contains("Error: \(expected)"), r.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        }
        let help = try runFinetune(["train", "--help"], environment: ["COLUMNS": "100"])
        let optimisation = try XCTUnwrap(help.stdout.range(of: "\nOPTIMISATION:\n"))
        let augmentation = try XCTUnwrap(help.stdout.range(of: "\nAUGMENTATION:\n"))
        XCTAssertTrue(help.stdout[optimisation.upperBound..<augmentation.lowerBound].contains("--class-weights <balanced|FILE>"))
    }

    /// A file's weights are read once, kept in the run state (a resumed run trains with them even
    /// when the file has gone), and shown in the report.
    func testClassWeightsFromAFileAreKeptOnResumeAndReported() throws {
        let data = dir.appendingPathComponent("data").path
        _ = try DemoDataset.write(to: data, perClass: 6, heldOut: 0)
        let file = dir.appendingPathComponent("weights.txt")
        try Data("checkers 2\ndisks 0.5\nstripes 1\n".utf8).write(to: file)
        let out = dir.appendingPathComponent("run").path
        let first = try runFinetune(["train", "--backbone", "mobilenet-v2", "--data", data, "--output", out, "--strategy", "freeze",
                                     "--epochs", "1", "--input-size", "32", "--batch-size", "4", "--class-weights", file.path])
        XCTAssertEqual(first.status, 0, first.stderr)
        let state = try String(contentsOfFile: out + "/training-state.json", encoding: .utf8)
        XCTAssertTrue(state.contains("\"classWeights\""), state)
        let html = try String(contentsOfFile: out + "/report.html", encoding: .utf8)
        XCTAssertTrue(html.contains("from \(file.path): checkers 2, disks 0.5, stripes 1"), "the report shows the weights")
        try FileManager.default.removeItem(at: file)
        let resumed = try runFinetune(["train", "--resume", out])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
    }

    /// `--best-metric` is typed; the epoch records, the report and `evaluate` carry balanced
    /// accuracy and macro-F1 next to accuracy.
    func testBestMetricAndTheBalancedMetricsInRecordsReportAndEvaluate() throws {
        let absent = ["train", "--backbone", "resnet18", "--data", dir.appendingPathComponent("absent").path,
                      "--output", dir.appendingPathComponent("none").path]
        let typo = try runFinetune(absent + ["--best-metric", "f1"])
        XCTAssertEqual(typo.status, 64, typo.stderr)
        XCTAssertTrue(typo.stderr.contains("balanced-accuracy"), typo.stderr)
        let data = dir.appendingPathComponent("data").path
        _ = try DemoDataset.write(to: data, perClass: 6, heldOut: 0)
        let out = dir.appendingPathComponent("run").path
        let train = try runFinetune(["train", "--backbone", "mobilenet-v2", "--data", data, "--output", out, "--strategy", "freeze",
                                     "--epochs", "2", "--input-size", "32", "--batch-size", "4", "--best-metric", "val-loss"])
        XCTAssertEqual(train.status, 0, train.stderr)
        let epochs = try String(contentsOfFile: out + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
            .compactMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .filter { $0["kind"] as? String == "epoch" }
        XCTAssertEqual(epochs.count, 2)
        for record in epochs {
            XCTAssertNotNil(record["val_balanced_accuracy"] as? Double)
            XCTAssertNotNil(record["val_macro_f1"] as? Double)
        }
        let losses = epochs.map { $0["val_loss"] as! Double }
        let state = try TrainingState(contentsOf: URL(fileURLWithPath: out + "/training-state.json"))
        XCTAssertEqual(state.bestEpoch, losses[1] < losses[0] ? 2 : 1, "best is the epoch of the lowest validation loss")
        XCTAssertEqual(state.options.bestMetric, .valLoss)
        let html = try String(contentsOfFile: out + "/report.html", encoding: .utf8)
        XCTAssertTrue(html.contains("<td>validation loss</td>") && html.contains("val balanced accuracy")
                      && html.contains("balanced accuracy</th>"), "the report shows the metric and the balanced values")

        let json = try runFinetune(["evaluate", "--model", out + "/best.safetensors", "--data", data, "--json"])
        XCTAssertEqual(json.status, 0, json.stderr)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        for key in ["accuracy", "balanced_accuracy", "macro_f1"] { XCTAssertNotNil(object[key] as? Double, key) }
        let text = try runFinetune(["evaluate", "--model", out + "/best.safetensors", "--data", data])
        XCTAssertTrue(text.stdout.contains(", balanced accuracy ") && text.stdout.contains(", macro-F1 "), text.stdout)
    }

    func testBalancedSamplerIsTypedKeptInTheStateAndReported() throws {
        let absent = ["train", "--backbone", "resnet18", "--data", dir.appendingPathComponent("absent").path,
                      "--output", dir.appendingPathComponent("none").path]
        let typo = try runFinetune(absent + ["--sampler", "weighted"])
        XCTAssertEqual(typo.status, 64, typo.stderr)
        XCTAssertTrue(typo.stderr.contains("balanced"), typo.stderr)
        let data = dir.appendingPathComponent("data").path
        _ = try DemoDataset.write(to: data, perClass: 6, heldOut: 0)
        let out = dir.appendingPathComponent("run").path
        let r = try runFinetune(["train", "--backbone", "mobilenet-v2", "--data", data, "--output", out, "--strategy", "full",
                                 "--epochs", "1", "--input-size", "32", "--batch-size", "4", "--sampler", "balanced"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try TrainingState(contentsOf: URL(fileURLWithPath: out + "/training-state.json")).options.sampler, .balanced)
        let html = try String(contentsOfFile: out + "/report.html", encoding: .utf8)
        XCTAssertTrue(html.contains("balanced (each class drawn equally often, with replacement)"), "the report names the sampler")
    }

    func testMaxTrainSamplesTrainsOnAStratifiedSubset() throws {
        let absent = ["train", "--backbone", "resnet18", "--data", dir.appendingPathComponent("absent").path,
                      "--output", dir.appendingPathComponent("none").path]
        let zero = try runFinetune(absent + ["--max-train-samples", "0"])
        XCTAssertEqual(zero.status, 64, zero.stderr)
        XCTAssertTrue(zero.stderr.contains("--max-train-samples must be an integer from 1"), zero.stderr)
        let data = dir.appendingPathComponent("data").path
        _ = try DemoDataset.write(to: data, perClass: 10, heldOut: 0)
        let out = dir.appendingPathComponent("run").path
        let r = try runFinetune(["train", "--backbone", "mobilenet-v2", "--data", data, "--output", out, "--strategy", "freeze",
                                 "--epochs", "1", "--input-size", "32", "--batch-size", "4", "--max-train-samples", "12"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("--max-train-samples: training on 12 of 30 images"), r.stdout)
        XCTAssertEqual(try TrainingState(contentsOf: URL(fileURLWithPath: out + "/training-state.json")).options.maxTrainSamples, 12)
    }
}
