import Foundation
import XCTest
@testable import FineTuneCore

/// `train --weights NAME` and `finetune weights` with plugins/example/tiny_cnn.c compiled to
/// publish a weight set on the test's loopback server; the caches are the test's (TORCH_HOME,
/// XDG_CACHE_HOME), never the user's.
final class WeightsCLITests: CLITestCase {
    var server: LoopbackHTTPServer!
    /// The tiny backbone's weights, as a safetensors file, and their SHA-256.
    var weights = Data()
    var digest = ""
    var fileName: String { "tiny-\(digest.prefix(8)).safetensors" }

    override func setUpWithError() throws {
        try super.setUpWithError()
        server = try LoopbackHTTPServer()
        // Weights for the tiny backbone from a build of it that publishes none.
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("plain"), withIntermediateDirectories: true)
        try compileExample("plain/tiny_cnn.so")
        let plain = try PluginCatalog(directories: [dir.appendingPathComponent("plain").path]).backbone(named: "tiny-cnn")
        let model = try Model(graph: try plain.makeGraph())
        model.initialize(seed: 11)
        weights = try SafeTensorsWriter.encode(model.namedTensors())
        digest = SHA256.hex(of: weights)
    }

    override func tearDownWithError() throws {
        server.stop()
        try super.tearDownWithError()
    }

    /// Compiles the tiny backbone into `published/` with its weight set at `url` (default: the server's).
    func publish(url: String? = nil) throws {
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("published"), withIntermediateDirectories: true)
        server.serve("/models/" + fileName, .init(body: weights))
        try compileExample("published/tiny_cnn.so", defines: ["TINY_WEIGHTS_URL=\"\(url ?? server.url("/models/" + fileName))\"",
                                                              "TINY_WEIGHTS_FILE=\"\(fileName)\"", "TINY_WEIGHTS_SHA256=\"\(digest)\""])
    }

    var environment: [String: String] {
        ["TORCH_HOME": dir.appendingPathComponent("torch").path, "XDG_CACHE_HOME": dir.appendingPathComponent("cache").path]
    }
    var hubFile: URL { dir.appendingPathComponent("torch/hub/checkpoints/" + fileName) }
    var ownFile: URL { dir.appendingPathComponent("cache/finetune/weights/" + fileName) }
    var plugins: [String] { ["--plugin-dir", dir.appendingPathComponent("published").path] }

    func train(_ weights: String, output: String) throws -> (status: Int32, stdout: String, stderr: String) {
        let data = dir.appendingPathComponent("data").path
        if !FileManager.default.fileExists(atPath: data) { _ = try DemoDataset.write(to: data, perClass: 4, heldOut: 0) }
        return try runFinetune(["train", "--backbone", "tiny-cnn", "--weights", weights, "--data", data, "--output", dir.appendingPathComponent(output).path,
                                "--strategy", "freeze", "--epochs", "1", "--batch-size", "4"] + plugins, environment: environment)
    }

    func testTrainDownloadsTheDefaultSetThenFindsItInTheCache() throws {
        try publish()
        let first = try train("imagenet", output: "run1")
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertTrue(first.stdout.contains("loaded pretrained backbone weights IMAGENET1K_V1 (\(fileName)) from \(ownFile.path)"), first.stdout)
        XCTAssertTrue(first.stderr.contains("downloading \(fileName)"), "progress on stderr: \(first.stderr)")
        XCTAssertEqual(try Data(contentsOf: ownFile), weights)
        XCTAssertEqual(server.requests.count, 1)
        let model = try ModelFile(contentsOf: dir.appendingPathComponent("run1/best.safetensors"))
        XCTAssertEqual(model.provenance.source, "IMAGENET1K_V1 (\(fileName))", "model files name the set and its file")

        let second = try train("IMAGENET1K_v1", output: "run2")
        XCTAssertEqual(second.status, 0, second.stderr)
        XCTAssertTrue(second.stdout.contains("from \(ownFile.path)"), second.stdout)
        XCTAssertEqual(server.requests.count, 1, "the second run downloads nothing")

        let path = try runFinetune(["weights", "path", "tiny-cnn"] + plugins, environment: environment)
        XCTAssertEqual(path.status, 0, path.stderr)
        XCTAssertEqual(path.stdout, ownFile.path + "\n")
    }

    func testTheHubCacheIsPickedUpWithoutADownload() throws {
        try publish()
        try FileManager.default.createDirectory(at: hubFile.deletingLastPathComponent(), withIntermediateDirectories: true)
        try weights.write(to: hubFile)
        let r = try train("imagenet", output: "run")
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("loaded pretrained backbone weights IMAGENET1K_V1 (\(fileName)) from \(hubFile.path)"), r.stdout)
        XCTAssertTrue(server.requests.isEmpty)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("cache").path))

        let list = try runFinetune(["weights", "list", "tiny-cnn", "--json"] + plugins, environment: environment)
        XCTAssertEqual(list.status, 0, list.stderr)
        let entries = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual(entries.count, 1)
        XCTAssertEqual(entries[0]["name"] as? String, "IMAGENET1K_V1")
        XCTAssertEqual(entries[0]["default"] as? Bool, true)
        XCTAssertEqual(entries[0]["cached"] as? String, hubFile.path)
        XCTAssertEqual(entries[0]["file_name"] as? String, fileName)
    }

    func testAnUnknownSetListsTheBackbonesSets() throws {
        try publish()
        let r = try train("IMAGENET1K_V9", output: "run")
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("tiny-cnn has no weight set named 'IMAGENET1K_V9', and no file of that name exists; "
                                        + "its sets: IMAGENET1K_V1 (imagenet: the default, IMAGENET1K_V1)"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("run").path), "refused before the run folder is made")
        // A file of that name is a file.
        try weights.write(to: dir.appendingPathComponent("IMAGENET1K_V9"))
        let file = try train("IMAGENET1K_V9", output: "run")
        XCTAssertEqual(file.status, 0, file.stderr)
        XCTAssertTrue(file.stdout.contains("loaded pretrained backbone weights from IMAGENET1K_V9"), file.stdout)
    }

    func testWeightsPathDownloadAndTheMirror() throws {
        try publish(url: "https://weights.invalid/models/" + fileName)
        let missing = try runFinetune(["weights", "path", "tiny-cnn", "imagenet"] + plugins, environment: environment)
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("tiny-cnn's IMAGENET1K_V1 (\(fileName)) is in none of \(hubFile.deletingLastPathComponent().path), "
                                              + "\(ownFile.deletingLastPathComponent().path)"), missing.stderr)

        var mirrored = environment
        mirrored["FINETUNE_WEIGHTS_MIRROR"] = server.url("")
        let download = try runFinetune(["weights", "download", "tiny-cnn"] + plugins, environment: mirrored)
        XCTAssertEqual(download.status, 0, download.stderr)
        XCTAssertEqual(download.stdout, ownFile.path + "\n")
        XCTAssertEqual(server.requests.map(\.target), ["/models/" + fileName])

        let found = try runFinetune(["weights", "path", "tiny-cnn", "IMAGENET1K_V1"] + plugins, environment: environment)
        XCTAssertEqual(found.stdout, ownFile.path + "\n", found.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("cache").path), ["finetune"],
                       "nothing else in the cache folder (no URL cache of Foundation's)")
        let list = try runFinetune(["weights", "list", "tiny-cnn"] + plugins, environment: environment)
        XCTAssertTrue(list.stdout.contains("IMAGENET1K_V1  default  \(fileName)  0.000  \(ownFile.path)"), list.stdout)
    }
}
