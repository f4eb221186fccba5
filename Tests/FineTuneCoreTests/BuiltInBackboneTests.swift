import Foundation
import XCTest
@testable import FineTuneCore

/// The built-in plugins, loaded with dlopen from the build folder, against torchvision's own
/// parameter lists (fixtures written by tools/torchvision_names.py).
final class BuiltInBackboneTests: XCTestCase {
    static let catalog = PluginCatalog(directories: [PluginCatalog.executableDir!])

    /// name -> (torchvision backbone parameters, in_features, input size, eval resize, total with 1000 classes)
    let expected: [String: (params: Int, features: Int, input: Int, resize: Int, total1000: Int)] = [
        "resnet18": (11_176_512, 512, 224, 256, 11_689_512),
        "mobilenet-v2": (2_223_872, 1280, 224, 232, 3_504_872),
        "efficientnet-b3": (10_696_232, 1536, 300, 320, 12_233_232),
        "shufflenet-v2-x1.0": (1_253_604, 1024, 224, 256, 2_278_604),
        "resnet34": (21_284_672, 512, 224, 256, 21_797_672),
        "resnet50": (23_508_032, 2048, 224, 232, 25_557_032),
        "efficientnet-b0": (4_007_548, 1280, 224, 256, 5_288_548),
        "regnet-y-800mf": (5_647_512, 784, 224, 232, 6_432_512),
        "efficientnet-v2-s": (20_177_488, 1280, 384, 384, 21_458_488),
        "densenet121": (6_953_856, 1024, 224, 256, 7_978_856),
        "mobilenet-v3-large": (4_202_032, 1280, 224, 232, 5_483_032),
        "convnext-tiny": (27_820_128, 768, 224, 236, 28_589_128),
    ]

    func testAllLoadWithoutProblems() {
        XCTAssertEqual(Self.catalog.problems.map(\.description), [])
        XCTAssertEqual(Set(Self.catalog.backbones.map(\.name)), Set(expected.keys))
    }

    func testDescriptorsAndParameterCounts() throws {
        for (name, e) in expected {
            let backbone = try Self.catalog.backbone(named: name)
            XCTAssertEqual(backbone.inFeatures, e.features, name)
            XCTAssertEqual(backbone.inputSize, e.input, name)
            XCTAssertEqual(backbone.evalResize, e.resize, name)
            XCTAssertEqual(try backbone.makeGraph().parameterCount, e.params, name)
            XCTAssertEqual(try backbone.makeClassifier(classes: 1000).parameterCount, e.total1000, name)
        }
    }

    func testTensorNamesAndShapesMatchTorchvision() throws {
        for name in expected.keys {
            let url = Bundle.module.url(forResource: "Fixtures/\(name).names", withExtension: "txt")!
            let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n").filter { !$0.hasPrefix("#") }
            let reference = lines.map { line -> String in
                let f = line.split(separator: " ")
                return "\(f[0]) \(f[1]) \(f[2])"
            }
            let ours = try Self.catalog.backbone(named: name).makeGraph().tensors.map {
                "\($0.name) \($0.kind.rawValue) \($0.shape.isEmpty ? "-" : $0.shape.map(String.init).joined(separator: ","))"
            }
            XCTAssertEqual(ours.count, reference.count, name)
            XCTAssertEqual(ours.sorted(), reference.sorted(), name)
            // ConvNeXt's layer_scale is a parameter of the block module itself, which state_dict lists
            // before the block's layers; a graph records it where it applies, after them.
            func ordered(_ lines: [String]) -> [String] { lines.filter { !$0.contains(".layer_scale ") } }
            XCTAssertEqual(ordered(ours), ordered(reference), "\(name): same tensors, but not in torchvision's state_dict order")
        }
    }

    /// Every built-in lists torchvision's published weights, the default first, and its classifier.
    func testWeightSetsAndClassifierKeys() throws {
        let keys = ["resnet18": "fc", "resnet34": "fc", "resnet50": "fc", "mobilenet-v2": "classifier.1",
                    "mobilenet-v3-large": "classifier.3", "efficientnet-b0": "classifier.1", "efficientnet-b3": "classifier.1",
                    "efficientnet-v2-s": "classifier.1", "shufflenet-v2-x1.0": "fc", "regnet-y-800mf": "fc",
                    "densenet121": "classifier", "convnext-tiny": "classifier.2"]
        for (name, key) in keys {
            let b = try Self.catalog.backbone(named: name)
            XCTAssertEqual(b.classifierKey, key, name)
            let first = try XCTUnwrap(b.weightSets.first, name)
            XCTAssertTrue(first.url.hasSuffix("/" + first.file_name) && first.file_name.contains("-" + first.sha256 + "."), name)
            XCTAssertEqual(first.crop_size, b.inputSize, "\(name): the default weights are evaluated at the training crop")
            XCTAssertEqual(first.resize_size, b.evalResize, "\(name): and at the backbone's evaluation resize")
        }
        let b3 = try Self.catalog.backbone(named: "efficientnet-b3").weightSets[0]
        XCTAssertEqual([b3.interpolation.rawValue, b3.name, String(b3.top1)], ["bicubic", "IMAGENET1K_V1", "82.008"])
        XCTAssertEqual(try Self.catalog.backbone(named: "resnet50").weightSets.map(\.name), ["IMAGENET1K_V2", "IMAGENET1K_V1"])
        // A model of EfficientNet-B3 records the bicubic evaluation its weights were published with.
        let model = ModelFile(backbone: try Self.catalog.backbone(named: "efficientnet-b3"), classes: ["a"],
                              provenance: Provenance(command: "test"), tensors: [])
        XCTAssertEqual(model.interpolation, .bicubic)
        XCTAssertEqual(try Self.catalog.backbone(named: "resnet18").evalInterpolation, .bilinear)
    }

    func testLayerGroupsForFreezing() throws {
        for name in ["resnet18", "resnet34", "resnet50"] {
            XCTAssertEqual(try Self.catalog.backbone(named: name).makeGraph().groups,
                           ["stem", "layer1", "layer2", "layer3", "layer4"], name)
        }
        XCTAssertEqual(try Self.catalog.backbone(named: "convnext-tiny").makeGraph().groups, ["stem"] + (1...4).map { "stage\($0)" })
        XCTAssertEqual(try Self.catalog.backbone(named: "densenet121").makeGraph().groups, ["stem"] + (1...4).map { "denseblock\($0)" })
        XCTAssertEqual(try Self.catalog.backbone(named: "mobilenet-v3-large").makeGraph().groups,
                       ["stem"] + (1...15).map { "block\($0)" } + ["head_conv"])
        XCTAssertEqual(try Self.catalog.backbone(named: "efficientnet-v2-s").makeGraph().groups,
                       ["stem"] + (1...6).map { "stage\($0)" } + ["head_conv"])
        for name in ["mobilenet-v2", "efficientnet-b0", "efficientnet-b3"] {
            XCTAssertEqual(try Self.catalog.backbone(named: name).makeGraph().groups,
                           ["stem"] + (1...7).map { "stage\($0)" } + ["head_conv"], name)
        }
        XCTAssertEqual(try Self.catalog.backbone(named: "regnet-y-800mf").makeGraph().groups, ["stem"] + (1...4).map { "block\($0)" })
        XCTAssertEqual(try Self.catalog.backbone(named: "shufflenet-v2-x1.0").makeGraph().groups,
                       ["stem", "stage2", "stage3", "stage4", "conv5"])
    }

    func testEfficientNetStochasticDepthSchedule() throws {
        let graph = try Self.catalog.backbone(named: "efficientnet-b3").makeGraph()
        let probabilities = graph.nodes.compactMap { node -> Float? in
            if case .stochasticDepth(let p) = node.operation { return p }
            return nil
        }
        // Only blocks with a residual connection drop; block i of 26 drops with 0.2 * i / 26.
        XCTAssertFalse(probabilities.isEmpty)
        for p in probabilities {
            let i = (p * 26 / 0.2).rounded()
            XCTAssertEqual(p, 0.2 * i / 26, accuracy: 1e-6)
        }
        XCTAssertEqual(probabilities.last!, 0.2 * 25 / 26, accuracy: 1e-6)
    }
}
