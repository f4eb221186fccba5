import Foundation
import XCTest
import FineTuneCore

/// `train`'s options never lie: one the run would not use is a usage error naming it, found
/// before any image is scanned or any folder made; the help groups the options and says the
/// schedule syntax the parser reads.
final class TrainOptionsCLITests: CLITestCase {
    func testAnOptionTheRunWouldNotUseIsAUsageErrorBeforeAnythingIsTouched() throws {
        let out = dir.appendingPathComponent("run").path
        // No images there: a check that ran after scanning would report the data instead.
        let train = ["train", "--backbone", "resnet18", "--data", dir.appendingPathComponent("absent").path, "--output", out]
        let cases: [(extra: [String], names: String)] = [
            (["--strategy", "freeze", "--freeze-epochs", "3"], "--freeze-epochs"),
            (["--strategy", "full", "--backbone-lr-mult", "0.1"], "--backbone-lr-mult"),
            (["--momentum", "0.8"], "--momentum"),
            (["--optimizer", "adamw", "--nesterov"], "--nesterov"),
            (["--dropout", "0.3"], "--dropout"),
            (["--strategy", "discriminative", "--cache-features", "2"], "--cache-features"),
            (["--strategy", "freeze", "--bn", "train"], "--bn"),
        ]
        for (extra, names) in cases {
            let r = try runFinetune(train + extra)
            XCTAssertEqual(r.status, 64, "\(extra): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("Error: \(names) "), "\(extra): \(r.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: out), "\(extra) made the output folder")
        }
        // Typed values: refused with the accepted ones.
        for (flag, value, mentions) in [("--strategy", "fast", "two-stage"), ("--optimizer", "lamb", "adamw"), ("--bn", "off", "frozen"),
                                        ("--schedule", "step:10", "step:EVERY:GAMMA"), ("--head", "mlp:x", "mlp:W1,W2")] {
            let r = try runFinetune(train + [flag, value])
            XCTAssertEqual(r.status, 64, "\(flag) \(value): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(mentions), "\(flag) \(value): \(r.stderr)")
        }
        // The same options where they apply get past the checks, to the missing images.
        let applies = try runFinetune(train + ["--optimizer", "sgd", "--momentum", "0.8", "--head", "mlp:16", "--dropout", "0.3",
                                               "--backbone-lr-mult", "0.1", "--schedule", "step:10:0.5"])
        XCTAssertEqual(applies.status, 1, applies.stderr)
        XCTAssertTrue(applies.stderr.contains("does not exist"), applies.stderr)
    }

    func testMissingRequiredOptionsAreNamed() throws {
        let r = try runFinetune(["train", "--backbone", "resnet18"])
        XCTAssertEqual(r.status, 64)
        XCTAssertTrue(r.stderr.contains("--data, --output are required"), r.stderr)
    }

    /// Pretrained weights are read before the images are scanned.
    func testBadWeightsAreReportedBeforeTheImagesAreScanned() throws {
        let weights = dir.appendingPathComponent("weights.pth")
        try Data("not a checkpoint".utf8).write(to: weights)
        let r = try runFinetune(["train", "--backbone", "resnet18", "--data", dir.appendingPathComponent("absent").path,
                                 "--output", dir.appendingPathComponent("run").path, "--weights", weights.path])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains(weights.path) && !r.stderr.contains("does not exist"), r.stderr)
    }

    func testTheHelpGroupsTheOptionsAndStatesTheScheduleSyntaxOfTheParserAndTheReadme() throws {
        let help = try runFinetune(["train", "--help"], environment: ["COLUMNS": "100"])
        XCTAssertEqual(help.status, 0)
        var last = help.stdout.startIndex
        for title in ["DATA:", "MODEL:", "STRATEGY:", "OPTIMISATION:", "AUGMENTATION:", "OUTPUT:", "PERFORMANCE:"] {
            guard let found = help.stdout.range(of: "\n" + title + "\n", range: last..<help.stdout.endIndex) else {
                return XCTFail("no \(title) group after the previous one:\n\(help.stdout)")
            }
            last = found.upperBound
        }
        for line in help.stdout.split(separator: "\n") { XCTAssertLessThanOrEqual(line.count, 100, String(line)) }
        let words = help.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        XCTAssertEqual(words.components(separatedBy: "Required (unless --resume).").count - 1, 3, "--data, --backbone, --output")
        XCTAssertTrue(words.contains(LearningRateSchedule.syntax), "help and parser disagree on --schedule")
        let readme = try String(contentsOf: Self.repositoryRoot.appendingPathComponent("README.md"), encoding: .utf8)
        XCTAssertTrue(readme.contains(LearningRateSchedule.syntax), "README and parser disagree on --schedule")
        XCTAssertThrowsError(try LearningRateSchedule(parsing: "step:EVERY:GAMMA"))
        for form in ["constant", "cosine", "cosine:1e-5", "step:100:0.5", "onecycle", "onecycle:0.25:10:100"] {
            XCTAssertNoThrow(try LearningRateSchedule(parsing: form), form)
        }
    }

    /// Without a terminal every progress line carries the date and time; progress counts epochs
    /// within their stage and shows the rate, elapsed time and the run's ETA; two-stage's
    /// second stage trains the backbone at --backbone-lr-mult.
    func testLogsWithoutATerminalAreTimestampedAndTheSecondStageTakesTheBackboneRate() throws {
        let data = dir.appendingPathComponent("data").path
        _ = try DemoDataset.write(to: data, perClass: 8, heldOut: 0)
        let r = try runFinetune(["train", "--backbone", "resnet18", "--data", data, "--output", dir.appendingPathComponent("run").path,
                                 "--freeze-epochs", "1", "--epochs", "2", "--input-size", "32", "--batch-size", "8",
                                 "--finetune-lr", "0.001", "--backbone-lr-mult", "0.5"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let stamped = try NSRegularExpression(pattern: "^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d  ")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        let events = lines.filter { $0.contains("stage ") || $0.contains("batch ") || $0.contains("epoch ") }
        XCTAssertFalse(events.isEmpty, r.stdout)
        for line in events where !line.hasPrefix("best model") {
            XCTAssertNotNil(stamped.firstMatch(in: line, range: NSRange(line.startIndex..., in: line)), line)
        }
        XCTAssertTrue(lines.contains { $0.contains("stage finetune: 2 epochs at lr 0.001 (backbone 0.0005)") }, r.stdout)
        let progress = lines.filter { $0.contains("  finetune 2/2  batch ") }
        XCTAssertFalse(progress.isEmpty, "epochs counted within the stage:\n\(r.stdout)")
        for field in ["run ETA ", "elapsed ", "lr 1.00e-03", "img/s", "epoch 3/3 of the run"] {
            XCTAssertTrue(progress.last!.contains(field), "\(field): \(progress.last!)")
        }
    }
}
