import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest
import FineTuneCore

/// `finetune lr-find` and `train --lr auto` on a tiny generated set (resnet18 at 32 px).
final class LRFindCLITests: CLITestCase {
    func demoData() throws -> String {
        let data = dir.appendingPathComponent("data").path
        _ = try DemoDataset.write(to: data, perClass: 8, heldOut: 0)
        return data
    }

    func testLRFindPrintsTheSuggestionsAndDrawsTheCurveWritingNoRun() throws {
        let data = try demoData()
        let plot = dir.appendingPathComponent("curve.svg")
        let r = try runFinetune(["lr-find", "--backbone", "resnet18", "--data", data, "--input-size", "32", "--batch-size", "8",
                                 "--steps", "20", "--plot", plot.path])
        XCTAssertEqual(r.status, 0, r.stderr + r.stdout)
        XCTAssertTrue(r.stdout.contains("lr-find: 20 steps from 1e-07 to 10.0, stage freeze (the head; the backbone frozen)"), r.stdout)
        XCTAssertTrue(r.stdout.contains("suggested learning rates:"), r.stdout)
        for method in ["valley", "steep", "minimum"] {
            XCTAssertTrue(r.stdout.split(separator: "\n").contains { $0.hasPrefix("  \(method) ") }, "\(method):\n\(r.stdout)")
        }
        let plotLines = r.stdout.split(separator: "\n").filter { $0.contains("│") || $0.contains("└") }
        XCTAssertFalse(plotLines.isEmpty, r.stdout)
        for line in plotLines { XCTAssertLessThanOrEqual(line.count, 80, String(line)) }
        XCTAssertTrue(XMLParser(data: try Data(contentsOf: plot)).parse(), "the plot is well-formed")
        // Nothing but the images, the plot and the test's own folders: no run folder, no model.
        let left = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { !$0.hasPrefix("xdg") }.sorted()
        XCTAssertEqual(left, ["curve.svg", "data"])
    }

    func testOptionsOfARunsLengthOrRateAreRefusedAndTheSweepsAreChecked() throws {
        let data = try demoData()
        let base = ["lr-find", "--backbone", "resnet18", "--data", data]
        for (extra, expected) in [(["--lr", "0.01"], "--lr does not apply to lr-find"),
                                  (["--schedule", "cosine"], "--schedule does not apply to lr-find"),
                                  (["--epochs", "3"], "Unknown option '--epochs'"),
                                  (["--output", "x"], "Unknown option '--output'"),
                                  (["--steps", "3"], "--steps"),
                                  (["--start-lr", "0"], "--start-lr"),
                                  (["--end-lr", "1e-8"], "--end-lr"),
                                  (["--strategy", "freeze", "--unfreeze", "2"], "--unfreeze does nothing with --strategy freeze")] {
            let r = try runFinetune(base + extra)
            XCTAssertNotEqual(r.status, 0, "\(extra)")
            XCTAssertTrue(r.stderr.contains(expected), "\(extra): \(r.stderr)")
        }
        let help = try runFinetune(["lr-find", "--help"])
        for option in ["--start-lr", "--end-lr", "--steps", "--plot", "--backbone-lr-mult", "--strategy"] {
            XCTAssertTrue(help.stdout.contains(option), option)
        }
        // Not offered: no option line of the help starts with them (the discussion names them).
        let offered = help.stdout.split(separator: "\n").map { $0.drop { $0 == " " } }.filter { $0.hasPrefix("--") }
        XCTAssertTrue(offered.contains { $0.hasPrefix("--start-lr ") }, help.stdout)
        for option in ["--epochs", "--output", "--resume", "--patience", "--cache-features"] {
            XCTAssertFalse(offered.contains { $0.hasPrefix(option + " ") }, "\(option):\n\(help.stdout)")
        }
    }

    func testTrainLRAutoWithoutAFreezeStageToSweepIsAUsageError() throws {
        let r = try runFinetune(["train", "--backbone", "resnet18", "--data", "missing", "--output", "run", "--lr", "auto",
                                 "--freeze-epochs", "0"])
        XCTAssertEqual(r.status, 64, "a usage error, before the (missing) images are looked for: \(r.stderr)")
        XCTAssertTrue(r.stderr.contains("--lr auto finds the rate of two-stage's freeze stage"), r.stderr)
    }

    func testTrainLRAutoSavesTheRateFoundAndResumeKeepsIt() throws {
        let data = try demoData()
        let run = dir.appendingPathComponent("run").path
        let r = try runFinetune(["train", "--backbone", "resnet18", "--data", data, "--output", run, "--strategy", "freeze",
                                 "--epochs", "1", "--input-size", "32", "--batch-size", "8", "--lr", "auto"])
        XCTAssertEqual(r.status, 0, r.stderr + r.stdout)
        XCTAssertTrue(r.stdout.contains("--lr auto: the range test suggests"), r.stdout)
        let state = try TrainingState(contentsOf: RunFolder(URL(fileURLWithPath: run)).url(.state))
        let rate = try XCTUnwrap(state.options.automaticLR?.found)
        XCTAssertEqual(state.options.lr, rate)
        XCTAssertTrue(r.stdout.contains("stage freeze: 1 epochs at lr \(rate)"), r.stdout)
        let html = try String(contentsOfFile: run + "/report.html", encoding: .utf8)
        XCTAssertTrue(html.contains("found by the learning-rate range test"), "the report names where the rate came from")

        let again = try runFinetune(["train", "--resume", run, "--lr", "auto"])
        XCTAssertNotEqual(again.status, 0)
        XCTAssertTrue(again.stderr.contains("--lr cannot change on --resume"), again.stderr)
        XCTAssertTrue(again.stderr.contains("the run keeps auto (found \(rate))"), again.stderr)
        let resumed = try runFinetune(["train", "--resume", run])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertFalse(resumed.stdout.contains("--lr auto"), "no second search:\n\(resumed.stdout)")
    }

    /// Ctrl-C during `train --lr auto`'s range test exits 130, saying nothing was trained, and
    /// leaves no run folder (nothing was committed).
    func testInterruptDuringTheRangeTestExits130AndLeavesNoFolder() throws {
        let data = dir.appendingPathComponent("data").path, out = dir.appendingPathComponent("run").path
        _ = try DemoDataset.write(to: data, perClass: 8, heldOut: 0)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: PluginCatalog.executableDir!).appendingPathComponent("finetune")
        p.arguments = ["train", "--backbone", "mobilenet-v2", "--data", data, "--output", out, "--strategy", "full",
                       "--epochs", "1", "--input-size", "160", "--batch-size", "16", "--lr", "auto"]
        let log = dir.appendingPathComponent("log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        p.standardOutput = handle
        p.standardError = handle
        try p.run()
        let deadline = Date().addingTimeInterval(300)
        while !((try? String(contentsOf: log, encoding: .utf8))?.contains("lr-find: 100 steps") ?? false), p.isRunning, Date() < deadline {
            Thread.sleep(forTimeInterval: 0.05)
        }
        kill(p.processIdentifier, SIGINT)
        p.waitUntilExit()
        let text = try String(contentsOf: log, encoding: .utf8)
        XCTAssertEqual(p.terminationStatus, 130, text)
        XCTAssertTrue(text.contains("stopped during the learning-rate range test of --lr auto; nothing was trained or saved"), text)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "no run folder is left")
    }
}
