import Foundation
import XCTest
import FineTuneCore

/// Every command refuses a numeric option outside its range with a usage error naming the
/// option and the range: no crash, no allocation the machine cannot make.
final class OptionRangeCLITests: CLITestCase {
    func testOutOfRangeValuesAreRefusedByName() throws {
        let train = ["train", "--backbone", "resnet18", "--data", "data", "--output", "run"]
        let cases: [(arguments: [String], mentions: [String])] = [
            (["evaluate", "--model", "m.safetensors", "--data", "data", "--batch-size", "0"], ["--batch-size", "from 1 to 65536"]),
            (["evaluate", "--model", "m.safetensors", "--data", "data", "--batch-size", "1000000"], ["--batch-size"]),
            (["predict", "--model", "m.safetensors", "--top-k", "0", "x.jpg"], ["--top-k", "from 1 to 100000"]),
            (train + ["--head", "mlp:1000000000"], ["--head", "1 to 65536"]),
            (train + ["--input-size", "100000"], ["--input-size", "from 16 to 2048 pixels"]),
            (train + ["--batch-size", "0"], ["--batch-size", "from 1 to 65536"]),
            (["summary", "--backbone", "resnet18", "--num-classes", "0"], ["--num-classes", "from 1 to 100000"]),
            (["summary", "--backbone", "resnet18", "--num-classes", "1000000000"], ["--num-classes"]),
            (["summary", "--backbone", "resnet18", "--input-size", "100000"], ["--input-size", "from 16 to 2048"]),
            (["bench", "--batch", "0"], ["--batch", "from 1 to 65536"]),
            (["bench", "--threads", "100000"], ["--threads", "from 1 to 256"]),
            (["bench", "--steps", "0"], ["--steps"]),
            (["bench", "--input-size", "100000"], ["--input-size"]),
            (["bench-data", "--size", "100000"], ["--size", "from 16 to 2048"]),
            (["bench-data", "--threads", "0"], ["--threads"]),
            (["demo-data", "out", "--per-class", "0"], ["--per-class", "from 1 to 10000"]),
        ]
        for (arguments, mentions) in cases {
            let r = try runFinetune(arguments)
            XCTAssertTrue((1...127).contains(r.status), "\(arguments): exit status \(r.status)\n\(r.stderr)")
            for part in mentions {
                XCTAssertTrue(r.stderr.contains(part), "\(arguments): stderr lacks '\(part)':\n\(r.stderr)")
            }
        }
    }

    /// Sizes within their ranges whose product is beyond the machine: refused for memory.
    func testABatchBeyondTheMachinesMemoryIsRefused() throws {
        let r = try runFinetune(["bench", "--backbone", "resnet18", "--input-size", "2048", "--batch", "65536", "--only", "inference"])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("not enough memory for") && r.stderr.contains("--input-size"), r.stderr)
    }

    /// --threads defaults to the cores this process may use, and the help says how many.
    func testThreadsDefaultToTheAvailableCores() throws {
        let cores = min(max(1, ProcessInfo.processInfo.activeProcessorCount), Limits.threads)
        let help = try runFinetune(["train", "--help"])
        let words = help.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        XCTAssertTrue(words.contains("Compute threads (default: the cores this process may use, \(cores) here)."), help.stdout)
    }
}
