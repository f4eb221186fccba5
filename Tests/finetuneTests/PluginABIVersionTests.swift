import Foundation
import XCTest
import PluginABI
@testable import FineTuneCore

/// The ABI's versioning rule (FT_HAS_FIELD): a plugin built against the 1.0 header loads and
/// trains in this host, and a 1.1 plugin that needs an operation a 1.0 host lacks refuses with
/// a message naming it. `Tests/PluginABI-1.0/finetune_plugin.h` is the 1.0 header, unchanged.
final class PluginABIVersionTests: CLITestCase {
    static let header10 = repositoryRoot.appendingPathComponent("Tests/PluginABI-1.0")

    func testAPluginBuiltAgainstTheABI10HeaderLoadsAndTrains() throws {
        let header = try String(contentsOf: Self.header10.appendingPathComponent("finetune_plugin.h"), encoding: .utf8)
        XCTAssertTrue(header.contains("#define FT_ABI_MINOR 0u") && !header.contains("concat"), "the 1.0 header is kept as it was")
        let example = Self.repositoryRoot.appendingPathComponent("plugins/example/tiny_cnn.c").path
        let r = try run("/usr/bin/env", ["cc", "-shared", "-fPIC", "-I", Self.header10.path,
                                         "-o", dir.appendingPathComponent("tiny_cnn_10.so").path, example])
        XCTAssertEqual(r.status, 0, "cc failed: \(r.stderr)")

        let list = try runFinetune(["backbones", "--json", "--plugin-dir", dir.path])
        XCTAssertEqual(list.status, 0, list.stderr)
        XCTAssertEqual(list.stderr, "", "a 1.0 plugin loads without a warning")
        let infos = try JSONDecoder().decode([BackboneInfo].self, from: Data(list.stdout.utf8))
        let tiny = try XCTUnwrap(infos.first { $0.name == "tiny-cnn" }, list.stdout)
        XCTAssertEqual(tiny.in_features, 64)
        XCTAssertTrue(tiny.weight_sets.isEmpty && tiny.classifier_key == nil, "1.1's fields read as absent from a 1.0 plugin")

        let data = dir.appendingPathComponent("data").path
        _ = try DemoDataset.write(to: data, perClass: 6, heldOut: 1)
        let out = dir.appendingPathComponent("run").path
        let train = try runFinetune(["train", "--plugin-dir", dir.path, "--backbone", "tiny-cnn", "--data", data, "--output", out,
                                     "--strategy", "two-stage", "--freeze-epochs", "1", "--epochs", "1",
                                     "--input-size", "32", "--batch-size", "6"])
        XCTAssertEqual(train.status, 0, train.stderr)
        let predict = try runFinetune(["predict", "--plugin-dir", dir.path, "--model", out + "/best.safetensors", data + "/holdout"])
        XCTAssertEqual(predict.status, 0, predict.stderr)
        XCTAssertEqual(predict.stdout.split(separator: "\n").count, 3, predict.stdout)
    }

    /// A C plugin that asks FT_HAS_FIELD for concat, narrow and channel_shuffle: this host has
    /// them; handed the table a 1.0 host has (shorter, minor 0), the plugin refuses and says why,
    /// and never calls past the table's end (those entries here would record a call).
    func testAnABI11PluginOnAnABI10HostNamesTheOperation() throws {
        try compileC("split.so", source: Self.splitPlugin)
        let backbone = try PluginCatalog(directories: [dir.path]).backbone(named: "split-test")
        let graph = try backbone.makeGraph(inputSize: 8)
        XCTAssertEqual(graph.nodes[graph.features!].outputShape.channels, 4)
        XCTAssertEqual(graph.nodes.map(\.operation.label).filter { ["concat", "channel_shuffle g2"].contains($0) }.count, 2)

        var old = Self.abi10Table
        old.concat = { _, _, _, _ in PluginABIVersionTests.calledPastTheEnd = true; return -1 }
        old.narrow = { _, _, _, _, _ in PluginABIVersionTests.calledPastTheEnd = true; return -1 }
        old.channel_shuffle = { _, _, _, _ in PluginABIVersionTests.calledPastTheEnd = true; return -1 }
        Self.calledPastTheEnd = false
        XCTAssertThrowsError(try GraphBuilder(inputHeight: 8, inputWidth: 8).run(backbone.build, table: old)) { error in
            XCTAssertTrue("\(error)".contains("needs the builder operation 'concat' (plugin ABI 1.1)"), "\(error)")
        }
        XCTAssertFalse(Self.calledPastTheEnd)
    }

    /// The built-in ShuffleNetV2 (a Swift plugin on PluginKit) on the same 1.0 table.
    func testASwiftPluginOnAnABI10HostNamesTheOperation() throws {
        let backbone = try PluginCatalog(directories: [PluginCatalog.executableDir!]).backbone(named: "shufflenet-v2-x1.0")
        let old = Self.abi10Table
        XCTAssertThrowsError(try GraphBuilder(inputHeight: 64, inputWidth: 64).run(backbone.build, table: old)) { error in
            XCTAssertTrue("\(error)".contains("the backbone needs the builder operation 'concat' (plugin ABI 1.1), which this host (ABI 1.0) lacks: update finetune"), "\(error)")
        }
        XCTAssertNoThrow(try GraphBuilder(inputHeight: 64, inputWidth: 64).run(backbone.build, table: HostAPI.table))

        // An activation kind added in 1.1 (MobileNetV3's hardswish, in its stem) is refused by name too.
        let v3 = try PluginCatalog(directories: [PluginCatalog.executableDir!]).backbone(named: "mobilenet-v3-large")
        XCTAssertThrowsError(try GraphBuilder(inputHeight: 64, inputWidth: 64).run(v3.build, table: old)) { error in
            XCTAssertTrue("\(error)".contains("the backbone needs the activation hardswish (plugin ABI 1.1)"), "\(error)")
        }
    }

    /// Weight sets and a classifier key (ABI 1.1) list in `backbones --json`; a lying one is refused
    /// with its reason, and the other plugins still list.
    func testWeightSetsAreListedAndChecked() throws {
        func plugin(_ name: String, count: String = "1", sha: String = "\"f37072fd\"", url: String = "\"https://example.org/w/tiny-f37072fd.pth\"",
                    crop: String = "64", resize: String = "72", interpolation: String = "FT_INTERP_BICUBIC", top1: String = "71.5f",
                    key: String = "\"fc\"") -> String {
            Self.splitPlugin.replacingOccurrences(of: "\"split-test\"", with: "\"\(name)\"").replacingOccurrences(of: ".weights_hint = \"none\", .build = build,", with: """
                        .weights_hint = "none", .build = build, .weight_set_count = \(count), .weight_sets = sets, .classifier_key = \(key),
                """).replacingOccurrences(of: "static const ft_backbone_desc split = {", with: """
                static const ft_weight_set v1 = {
                    .struct_size = sizeof(ft_weight_set), .name = "IMAGENET1K_V1", .file_name = "tiny-f37072fd.pth", .url = \(url),
                    .sha256 = \(sha), .crop_size = \(crop), .resize_size = \(resize), .interpolation = \(interpolation), .top1 = \(top1),
                };
                static const ft_weight_set *const sets[] = {&v1};
                static const ft_backbone_desc split = {
                """)
        }
        try compileC("good.so", source: plugin("with-weights"))
        try compileC("count.so", source: plugin("bad-count", count: "1000000"))
        try compileC("sha.so", source: plugin("bad-sha", sha: "\"F37072FD; rm -rf\""))
        try compileC("url.so", source: plugin("bad-url", url: "\"file:///etc/passwd\""))
        try compileC("sizes.so", source: plugin("bad-sizes", crop: "300", resize: "72"))
        try compileC("interp.so", source: plugin("bad-interp", interpolation: "9"))
        try compileC("top1.so", source: plugin("bad-top1", top1: "__builtin_nanf(\"\")"))
        try compileC("key.so", source: plugin("bad-key", key: "\"fc/../x\""))
        let r = try runFinetune(["backbones", "--json", "--plugin-dir", dir.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let infos = try JSONDecoder().decode([BackboneInfo].self, from: Data(r.stdout.utf8))
        let good = try XCTUnwrap(infos.first { $0.name == "with-weights" }, r.stdout)
        XCTAssertEqual(good.classifier_key, "fc")
        XCTAssertEqual(good.weight_sets, [WeightSet(name: "IMAGENET1K_V1", file_name: "tiny-f37072fd.pth", url: "https://example.org/w/tiny-f37072fd.pth",
                                                    sha256: "f37072fd", crop_size: 64, resize_size: 72, interpolation: .bicubic, top1: 71.5)])
        func reason(_ file: String) -> String { line(r, dir, file) ?? "no line for \(file) in: \(r.stderr)" }
        XCTAssertTrue(reason("count.so").contains("weight_set_count 1000000 is not in 0...64"), reason("count.so"))
        XCTAssertTrue(reason("sha.so").contains("must be 8 to 64 lower-case hex digits"), reason("sha.so"))
        XCTAssertTrue(reason("url.so").contains("is not http or https"), reason("url.so"))
        XCTAssertTrue(reason("sizes.so").contains("must satisfy 1 <= crop <= resize"), reason("sizes.so"))
        XCTAssertTrue(reason("interp.so").contains("interpolation 9"), reason("interp.so"))
        XCTAssertTrue(reason("top1.so").contains("is not a percentage"), reason("top1.so"))
        XCTAssertTrue(reason("key.so").contains("classifier key 'fc/../x'"), reason("key.so"))
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 7, r.stderr)
    }

    /// The builder table as a 1.0 host hands it out: its struct_size ends at set_error, minor 0.
    static var abi10Table: ft_host_api {
        var table = HostAPI.table
        table.struct_size = UInt32(ABIStruct.size(through: \ft_host_api.set_error))
        table.abi_minor = 0
        return table
    }

    nonisolated(unsafe) static var calledPastTheEnd = false

    static let splitPlugin = """
        #include "finetune_plugin.h"

        static int32_t build(const ft_host_api *h, ft_builder *b) {
            if (!FT_HAS_FIELD(h, ft_host_api, concat) || !FT_HAS_FIELD(h, ft_host_api, narrow)
                || !FT_HAS_FIELD(h, ft_host_api, channel_shuffle)) {
                h->set_error(b, "split-test needs the builder operation 'concat' (plugin ABI 1.1): update finetune");
                return 1;
            }
            ft_conv2d_params p = {0};
            p.struct_size = sizeof p;
            p.out_channels = 6;
            p.kernel_h = p.kernel_w = p.stride_h = p.stride_w = p.dilation_h = p.dilation_w = p.groups = 1;
            int32_t x = h->input(b, 3);
            int32_t y = h->conv2d(b, "conv", x, &p);
            int32_t parts[2] = {x, y};
            int32_t joined = h->concat(b, "cat", parts, 2);            /* 9 channels */
            int32_t half = h->narrow(b, "half", joined, 3, 4);         /* channels 3..6 */
            int32_t mixed = h->channel_shuffle(b, "shuffle", half, 2);
            int32_t pooled = h->global_avg_pool(b, "pool", mixed);
            return pooled < 0 || h->set_features(b, pooled) < 0 ? 1 : 0;
        }

        static const ft_backbone_desc split = {
            .struct_size = sizeof(ft_backbone_desc), .abi_major = FT_ABI_MAJOR, .abi_minor = FT_ABI_MINOR,
            .name = "split-test", .summary = "concat, narrow and channel_shuffle", .in_features = 4,
            .input_size = 32, .eval_resize = 36, .mean = {0.5f, 0.5f, 0.5f}, .std = {0.25f, 0.25f, 0.25f},
            .weights_hint = "none", .build = build,
        };
        static const ft_backbone_desc *const list[] = {&split};
        static const ft_plugin_desc plugin = {
            .struct_size = sizeof(ft_plugin_desc), .abi_major = FT_ABI_MAJOR, .abi_minor = FT_ABI_MINOR,
            .plugin_name = "split-test", .plugin_version = "1.1.0", .backbone_count = 1, .backbones = list,
        };
        const ft_plugin_desc *finetune_plugin_entry(uint32_t major, uint32_t minor) { (void)major; (void)minor; return &plugin; }

        """
}
