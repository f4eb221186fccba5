import Foundation
import XCTest
import FineTuneCore

/// `finetune train` and its output folder: another run is not replaced silently, options given
/// with `--resume` are refused or applied aloud, a tampered state is an error, a failed run
/// leaves no folder, and Ctrl-C / SIGTERM save and exit with 130 / 143.
final class RunFolderCLITests: CLITestCase {
    var data: String { dir.appendingPathComponent("data").path }
    var out: String { dir.appendingPathComponent("run").path }

    func train(_ extra: [String], epochs: Int = 1) -> [String] {
        ["train", "--backbone", "mobilenet-v2", "--data", data, "--output", out, "--strategy", "freeze",
         "--epochs", "\(epochs)", "--input-size", "32", "--batch-size", "4", "--threads", "1"] + extra
    }

    func testOverwriteResumeOptionsAndTamperedState() throws {
        _ = try DemoDataset.write(to: data, perClass: 4, heldOut: 0)
        let first = try runFinetune(train([]))
        XCTAssertEqual(first.status, 0, first.stderr)

        let again = try runFinetune(train([]))
        XCTAssertEqual(again.status, 1)
        XCTAssertTrue(again.stderr.contains("holds another run") && again.stderr.contains("--overwrite"), again.stderr)
        let overwritten = try runFinetune(train(["--overwrite", "--seed", "3"]))
        XCTAssertEqual(overwritten.status, 0, overwritten.stderr)

        let changed = try runFinetune(["train", "--resume", out, "--lr", "0.5"])
        XCTAssertEqual(changed.status, 1)
        XCTAssertTrue(changed.stderr.contains("--lr cannot change on --resume; the run keeps 0.001"), changed.stderr)
        let same = try runFinetune(["train", "--resume", out, "--epochs", "1", "--workers", "1"])
        XCTAssertEqual(same.status, 0, same.stderr)
        XCTAssertTrue(same.stdout.contains("--workers: 1 for the resumed run (it had 2)"), same.stdout)
        XCTAssertTrue(same.stdout.contains("had finished"), same.stdout)
        let both = try runFinetune(["train", "--resume", out, "--overwrite"])
        XCTAssertNotEqual(both.status, 0)
        XCTAssertTrue(both.stderr.contains("--overwrite cannot be given with --resume"), both.stderr)

        let stateFile = out + "/training-state.json"
        var state = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: stateFile))) as? [String: Any])
        var options = try XCTUnwrap(state["options"] as? [String: Any])
        options["batchSize"] = 0
        state["options"] = options
        try JSONSerialization.data(withJSONObject: state).write(to: URL(fileURLWithPath: stateFile))
        let tampered = try runFinetune(["train", "--resume", out])
        XCTAssertEqual(tampered.status, 1)
        XCTAssertTrue(tampered.stderr.contains("training-state.json: options: --batch-size must be"), tampered.stderr)

        let never = dir.appendingPathComponent("never").path
        let failed = try runFinetune(["train", "--backbone", "mobilenet-v2", "--data", data + "/missing", "--output", never])
        XCTAssertEqual(failed.status, 1)
        XCTAssertFalse(FileManager.default.fileExists(atPath: never), "a failed run leaves no folder")
    }

    /// SIGINT (Ctrl-C) and SIGTERM: a note that the run is saving, a commit, exit 130 / 143 within seconds.
    func testInterruptSavesAndExitsWithTheSignalsStatus() throws {
        _ = try DemoDataset.write(to: data, perClass: 8, heldOut: 0)
        for (signal, status) in [(SIGINT, Int32(130)), (SIGTERM, Int32(143))] {
            try? FileManager.default.removeItem(atPath: out)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: PluginCatalog.executableDir!).appendingPathComponent("finetune")
            p.arguments = train([], epochs: 1000)
            let log = dir.appendingPathComponent("log-\(signal)")
            FileManager.default.createFile(atPath: log.path, contents: nil)
            let handle = try FileHandle(forWritingTo: log)
            p.standardOutput = handle
            p.standardError = handle
            try p.run()
            let deadline = Date().addingTimeInterval(300)
            while !FileManager.default.fileExists(atPath: out + "/training-state.json"), p.isRunning, Date() < deadline {
                Thread.sleep(forTimeInterval: 0.1)
            }
            let sent = Date()
            kill(p.processIdentifier, signal)
            p.waitUntilExit()
            let seconds = Date().timeIntervalSince(sent)
            let text = try String(contentsOf: log, encoding: .utf8)
            XCTAssertEqual(p.terminationStatus, status, text)
            XCTAssertLessThan(seconds, 10, "stopping took \(seconds) s")
            XCTAssertTrue(text.contains("to save the run"), text)
            XCTAssertTrue(text.contains("continue with: finetune train --resume"), text)
            let state = try TrainingState(contentsOf: URL(fileURLWithPath: out + "/training-state.json"))
            XCTAssertGreaterThanOrEqual(state.generation, 2)
        }
    }
}
