import Foundation
import XCTest
import FineTuneCore

/// Plugin folders as an attacker or a careless copy leaves them: files that are not regular
/// files, truncated libraries, descriptors that lie, and a `plugins/` folder in the current
/// directory. `finetune backbones` must finish (exit 0), report each bad file on one line that
/// names it, never print a control character raw, never run code from the current directory,
/// and still list the good plugins and the built-in backbones.
final class PluginHostileTests: CLITestCase {
    /// A one-backbone C plugin: input(3) -> conv `layer` (`channels` out, `kernel` square,
    /// stride `stride`, padding `pad`) -> global average pool -> features. The keyword
    /// arguments are C expressions pasted into the descriptor and the build function.
    func plugin(name: String, inFeatures: String = "8", channels: String = "8", inputChannels: String = "3",
                kernel: String = "3", stride: String = "1", pad: String = "1", layer: String = "\"conv\"",
                mean: String = "{0.5f, 0.5f, 0.5f}", std: String = "{0.25f, 0.25f, 0.25f}",
                backboneSize: String = "sizeof(ft_backbone_desc)", extra: String = "") -> String {
        """
        #include <math.h>
        #include <stddef.h>
        #include "finetune_plugin.h"
        \(extra)
        static int32_t build(const ft_host_api *h, ft_builder *b) {
            ft_conv2d_params p = {0};
            p.struct_size = sizeof p;
            p.out_channels = \(channels);
            p.kernel_h = p.kernel_w = \(kernel);
            p.stride_h = p.stride_w = \(stride);
            p.pad_top = p.pad_bottom = p.pad_left = p.pad_right = \(pad);
            p.dilation_h = p.dilation_w = 1;
            p.groups = 1;
            int32_t x = h->input(b, \(inputChannels));
            x = h->conv2d(b, \(layer), x, &p);
            x = h->global_avg_pool(b, "pool", x);
            return h->set_features(b, x) < 0 ? 1 : 0;
        }
        static const ft_backbone_desc desc = {
            .struct_size = \(backboneSize), .abi_major = FT_ABI_MAJOR, .abi_minor = FT_ABI_MINOR,
            .name = "\(name)", .summary = "test backbone", .in_features = \(inFeatures),
            .input_size = 8, .eval_resize = 8, .mean = \(mean), .std = \(std),
            .weights_hint = "none", .build = build,
        };
        static const ft_backbone_desc *const list[] = {&desc};
        static const ft_plugin_desc plugin = {
            .struct_size = sizeof(ft_plugin_desc), .abi_major = FT_ABI_MAJOR, .abi_minor = FT_ABI_MINOR,
            .plugin_name = "test", .plugin_version = "1", .backbone_count = 1, .backbones = list,
        };
        const ft_plugin_desc *finetune_plugin_entry(uint32_t major, uint32_t minor) {
            (void)major; (void)minor;
            return &plugin;
        }

        """
    }

    /// Runs `finetune` under `timeout`, so a hang fails the test (status 124) instead of blocking it.
    func runBounded(_ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, stdout: String, stderr: String) {
        let exe = URL(fileURLWithPath: PluginCatalog.executableDir!).appendingPathComponent("finetune").path
        return try run("/usr/bin/env", ["timeout", "120", exe] + arguments, environment: environment)
    }

    func assertListsGoodOnes(_ r: (status: Int32, stdout: String, stderr: String), _ names: [String] = ["tiny-cnn"],
                             file: StaticString = #filePath, lineNumber: UInt = #line) {
        XCTAssertEqual(r.status, 0, r.stderr, file: file, line: lineNumber)
        let listed = r.stdout.split(separator: "\n").map { $0.split(separator: " ").first.map(String.init) ?? "" }
        for name in names + ["resnet18", "mobilenet-v2", "efficientnet-b3"] {
            XCTAssertTrue(listed.contains(name), "\(name) missing from: \(r.stdout)", file: file, line: lineNumber)
        }
    }

    func testLyingDescriptorsAreRefusedWithTheirReason() throws {
        try compileExample("tiny_cnn.so")
        try compileC("short_plugin.so", source: """
            #include "finetune_plugin.h"
            static const struct { uint32_t size, major, minor; } head = {12, FT_ABI_MAJOR, FT_ABI_MINOR};
            const ft_plugin_desc *finetune_plugin_entry(uint32_t a, uint32_t b) { (void)a; (void)b; return (const ft_plugin_desc *)&head; }

            """)
        try compileC("short_backbone.so", source: plugin(name: "short", backboneSize: "12"))
        try compileC("claims_width.so", source: plugin(name: "claims-width", inFeatures: "2147483647"))
        try compileC("huge_channels.so", source: plugin(name: "huge-channels", channels: "2147483647"))
        try compileC("huge_weight.so", source: plugin(name: "huge-weight", channels: "65536", inputChannels: "65536"))
        try compileC("huge_window.so", source: plugin(name: "huge-window", kernel: "2147483647", stride: "2147483647", pad: "2147483647"))
        try compileC("zero_std.so", source: plugin(name: "zero-std", std: "{0.25f, 0.0f, 0.25f}"))
        try compileC("nan_mean.so", source: plugin(name: "nan-mean", mean: "{NAN, 0.5f, 0.5f}"))
        try compileC("escape_name.so", source: plugin(name: "evil\\x1b[31mred"))
        try compileC("escape_layer.so", source: plugin(name: "escape-layer", layer: "\"conv\\x1b]0;owned\\x07\""))
        try compileExample("named\u{1B}[2J.so", defines: ["TINY_NAME=\"tiny-escaped-file\""])

        let r = try runBounded(["backbones", "--plugin-dir", dir.path])
        assertListsGoodOnes(r)
        func reason(_ file: String) -> String { line(r, dir, file) ?? "no line for \(file) in: \(r.stderr)" }
        XCTAssertTrue(reason("short_plugin.so").contains("plugin descriptor is 12 bytes"), reason("short_plugin.so"))
        XCTAssertTrue(reason("short_backbone.so").contains("backbone descriptor 0 is 12 bytes"), reason("short_backbone.so"))
        XCTAssertTrue(reason("claims_width.so").contains("in_features 2147483647 is not in 1...65536"), reason("claims_width.so"))
        XCTAssertTrue(reason("huge_channels.so").contains("layer 'conv': out_channels 2147483647"), reason("huge_channels.so"))
        XCTAssertTrue(reason("huge_weight.so").contains("tensor 'conv.weight' of shape [65536, 65536, 3, 3] has more than"), reason("huge_weight.so"))
        XCTAssertTrue(reason("huge_window.so").contains("kernel, stride and dilation must be in 1...2048"), reason("huge_window.so"))
        XCTAssertTrue(reason("zero_std.so").contains("std [0.25, 0.0, 0.25] finite and positive"), reason("zero_std.so"))
        XCTAssertTrue(reason("nan_mean.so").contains("mean [nan, 0.5, 0.5] must be finite"), reason("nan_mean.so"))
        XCTAssertTrue(reason("escape_name.so").contains("name 'evil\\u{1B}[31mred' holds the control character U+1B"), reason("escape_name.so"))
        XCTAssertTrue(reason("escape_layer.so").contains("layer name 'conv\\u{1B}]0;owned\\u{7}'"), reason("escape_layer.so"))
        XCTAssertTrue(r.stderr.contains("named\\u{1B}[2J.so: the file name holds a control character"), r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 11, r.stderr)
        XCTAssertFalse((r.stdout + r.stderr).unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" }, "a control character reached the terminal")
    }

    func testNonRegularFilesAreNeverOpened() throws {
        try compileExample("tiny_cnn.so")
        XCTAssertEqual(mkfifo(dir.appendingPathComponent("fifo.so").path, 0o644), 0)
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("folder.so"), withIntermediateDirectories: false)
        try FileManager.default.createSymbolicLink(atPath: dir.appendingPathComponent("loop.so").path, withDestinationPath: "loop.so")
        XCTAssertEqual(mkfifo(dir.appendingPathComponent("pipe").path, 0o644), 0)
        try FileManager.default.createSymbolicLink(atPath: dir.appendingPathComponent("to_fifo.so").path, withDestinationPath: "pipe")
        try FileManager.default.createSymbolicLink(atPath: dir.appendingPathComponent("z_link.so").path, withDestinationPath: "tiny_cnn.so")

        let r = try runBounded(["backbones", "--plugin-dir", dir.path])
        assertListsGoodOnes(r)
        XCTAssertTrue(line(r, dir, "fifo.so")?.contains("a named pipe, not a regular file") == true, r.stderr)
        XCTAssertTrue(line(r, dir, "to_fifo.so")?.contains("a named pipe, not a regular file") == true, r.stderr)
        XCTAssertTrue(line(r, dir, "folder.so")?.contains("a folder, not a regular file") == true, r.stderr)
        XCTAssertTrue(line(r, dir, "loop.so")?.contains("a symbolic link loop") == true, r.stderr)
        // A link to a plugin already loaded is the same file: loaded once, no complaint.
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 4, r.stderr)
    }

    func testTruncatedLibrariesAreReportedNotLoaded() throws {
        let whole = dir.appendingPathComponent("whole")
        try FileManager.default.createDirectory(at: whole, withIntermediateDirectories: false)
        try compileExample("whole/tiny_cnn.so")
        try compileExample("whole/other.so", defines: ["TINY_NAME=\"tiny-other\""])
        let bytes = try Data(contentsOf: whole.appendingPathComponent("other.so"))
        let lengths = [0, 3, 40, 64, 100, bytes.count / 4, bytes.count / 2, bytes.count - 1]
        for n in lengths {
            try bytes.prefix(n).write(to: whole.appendingPathComponent("cut_\(n).so"))
        }

        let r = try runBounded(["backbones", "--plugin-dir", whole.path])
        assertListsGoodOnes(r, ["tiny-cnn", "tiny-other"])
        for n in lengths {
            XCTAssertTrue(line(r, whole, "cut_\(n).so")?.contains("truncated or corrupt shared library") == true, "cut at \(n): \(r.stderr)")
        }
        XCTAssertEqual(r.stderr.split(separator: "\n").count, lengths.count, r.stderr)
    }

    func testCurrentDirectoryPluginsNeverRun() throws {
        let local = dir.appendingPathComponent("plugins")
        try FileManager.default.createDirectory(at: local, withIntermediateDirectories: false)
        let marker = dir.appendingPathComponent("foreign-code-ran")
        try compileC("plugins/foreign.so", source: plugin(name: "foreign", extra: """
            #include <stdio.h>
            static void mark(void) { FILE *f = fopen("\(marker.path)", "w"); if (f) fclose(f); }
            __attribute__((constructor)) static void on_load(void) { mark(); }
            """).replacingOccurrences(of: "(void)major; (void)minor;", with: "(void)major; (void)minor; mark();"))

        let listed = try runBounded(["backbones"])
        assertListsGoodOnes(listed, [])
        XCTAssertFalse(listed.stdout.contains("foreign"), listed.stdout)
        let summary = try runBounded(["summary", "--backbone", "foreign"])
        XCTAssertTrue(summary.stderr.contains("no backbone named 'foreign'"), summary.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: marker.path), "a plugin from ./plugins was loaded")

        // The same file from a folder the user names does load (and so would have left the marker).
        let chosen = try runBounded(["backbones", "--plugin-dir", "plugins"])
        assertListsGoodOnes(chosen, ["foreign"])
        XCTAssertTrue(FileManager.default.fileExists(atPath: marker.path))
    }

    func testPerUserFolderFollowsXDG() throws {
        let data = dir.appendingPathComponent("data/finetune/plugins")
        let home = dir.appendingPathComponent("home/.local/share/finetune/plugins")
        let relative = dir.appendingPathComponent("rel/finetune/plugins")
        for folder in [data, home, relative] {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        }
        try compileExample("data/finetune/plugins/a.so", defines: ["TINY_NAME=\"tiny-xdg\""])
        try compileExample("home/.local/share/finetune/plugins/b.so", defines: ["TINY_NAME=\"tiny-home\""])
        try compileExample("rel/finetune/plugins/c.so", defines: ["TINY_NAME=\"tiny-relative\""])

        let xdg = try runBounded(["backbones"], environment: ["XDG_DATA_HOME": dir.appendingPathComponent("data").path])
        assertListsGoodOnes(xdg, ["tiny-xdg"])
        XCTAssertFalse(xdg.stdout.contains("tiny-home"), xdg.stdout)
        // A relative XDG_DATA_HOME is ignored (XDG Base Directory specification): HOME decides.
        let fallback = try runBounded(["backbones"], environment: ["XDG_DATA_HOME": "rel", "HOME": dir.appendingPathComponent("home").path])
        assertListsGoodOnes(fallback, ["tiny-home"])
        XCTAssertFalse(fallback.stdout.contains("tiny-relative") || fallback.stdout.contains("tiny-xdg"), fallback.stdout)

        XCTAssertEqual(PluginCatalog.searchPath(pluginDirs: ["a", "b"], environment: ["FINETUNE_PLUGIN_PATH": "/c::d", "HOME": "/h"], executableDir: "/bin"),
                       ["a", "b", "/c", "d", "/h/.local/share/finetune/plugins", "/bin"])
        XCTAssertEqual(PluginCatalog.searchPath(environment: ["XDG_DATA_HOME": "/x", "HOME": "/h"], executableDir: nil), ["/x/finetune/plugins"])
        XCTAssertEqual(PluginCatalog.searchPath(environment: ["HOME": "h"], executableDir: nil), [])
    }
}
