import XCTest
@testable import FineTuneCore

/// Frozen layer groups: no parameter gradients, inference-mode BN folded into convolutions,
/// and no activations kept where everything upstream is frozen.
final class ExecutorFreezingTests: XCTestCase {
    static func makeModel(_ name: String, size: Int) throws -> Model {
        let graph = try BuiltInBackboneTests.catalog.backbone(named: name).makeClassifier(classes: 3, inputSize: size)
        let model = try Model(graph: graph)
        model.initialize(seed: 1)
        // Non-trivial running statistics, so folding them is visible.
        var rng = FineTuneCore.SplitMix64(seed: 2)
        for slot in model.slots where slot.spec.name.hasSuffix("running_var") || slot.spec.name.hasSuffix("running_mean") {
            for i in 0..<slot.value.count { slot.value[i] = slot.spec.name.hasSuffix("var") ? 0.5 + rng.nextFloat() : rng.nextFloat() - 0.5 }
        }
        model.markChanged()
        return model
    }

    /// Inference in segments of micro-batches gives the whole batch's outputs, as one pass over
    /// all of it: at 32 px, passes within 24,576 floats take MobileNetV2's first blocks one
    /// sample at a time (16x16x96 activations), the next two at a time, the last blocks and the
    /// head all five. Equal to 5e-5: OpenBLAS picks its GEMM kernels by CPU and matrix size, so
    /// a pass of one sample and a pass of five sum in different orders.
    func testInferenceMicroBatchesMatchOnePass() throws {
        let model = try Self.makeModel("mobilenet-v2", size: 32)
        let n = 5
        var rng = FineTuneCore.SplitMix64(seed: 4)
        let input = (0..<n * 32 * 32 * 3).map { _ in rng.nextFloat() * 2 - 1 }
        func run(_ executor: Executor) -> [Float] {
            input.withUnsafeBufferPointer { Array(UnsafeBufferPointer(start: executor.forward($0.baseAddress!, count: n, rng: &rng), count: n * 3)) }
        }
        let whole = try Executor(model: model, batchSize: n, training: false, passFloats: .max, lanes: 1)
        let micro = try Executor(model: model, batchSize: n, training: false, passFloats: 24_576, lanes: 1)
        XCTAssertEqual(whole.plan.segments.map(\.passSize), [5, 5])
        XCTAssertEqual(micro.plan.segments.map(\.passSize), [1, 2, 5, 5])
        XCTAssertEqual(micro.plan.segments.last?.end, model.graph.output)
        XCTAssertEqual(micro.plan.segments.dropLast().last?.end, model.graph.features)
        for (a, b) in zip(run(micro), run(whole)) { XCTAssertEqual(a, b, accuracy: 5e-5 * max(1, abs(b))) }

        // Without a head (feature extraction) the last segment's passes are gathered too.
        let backbone = try Model(graph: try model.graph.backboneOnly())
        backbone.copyValues(from: model)
        let features = backbone.graph.nodes[backbone.graph.output].outputShape.count
        func extract(_ executor: Executor) -> [Float] {
            input.withUnsafeBufferPointer { Array(UnsafeBufferPointer(start: executor.forward($0.baseAddress!, count: n, rng: &rng), count: n * features)) }
        }
        let microFeatures = try Executor(model: backbone, batchSize: n, training: false, passFloats: 2_048, lanes: 1)
        XCTAssertLessThan(microFeatures.plan.segments.last!.passSize, n)
        for (a, b) in zip(extract(microFeatures), extract(try Executor(model: backbone, batchSize: n, training: false, passFloats: .max, lanes: 1))) {
            XCTAssertEqual(a, b, accuracy: 5e-5 * max(1, abs(b)))
        }

        // The rule: depthwise networks at full size take their first layers one sample at a
        // time and their last ones several; ResNet18 whole batches.
        let catalog = BuiltInBackboneTests.catalog
        let mobilenet = try catalog.backbone(named: "mobilenet-v2").makeClassifier(classes: 3, inputSize: 224)
        let sizes = ExecutionPlan(graph: mobilenet, batchSize: 32, training: false, frozenGroups: [],
                                  passFloats: Executor.passFloats(mobilenet)).segments.map(\.passSize)
        XCTAssertEqual(sizes.first, 1)
        XCTAssertGreaterThan(sizes.dropLast().last!, 1, "\(sizes)")
        XCTAssertEqual(sizes.last, 32)
        XCTAssertNil(Executor.passFloats(try catalog.backbone(named: "resnet18").makeClassifier(classes: 3, inputSize: 224)))
    }

    func testFrozenBackboneMatchesInferenceAndTrainsOnlyTheHead() throws {
        let model = try Self.makeModel("mobilenet-v2", size: 32)
        let graph = model.graph
        let n = 2
        var rng = FineTuneCore.SplitMix64(seed: 3)
        let input = (0..<n * 32 * 32 * 3).map { _ in rng.nextFloat() * 2 - 1 }
        let backboneGroups = Set(0..<(graph.groups.count - 1))

        let inference = try Executor(model: model, batchSize: n, training: false)
        let expected = input.withUnsafeBufferPointer { Array(UnsafeBufferPointer(start: inference.forward($0.baseAddress!, count: n, rng: &rng), count: n * 3)) }

        let frozen = try Executor(model: model, batchSize: n, training: true, frozenGroups: backboneGroups)
        let full = try Executor(model: model, batchSize: n, training: true)
        let runningBefore = try model.tensor("features.1.conv.0.1.running_mean")
        let logits = input.withUnsafeBufferPointer { Array(UnsafeBufferPointer(start: frozen.forward($0.baseAddress!, count: n, rng: &rng), count: n * 3)) }
        for (a, b) in zip(logits, expected) { XCTAssertEqual(a, b, accuracy: 1e-4 * max(1, abs(b))) }
        XCTAssertEqual(try model.tensor("features.1.conv.0.1.running_mean"), runningBefore, "frozen BN does not update its statistics")

        model.zeroGradients()
        frozen.backward([1, -1, 0.5, 0.25, 0, -0.5])
        withExtendedLifetime(input) {}  // backward reads the input through forward's pointer
        for slot in model.parameters where slot.group != graph.groups.count - 1 {
            XCTAssertEqual(slot.grad!.array.map(abs).max(), 0, "\(slot.spec.name) is frozen")
        }
        XCTAssertGreaterThan(try XCTUnwrap(model.slot(named: "head.weight")).grad!.array.map(abs).max()!, 0)

        // Folded BN, no kept activations: the frozen plan needs a fraction of the full plan's memory.
        let folds = frozen.plan.steps.filter { if case .foldedConv = $0 { return true } else { return false } }.count
        XCTAssertEqual(folds, graph.nodes.filter { if case .batchNorm = $0.operation { return true } else { return false } }.count)
        XCTAssertLessThan(frozen.plannedFloats * 3, full.plannedFloats)
    }

    /// Frozen batch-norm statistics (`--bn frozen`): the training step computes the network
    /// inference runs (the one a freeze stage's head was trained on), with the activations fused
    /// into BN as in training, no batch statistics, and running statistics that do not move.
    func testFrozenBatchNormTrainsTheNetworkInferenceRuns() throws {
        let model = try Self.makeModel("mobilenet-v2", size: 32)
        let graph = model.graph
        let n = 2
        var rng = FineTuneCore.SplitMix64(seed: 3)
        let input = (0..<n * 32 * 32 * 3).map { _ in rng.nextFloat() * 2 - 1 }
        let inference = try Executor(model: model, batchSize: n, training: false)
        let expected = input.withUnsafeBufferPointer { Array(UnsafeBufferPointer(start: inference.forward($0.baseAddress!, count: n, rng: &rng), count: n * 3)) }

        let frozen = try Executor(model: model, batchSize: n, training: true, batchNorm: .frozen)
        let batchStatistics = try Executor(model: model, batchSize: n, training: true)
        let statistics = model.slots.filter { $0.spec.kind != .parameter }
        let before = statistics.map(\.value.array)
        let logits = input.withUnsafeBufferPointer { Array(UnsafeBufferPointer(start: frozen.forward($0.baseAddress!, count: n, rng: &rng), count: n * 3)) }
        for (a, b) in zip(logits, expected) { XCTAssertEqual(a, b, accuracy: 1e-4 * max(1, abs(b))) }
        XCTAssertEqual(statistics.map(\.value.array), before, "frozen statistics are not updated")

        model.zeroGradients()
        frozen.backward([1, -1, 0.5, 0.25, 0, -0.5])
        withExtendedLifetime(input) {}  // backward reads the input through forward's pointer
        for name in ["features.0.1.weight", "features.18.1.bias", "features.0.0.weight"] {
            XCTAssertGreaterThan(try XCTUnwrap(model.slot(named: name)).grad!.array.map(abs).max()!, 0, name)
        }

        let bn = graph.nodes.filter { if case .batchNorm = $0.operation { true } else { false } }.map(\.id)
        XCTAssertFalse(bn.isEmpty)
        for id in bn {
            XCTAssertTrue(frozen.plan.inferenceMode[id] && frozen.plan.needsGrad[id], graph.nodes[id].name)
            XCTAssertEqual(frozen.plan.epilogue[id], batchStatistics.plan.epilogue[id], "\(graph.nodes[id].name): activation fused as in training")
            XCTAssertNil(frozen.batchStats[id])
        }
        XCTAssertFalse(frozen.plan.steps.contains { if case .foldedConv = $0 { true } else { false } }, "a trained convolution is not folded")
    }

    func testUnfreezingTheLastGroupKeepsOnlyItsActivations() throws {
        let model = try Self.makeModel("resnet18", size: 32)
        let groups = model.graph.groups
        let lastBackbone = groups.firstIndex(of: "layer4")!
        let exec = try Executor(model: model, batchSize: 2, training: true, frozenGroups: Set(0..<lastBackbone))
        for node in model.graph.nodes {
            XCTAssertEqual(exec.plan.needsGrad[node.id], node.group >= lastBackbone, node.name)
        }
    }
}
