import Foundation
import XCTest
@testable import FineTuneCore

/// How an app finds backbones without command-line flags: the built-in plugins next to its
/// executable (where SwiftPM builds the plugin products it depends on, as it does for this test
/// runner), and folders it adds itself.
final class PluginSearchTests: CLITestCase {
    func testTheBuiltInBackbonesAreFoundNextToTheRunningExecutable() throws {
        let exe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let folder = URL(fileURLWithPath: exe).deletingLastPathComponent().path
        XCTAssertEqual(PluginCatalog.executableDir, folder)
        XCTAssertTrue(FileManager.default.fileExists(atPath: folder + "/libResNet.so"), "SwiftPM builds the plugins next to \(exe)")
        XCTAssertEqual(PluginCatalog.searchPath(environment: [:]).last, folder)
        // No flags, no environment: the default catalog, as `ImageClassifier(contentsOf:)` uses it.
        let catalog = PluginCatalog()
        XCTAssertEqual(catalog.directories.last, folder)
        for name in ["resnet18", "mobilenet-v2", "efficientnet-b0", "convnext-tiny"] {
            let backbone = try catalog.backbone(named: name)
            XCTAssertEqual(URL(fileURLWithPath: backbone.pluginPath).deletingLastPathComponent().path, folder, name)
        }
    }

    /// A bare program name came from PATH, not from the current directory: no folder, rather
    /// than plugins loaded from wherever the program was started.
    func testTheExecutableFolderIsNeverTheCurrentDirectoryByAccident() {
        XCTAssertEqual(PluginCatalog.executableDir(processLink: "/opt/app/bin/classify", argument0: "classify"), "/opt/app/bin")
        XCTAssertEqual(PluginCatalog.executableDir(processLink: nil, argument0: "/opt/app/bin/classify"), "/opt/app/bin")
        XCTAssertNil(PluginCatalog.executableDir(processLink: nil, argument0: "classify"))
        XCTAssertNil(PluginCatalog.executableDir(processLink: nil, argument0: nil))
        XCTAssertNil(PluginCatalog.executableDir(processLink: "classify", argument0: "classify"))
    }

    func testAnAppAddsPluginFolders() throws {
        let first = dir.appendingPathComponent("first"), second = dir.appendingPathComponent("second")
        for folder in [first, second] { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) }
        try compileExample("first/tiny_cnn.so")
        try FileManager.default.copyItem(at: first.appendingPathComponent("tiny_cnn.so"), to: second.appendingPathComponent("tiny_copy.so"))
        try FileManager.default.createSymbolicLink(at: second.appendingPathComponent("again.so"),
                                                   withDestinationURL: first.appendingPathComponent("tiny_cnn.so"))

        var catalog = PluginCatalog(directories: [])
        XCTAssertThrowsError(try catalog.backbone(named: "tiny-cnn"))
        catalog.add(directory: dir.appendingPathComponent("missing").path)
        catalog.add(directory: first.path)
        XCTAssertEqual(try catalog.backbone(named: "tiny-cnn").pluginPath, first.appendingPathComponent("tiny_cnn.so").path)
        XCTAssertTrue(catalog.problems.isEmpty, "\(catalog.problems)")
        // A later folder: the same file under another name is skipped; a copy is reported and the first kept.
        catalog.add(directory: second.path)
        XCTAssertEqual(catalog.backbones.map(\.name), ["tiny-cnn"])
        XCTAssertEqual(catalog.problems.count, 1, "\(catalog.problems)")
        XCTAssertEqual(catalog.problems.first?.path, second.appendingPathComponent("tiny_copy.so").path)
        XCTAssertTrue(catalog.problems.first?.reason.contains("already provided by") ?? false)
        XCTAssertEqual(catalog.directories, [dir.appendingPathComponent("missing").path, first.path, second.path])

        // An app's folders come before the default ones, and the classifier finds its backbone there.
        let withFolders = PluginCatalog(pluginDirs: [first.path])
        XCTAssertEqual(withFolders.directories.first, first.path)
        XCTAssertEqual(withFolders.directories.last, PluginCatalog.executableDir)
        let backbone = try withFolders.backbone(named: "tiny-cnn")
        let graph = try backbone.makeClassifier(classes: 2)
        let model = ModelFile(backbone: backbone, classes: ["yes", "no"], provenance: Provenance(command: "train"),
                              tensors: graph.tensors.map { NamedTensor(zeros: $0.name, shape: $0.shape) })
        let url = dir.appendingPathComponent("tiny.safetensors")
        try model.write(to: url)
        XCTAssertThrowsError(try ImageClassifier(contentsOf: url, catalog: PluginCatalog(directories: []))) {
            XCTAssertTrue("\($0)".contains("PluginCatalog(pluginDirs:)"), "\($0)")
        }
        let classifier = try ImageClassifier(contentsOf: url, catalog: withFolders)
        let pixels = try RGBPixels(width: 20, height: 30, bytes: [UInt8](repeating: 90, count: 20 * 30 * 3))
        XCTAssertEqual(try classifier.classify(pixels: pixels).probabilities, [0.5, 0.5])
    }
}
