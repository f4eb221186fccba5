import Foundation
import XCTest
import FineTuneCore

/// `finetune backbones` with plugins compiled by the test from plugins/example/tiny_cnn.c:
/// a good one lists; each bad one gets one line naming the file and the reason.
final class PluginDropInTests: CLITestCase {
    func testGoodAndBadPluginsSideBySide() throws {
        try compileExample("tiny_cnn.so")
        try compileExample("wrong_abi.so", defines: ["TINY_NAME=\"tiny-v2\"", "TINY_ABI_MAJOR=2"])
        try compileExample("liar.so", defines: ["TINY_NAME=\"tiny-liar\"", "TINY_IN_FEATURES=100"])
        try compileExample("twin.so")  // claims tiny-cnn again
        try compileC("no_entry.so", source: "int not_a_plugin(void) { return 1; }\n")
        try "this is not a library\n".write(to: dir.appendingPathComponent("text.so"), atomically: true, encoding: .utf8)

        let r = try runFinetune(["backbones", "--plugin-dir", dir.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let listed = r.stdout.split(separator: "\n").map { $0.split(separator: " ").first.map(String.init) ?? "" }
        XCTAssertTrue(listed.contains("tiny-cnn"), r.stdout)
        for builtIn in ["resnet18", "mobilenet-v2", "efficientnet-b3"] {
            XCTAssertTrue(listed.contains(builtIn), "built-ins still list: \(r.stdout)")
        }
        XCTAssertFalse(r.stdout.contains("tiny-v2") || r.stdout.contains("tiny-liar"), r.stdout)

        let warnings = r.stderr.split(separator: "\n").map(String.init)
        func line(_ file: String) -> String? { warnings.first { $0.contains(dir.appendingPathComponent(file).path + ":") } }
        XCTAssertEqual(warnings.count, 5, r.stderr)
        XCTAssertTrue(line("wrong_abi.so")?.contains("built for plugin ABI 2.1") == true, r.stderr)
        XCTAssertTrue(line("liar.so")?.contains("declares in_features 100 but its graph produces 64") == true, r.stderr)
        XCTAssertTrue(line("no_entry.so")?.contains("no 'finetune_plugin_entry' symbol") == true, r.stderr)
        XCTAssertTrue(line("text.so")?.contains("not a loadable shared library") == true, r.stderr)
        let twin = line("twin.so")
        XCTAssertTrue(twin?.contains("already provided by \(dir.appendingPathComponent("tiny_cnn.so").path)") == true, r.stderr)
    }

    func testEnvironmentPathAndJSON() throws {
        try compileExample("tiny_cnn.so")
        let r = try runFinetune(["backbones", "--json"], environment: ["FINETUNE_PLUGIN_PATH": "/nonexistent:" + dir.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let infos = try JSONDecoder().decode([BackboneInfo].self, from: Data(r.stdout.utf8))
        let tiny = try XCTUnwrap(infos.first { $0.name == "tiny-cnn" })
        XCTAssertEqual(tiny.in_features, 64)
        XCTAssertEqual(tiny.parameters, 3 * 16 * 9 + 16 * 32 * 9 + 32 * 64 * 9 + 2 * (16 + 32 + 64))
        XCTAssertEqual(tiny.plugin, dir.appendingPathComponent("tiny_cnn.so").path)
        let counts = Dictionary(uniqueKeysWithValues: infos.map { ($0.name, $0.parameters) })
        XCTAssertEqual(counts["resnet18"], 11_176_512)
        XCTAssertEqual(counts["mobilenet-v2"], 2_223_872)
        XCTAssertEqual(counts["efficientnet-b3"], 10_696_232)
    }

    func testVersion() throws {
        let r = try runFinetune(["--version"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, "finetune \(FineTuneVersion.release) (plugin ABI 1.1)\n")
    }

    func testSummaryTotals() throws {
        for (name, total) in [("resnet18", "11,689,512"), ("mobilenet-v2", "3,504,872"), ("efficientnet-b3", "12,233,232")] {
            let r = try runFinetune(["summary", "--backbone", name, "--num-classes", "1000"])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertTrue(r.stdout.contains("total parameters: \(total)"), r.stdout)
        }
        let r = try runFinetune(["summary", "--backbone", "resnet18", "--num-classes", "3"])
        let head = r.stdout.split(separator: "\n").first { $0.hasPrefix("head ") }
        XCTAssertEqual(head?.split(separator: " ").prefix(4), ["head", "linear", "1x1x3", "1,539"], r.stdout)
        let missing = try runFinetune(["summary", "--backbone", "vgg16"])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("no backbone named 'vgg16'"), missing.stderr)
        // Case, '_', '-' and '.' are not told apart; a near miss gets a suggestion.
        for name in ["EfficientNet_B3", "shufflenet_v2_x1_0", "ConvNeXt-Tiny"] {
            let r = try runFinetune(["summary", "--backbone", name, "--num-classes", "3"])
            XCTAssertEqual(r.status, 0, "\(name): \(r.stderr)")
        }
        let near = try runFinetune(["summary", "--backbone", "resnet-18"])
        XCTAssertTrue(near.stderr.contains("no backbone named 'resnet-18' (did you mean 'resnet18'?); installed: "), near.stderr)
        XCTAssertFalse(missing.stderr.contains("did you mean"), "vgg16 is near nothing installed: \(missing.stderr)")
    }
}
