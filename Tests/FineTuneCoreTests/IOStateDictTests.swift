import Foundation
import XCTest
@testable import FineTuneCore

/// Checking a state_dict's keys against a graph: io-tiny.pth against the same tiny network
/// built with GraphBuilder, and torchvision's resnet18 key set against the resnet18 plugin.
final class IOStateDictTests: XCTestCase {
    func tiny() throws -> StateDict { try StateDict.load(contentsOf: IOFixture.url("io-tiny.pth")) }

    /// The same tensors with some removed, added or replaced.
    func edited(_ sd: StateDict, drop: Set<String> = [], add: [NamedTensor] = [], rename: (String) -> String = { $0 }) throws -> StateDict {
        var tensors = sd.tensors.filter { !drop.contains($0.name) }.map { t -> NamedTensor in
            var t = t
            t.name = rename(t.name)
            return t
        }
        for a in add {
            if let i = tensors.firstIndex(where: { $0.name == a.name }) { tensors[i] = a } else { tensors.append(a) }
        }
        return try StateDict(tensors: tensors, file: "edited.pth")
    }

    func testFineTuningDropsTheClassifierAndKeepsEveryBackboneTensor() throws {
        let sd = try tiny()
        for graph in [try IOFixture.tinyGraph(), try IOFixture.tinyGraph(classes: 3)] {
            let weights = try sd.matched(to: graph, classifier: .drop)
            let backbone = graph.tensors.map(\.name).filter { !$0.hasPrefix("head.") }
            XCTAssertEqual(Set(weights.keys), Set(backbone))
            for name in backbone { XCTAssertEqual(weights[name]?.values, sd[name]?.values, name) }
        }
        // A backbone-only file is as good for fine-tuning.
        let backboneOnly = try edited(sd, drop: ["fc.weight", "fc.bias"])
        XCTAssertEqual(try backboneOnly.matched(to: IOFixture.tinyGraph(classes: 3), classifier: .drop).count, 12)
        XCTAssertNil(backboneOnly.originalClassifier)
    }

    func testImportMapsTheClassifierToTheHead() throws {
        let sd = try tiny()
        XCTAssertEqual(sd.originalClassifier, OriginalClassifier(weightKey: "fc.weight", biasKey: "fc.bias", classes: 5, features: 4))
        let graph = try IOFixture.tinyGraph(classes: 5)
        let ordered = try sd.matchedTensors(to: graph, classifier: .keepAsHead)
        XCTAssertEqual(ordered.map(\.name), graph.tensors.map(\.name))
        XCTAssertEqual(ordered.last?.values, sd["fc.bias"]?.values)
        XCTAssertEqual(ordered[ordered.count - 2].shape, [5, 4])
        assertIOError(try sd.matched(to: IOFixture.tinyGraph(classes: 3), classifier: .keepAsHead),
                     mentioning: ["'fc.weight' is [5, 4], the backbone needs [3, 4] as head.weight"])
        assertIOError(try sd.matched(to: IOFixture.tinyGraph(), classifier: .keepAsHead), mentioning: ["no head"])
        assertIOError(try edited(sd, drop: ["fc.weight", "fc.bias"]).matched(to: graph, classifier: .keepAsHead),
                     mentioning: ["edited.pth", "no classifier", "backbone only"])
    }

    func testMissingSurplusAndMisshapenKeysAreNamed() throws {
        let sd = try tiny(), graph = try IOFixture.tinyGraph(classes: 5)
        assertIOError(try edited(sd, drop: ["layer1.0.bn1.running_var"]).matched(to: graph, classifier: .drop),
                     mentioning: ["edited.pth", "1 missing from the file", "'layer1.0.bn1.running_var'"])
        assertIOError(try edited(sd, add: [NamedTensor(zeros: "layer2.0.conv1.weight", shape: [4, 4, 3, 3])])
                        .matched(to: graph, classifier: .drop),
                     mentioning: ["1 not in the graph", "'layer2.0.conv1.weight'"])
        assertIOError(try edited(sd, add: [NamedTensor(zeros: "conv1.weight", shape: [4, 3, 5, 5])]).matched(to: graph, classifier: .drop),
                     mentioning: ["'conv1.weight' is [4, 3, 5, 5], the backbone needs [4, 3, 3, 3]", "another variant"])
        assertIOError(try edited(sd, drop: ["fc.bias"]).matched(to: graph, classifier: .keepAsHead), mentioning: ["'fc.bias'"])
    }

    func testOldCheckpointsWithoutNumBatchesTrackedAndDataParallelPrefix() throws {
        let sd = try tiny(), graph = try IOFixture.tinyGraph()
        let old = try edited(sd, drop: ["bn1.num_batches_tracked", "layer1.0.bn1.num_batches_tracked"])
        XCTAssertEqual(try old.matched(to: graph, classifier: .drop)["bn1.num_batches_tracked"]?.values, [0])

        let wrapped = try SafeTensorsWriter.encode(sd.tensors.map { t in
            var t = t
            t.name = "module." + t.name
            return t
        })
        let unwrapped = try StateDict.read(data: wrapped, file: "dp.safetensors")
        XCTAssertEqual(unwrapped.names, sd.names)
        XCTAssertEqual(try unwrapped.matched(to: graph, classifier: .drop).count, 12)
    }

    func testHintsForAnotherArchitectureOrAWrappingPrefix() throws {
        let sd = try tiny()
        let mobile = try StateDict(tensors: [
            NamedTensor(zeros: "features.0.0.weight", shape: [4, 3, 3, 3]),
            NamedTensor(zeros: "features.1.conv.0.0.weight", shape: [4, 1, 3, 3]),
            NamedTensor(zeros: "classifier.1.weight", shape: [5, 4]),
        ], file: "mobilenet.pth")
        assertIOError(try mobile.matched(to: IOFixture.tinyGraph(), classifier: .drop),
                     mentioning: ["mobilenet.pth", "'conv1.weight'", "looks like a MobileNetV2 checkpoint", "ResNet keys"])
        let prefixed = try edited(sd, rename: { "backbone." + $0 })
        assertIOError(try prefixed.matched(to: IOFixture.tinyGraph(), classifier: .drop),
                     mentioning: ["every key starts with 'backbone.'"])
    }

    /// torchvision's resnet18 state_dict keys and shapes (Fixtures/resnet18.names.txt plus its
    /// fc), as a zero-filled file, fit the resnet18 plugin's graph; they do not fit MobileNetV2.
    func testTorchvisionResNet18KeysFitTheResNet18Plugin() throws {
        let catalog = PluginCatalog(directories: [PluginCatalog.executableDir!])
        guard let resnet = catalog.backbones.first(where: { $0.name == "resnet18" }) else {
            throw XCTSkip("the resnet18 plugin is not built")
        }
        let url = Bundle.module.url(forResource: "Fixtures/resnet18.names", withExtension: "txt")!
        var tensors = try String(contentsOf: url, encoding: .utf8).split(separator: "\n")
            .filter { !$0.hasPrefix("#") }.map { line -> NamedTensor in
                let f = line.split(separator: " ")
                return NamedTensor(zeros: String(f[0]), shape: f[2] == "-" ? [] : f[2].split(separator: ",").map { Int($0)! })
            }
        tensors += [NamedTensor(zeros: "fc.weight", shape: [1000, 512]), NamedTensor(zeros: "fc.bias", shape: [1000])]
        let file = try IOFixture.temporaryDirectory(self).appendingPathComponent("resnet18.safetensors")
        try SafeTensorsWriter.write(tensors, to: file)
        let sd = try StateDict.load(contentsOf: file)
        XCTAssertEqual(try sd.matched(to: resnet.makeClassifier(classes: 10), classifier: .drop).count, tensors.count - 2)
        XCTAssertEqual(try sd.matched(to: resnet.makeClassifier(classes: 1000), classifier: .keepAsHead).count, tensors.count)
        if let mobile = catalog.backbones.first(where: { $0.name == "mobilenet-v2" }) {
            assertIOError(try sd.matched(to: mobile.makeGraph(), classifier: .drop),
                         mentioning: ["looks like a ResNet checkpoint", "MobileNetV2 keys"])
        }
    }

    /// A declared classifier key (MobileNetV3's classifier.3) picks exactly that layer, though
    /// classifier.0 is 2-D too and belongs to the backbone.
    func testDeclaredClassifierKey() throws {
        let sd = try StateDict(tensors: [NamedTensor(zeros: "classifier.0.weight", shape: [6, 4]), NamedTensor(zeros: "classifier.0.bias", shape: [6]),
                                     NamedTensor(zeros: "classifier.3.weight", shape: [5, 6]), NamedTensor(zeros: "classifier.3.bias", shape: [5])],
                           file: "v3.pth")
        XCTAssertEqual(sd.originalClassifier(key: "classifier.3"),
                       OriginalClassifier(weightKey: "classifier.3.weight", biasKey: "classifier.3.bias", classes: 5, features: 6))
        XCTAssertNil(sd.originalClassifier(key: "fc"), "a declared key that is not in the file finds nothing")
    }
}
