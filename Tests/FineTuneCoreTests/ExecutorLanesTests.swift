import XCTest
@testable import FineTuneCore

/// A batch split between lanes (threads) by samples gives what one lane gives: the same outputs,
/// and in training the same batch statistics, running statistics and parameter gradients.
final class ExecutorLanesTests: XCTestCase {
    func values(_ count: Int) -> [Float] {
        var rng = FineTuneCore.SplitMix64(seed: 4)
        return (0..<count).map { _ in rng.nextFloat() * 2 - 1 }
    }

    func testInferenceLanesMatchOneLane() throws {
        let model = try ExecutorFreezingTests.makeModel("mobilenet-v2", size: 32)
        let n = 5, x = values(n * 32 * 32 * 3)
        var rng = FineTuneCore.SplitMix64(seed: 0)
        func run(_ e: Executor, _ k: Int) -> [Float] {
            x.withUnsafeBufferPointer { Array(UnsafeBufferPointer(start: e.forward($0.baseAddress!, count: k, rng: &rng), count: k * 3)) }
        }
        let expected = run(try Executor(model: model, batchSize: n, training: false, passFloats: .max, lanes: 1), n)
        // Samples split 3 + 2, each lane's first blocks one sample per pass, the rest of the
        // backbone two, the head all its samples at once; smaller batches than planned (a
        // single sample runs in lane 0 with every thread).
        let laned = try Executor(model: model, batchSize: n, training: false, passFloats: 24_576, lanes: 2)
        XCTAssertEqual(laned.lanes.count, 2)
        XCTAssertEqual(laned.lanes[0].plan.segments.map(\.passSize), [1, 2, 3])
        for k in [n, 1, 3] {
            for (a, b) in zip(run(laned, k), expected.prefix(k * 3)) { XCTAssertEqual(a, b, accuracy: 1e-5 * max(1, abs(b))) }
        }
        XCTAssertEqual(ComputeThreads.serially { ComputeThreads.count }, 1)
    }

    /// A shallow network with every kind of layer the lanes meet in training (BN with fused
    /// activations exchanging statistics, depthwise and Winograd convolutions, a residual add, a
    /// head), where one step is well conditioned: lanes agree with one lane to rounding.
    func testTrainingLanesMatchOneLane() throws {
        try checkTraining(lanes: 2, n: 6)
        try checkTraining(lanes: 3, n: 7)  // shares 3, 3, 1
    }

    /// Frozen batch-norm statistics: nothing is exchanged, each lane's parameter gradients are
    /// its own until they are added up; the result is still that of one lane.
    func testTrainingLanesMatchOneLaneWithFrozenBatchNorm() throws {
        try checkTraining(lanes: 2, n: 6, batchNorm: .frozen)
        try checkTraining(lanes: 3, n: 7, batchNorm: .frozen)
    }

    func makeNetwork() throws -> Model {
        let b = GraphBuilder(inputHeight: 12, inputWidth: 10)
        let x = try b.input(channels: 3)
        let stem = try b.activation(nil, try b.batchNorm("bn0", try b.conv2d("conv0", x, Conv2DParams(outChannels: 16, kernel: 3)),
                                                         eps: 1e-5, momentum: 0.1), .relu6)
        let dw = try b.activation(nil, try b.batchNorm("bn1", try b.conv2d("dw", stem, Conv2DParams(outChannels: 16, kernel: 3, groups: 16)),
                                                       eps: 1e-5, momentum: 0.1), .silu)
        let project = try b.batchNorm("bn2", try b.conv2d("pw", dw, Conv2DParams(outChannels: 16, kernel: 1)), eps: 1e-5, momentum: 0.1)
        let pooled = try b.globalAvgPool(nil, try b.activation(nil, try b.add(nil, project, stem), .relu))
        var graph = b.graph
        graph.features = pooled
        try graph.attachLinearHead(classes: 3)
        let model = try Model(graph: graph)
        model.initialize(seed: 11)
        return model
    }

    /// One training step (forward, backward) with `lanes` lanes and with one, from the same weights.
    func checkTraining(lanes: Int, n: Int, batchNorm: BatchNormMode = .train) throws {
        let samples = values(n * 12 * 10 * 3)
        var results: [(logits: [Float], model: Model)] = []
        for count in [1, lanes] {
            let model = try makeNetwork()
            let executor = try Executor(model: model, batchSize: n, training: true, batchNorm: batchNorm, lanes: count)
            XCTAssertEqual(executor.lanes.count, count == 1 ? 0 : count)
            var rng = FineTuneCore.SplitMix64(seed: 0)
            model.zeroGradients()
            let logits = samples.withUnsafeBufferPointer {
                Array(UnsafeBufferPointer(start: executor.forward($0.baseAddress!, count: n, rng: &rng), count: n * 3))
            }
            executor.backward((0..<n * 3).map { Float($0 % 5) - 2 } as [Float])
            withExtendedLifetime(samples) {}
            results.append((logits, model))
        }
        let (one, many) = (results[0], results[1])
        for (a, b) in zip(many.logits, one.logits) { XCTAssertEqual(a, b, accuracy: 1e-5 * max(1, abs(b)), "logits") }
        let largest = one.model.parameters.flatMap { $0.grad!.array.map(abs) }.max()!
        for (a, b) in zip(many.model.slots, one.model.slots) {
            // Gradients, and the buffers: running statistics updated once, from the whole batch.
            let va = (a.grad ?? a.value).array, vb = (b.grad ?? b.value).array
            let scale = max(vb.map(abs).max()!, a.grad == nil ? 1 : 1e-2 * largest)
            let worst = zip(va, vb).map { abs($0 - $1) }.max()!
            XCTAssertLessThanOrEqual(worst, 1e-5 * scale, "\(lanes) lanes: \(a.spec.name)\(a.grad == nil ? "" : " gradient")")
        }
    }
}
