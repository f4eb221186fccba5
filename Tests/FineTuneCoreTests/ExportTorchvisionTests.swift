import Foundation
import XCTest
@testable import FineTuneCore
@testable import FineTuneExport

/// `finetune export --format safetensors-backbone`: torchvision's keys, the linear head under the
/// backbone's classifier key, the values unchanged. That torchvision loads it and computes the same
/// logits is `tools/check_torchvision_export.py`'s job.
final class ExportTorchvisionTests: XCTestCase {
    func testLinearHeadGoesUnderTheClassifierKey() throws {
        for (name, key) in [("resnet18", "fc"), ("mobilenet-v2", "classifier.1"), ("mobilenet-v3-large", "classifier.3")] {
            let (file, backbone) = try ExportONNXTests.modelFile(name)
            let result = try TorchvisionExport.tensors(file, backbone: backbone, file: "m")
            XCTAssertEqual(result.classifierKey, key)
            let byName = Dictionary(uniqueKeysWithValues: result.tensors.map { ($0.name, $0) })
            XCTAssertEqual(result.tensors.count, file.tensors.count, name)
            XCTAssertNil(byName["head.weight"])
            let head = try XCTUnwrap(file.tensors.first { $0.name == "head.weight" })
            XCTAssertEqual(byName[key + ".weight"]?.values, head.values)
            XCTAssertEqual(byName[key + ".weight"]?.shape, [4, backbone.inFeatures])
            XCTAssertNotNil(byName[key + ".bias"])
            for t in file.tensors where !t.name.hasPrefix("head.") { XCTAssertEqual(byName[t.name], t, t.name) }
        }
    }

    func testAnMLPHeadIsLeftOut() throws {
        let (file, backbone) = try ExportONNXTests.modelFile("resnet18", head: HeadSpec(hidden: [16], dropout: 0.1))
        let result = try TorchvisionExport.tensors(file, backbone: backbone, file: "m")
        XCTAssertNil(result.classifierKey)
        XCTAssertFalse(result.tensors.contains { $0.name.hasPrefix("head") || $0.name.hasPrefix("fc.") })
        XCTAssertEqual(result.tensors.count, file.tensors.filter { !$0.name.hasPrefix("head.") }.count)
    }

    func testTheFileReadsBackAsAStateDict() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("finetune-export-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let (file, backbone) = try ExportONNXTests.modelFile("resnet18")
        let url = dir.appendingPathComponent("backbone.safetensors")
        _ = try TorchvisionExport.write(file, backbone: backbone, file: "m", to: url)
        let back = try StateDict.load(contentsOf: url)
        XCTAssertNotNil(back["fc.weight"])
        XCTAssertEqual(back["layer1.0.conv1.weight"]?.shape, [64, 64, 3, 3])
        // And it imports as a whole checkpoint would.
        let model = try ModelFile.importing(back, backbone: backbone, classNames: nil)
        XCTAssertEqual(model.classes.count, 4)
    }
}
