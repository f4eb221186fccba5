import XCTest
@testable import FineTuneCore

/// Finite-difference checks of every kernel's backward, through the executor. Each graph is
/// input -> a trainable 1x1 convolution "pre" -> the layer under test, so the gradient of
/// "pre" checks the layer's input gradient and the layer's own parameters check the rest.
/// Loss = sum(output * R) for a fixed random R; central differences with step 1e-3 in Float32;
/// tolerance 2e-2 relative to max(|analytic|, |numeric|, 1e-2 of the model's largest gradient).
final class KernelGradientTests: XCTestCase {
    func testConvolutions() throws {
        try check("conv 3x3 stride 2, asymmetric padding, bias", h: 7, w: 6, c: 3) { b, x in
            var p = Conv2DParams(outChannels: 4, kernel: 3, stride: 2, bias: true)
            p.padding = Padding(top: 1, bottom: 0, left: 2, right: 1)
            return try b.conv2d("conv", x, p)
        }
        try check("conv 3x3 stride 1 (Winograd), odd sizes, bias", h: 5, w: 7, c: 3) { b, x in
            try b.conv2d("conv", x, Conv2DParams(outChannels: 4, kernel: 3, bias: true))
        }
        try check("conv 3x3 dilation 2, grouped", h: 7, w: 7, c: 4) { b, x in
            try b.conv2d("conv", x, Conv2DParams(outChannels: 6, kernel: 3, dilation: 2, groups: 2))
        }
        try check("conv 1x2 kernel, stride 1x2", h: 5, w: 6, c: 3) { b, x in
            var p = Conv2DParams(outChannels: 5, kernel: 1)
            p.kernel = (1, 2); p.stride = (1, 2)
            return try b.conv2d("conv", x, p)
        }
        try check("pointwise", h: 4, w: 4, c: 5) { b, x in
            try b.conv2d("conv", x, Conv2DParams(outChannels: 3, kernel: 1, bias: true))
        }
        try check("depthwise 3x3", h: 6, w: 5, c: 4) { b, x in
            try b.conv2d("conv", x, Conv2DParams(outChannels: 4, kernel: 3, groups: 4, bias: true))
        }
        try check("depthwise 3x3 stride 2, 29 channels (vectors of 16, 8 and 4, then one)", h: 7, w: 6, c: 29) { b, x in
            try b.conv2d("conv", x, Conv2DParams(outChannels: 29, kernel: 3, stride: 2, groups: 29))
        }
        try check("depthwise 5x5 stride 2", h: 9, w: 8, c: 3) { b, x in
            try b.conv2d("conv", x, Conv2DParams(outChannels: 3, kernel: 5, stride: 2, groups: 3))
        }
    }

    func testBatchNormTraining() throws {
        try check("batch norm", h: 3, w: 4, c: 5) { b, x in try b.batchNorm("bn", x, eps: 1e-5, momentum: 0.1) }
        // In training the batch norm applies the activation after it, and its derivative.
        for a in [Activation.relu, .relu6, .silu, .sigmoid, .gelu, .hardswish, .hardsigmoid] {
            try check("batch norm + \(a), fused", h: 3, w: 4, c: 5) { b, x in
                try b.activation(nil, try b.batchNorm("bn", x, eps: 1e-5, momentum: 0.1), a)
            }
        }
    }

    /// Frozen statistics (`BatchNormMode.frozen`): running mean and variance away from 0 and 1,
    /// scale and shift trained, the activation after it fused as in training.
    func testBatchNormFrozenStatistics() throws {
        try check("batch norm, frozen statistics", h: 3, w: 4, c: 5, batchNorm: .frozen) { b, x in
            try b.batchNorm("bn", x, eps: 1e-5, momentum: 0.1)
        }
        for a in [Activation.relu, .relu6, .silu, .sigmoid, .gelu, .hardswish, .hardsigmoid] {
            try check("batch norm + \(a), frozen statistics, fused", h: 3, w: 4, c: 5, batchNorm: .frozen) { b, x in
                try b.activation(nil, try b.batchNorm("bn", x, eps: 1e-5, momentum: 0.1), a)
            }
        }
    }

    func testActivations() throws {
        for a in [Activation.relu, .relu6, .silu, .sigmoid, .gelu, .hardswish, .hardsigmoid] {
            // Scale the input so relu6 sees values on both sides of 0 and 6, the hard ones of -3 and 3.
            let scale: Float = a == .relu6 || a == .hardswish || a == .hardsigmoid ? 8 : 2
            try check("\(a)", h: 3, w: 3, c: 4, inputScale: scale) { b, x in try b.activation(nil, x, a) }
        }
        try check("linear over channels (nn.Linear's 2-D weight)", h: 2, w: 3, c: 4) { b, x in
            try b.linear("fc", x, outFeatures: 5, bias: true)
        }
    }

    /// ConvNeXt's layers (ABI 1.1): layer norm over channels and a learnable per-channel scale.
    func testLayerNormAndChannelScale() throws {
        try check("layer norm over channels", h: 3, w: 2, c: 6) { b, x in try b.layerNorm("ln", x, eps: 1e-6) }
        try check("channel scale, then GELU", h: 2, w: 3, c: 5) { b, x in
            try b.activation(nil, try b.channelScale("scale", x, initial: 0.5), .gelu)
        }
    }

    func testAddAndChannelMultiply() throws {
        try check("add (residual: both inputs reach pre)", h: 3, w: 3, c: 4) { b, x in
            let y = try b.conv2d("side", x, Conv2DParams(outChannels: 4, kernel: 3))
            return try b.add(nil, x, y)
        }
        try check("squeeze-excitation", h: 4, w: 3, c: 4) { b, x in
            let pooled = try b.globalAvgPool(nil, x)
            let fc = try b.conv2d("fc", pooled, Conv2DParams(outChannels: 4, kernel: 1, bias: true))
            let scale = try b.activation(nil, fc, .sigmoid)
            return try b.channelMultiply(nil, x, scale)
        }
    }

    /// ShuffleNetV2's channel moves (ABI 1.1): each input of a concatenation, both halves of a
    /// split and a shuffle reach "pre" along their own paths.
    func testConcatNarrowAndChannelShuffle() throws {
        try check("concat of three, one input twice", h: 3, w: 4, c: 4) { b, x in
            let y = try b.conv2d("side", x, Conv2DParams(outChannels: 3, kernel: 3))
            return try b.concat(nil, [x, y, x])
        }
        try check("narrow: the two halves, one through a convolution, concatenated and shuffled", h: 3, w: 3, c: 6) { b, x in
            let left = try b.narrow(nil, x, start: 0, length: 3), right = try b.narrow(nil, x, start: 3, length: 3)
            let branch = try b.conv2d("branch", right, Conv2DParams(outChannels: 3, kernel: 1, bias: true))
            return try b.channelShuffle(nil, try b.concat(nil, [left, branch]), groups: 2)
        }
        try check("narrow from the middle, alone", h: 2, w: 3, c: 7) { b, x in try b.narrow(nil, x, start: 2, length: 3) }
        try check("channel shuffle, 3 groups of 4", h: 3, w: 2, c: 12) { b, x in try b.channelShuffle(nil, x, groups: 3) }
    }

    func testPooling() throws {
        try check("max pool 3x3/2 pad 1", h: 7, w: 6, c: 3) { b, x in
            try b.pool(nil, x, PoolParams(kernel: 3, stride: 2, padding: 1), max: true)
        }
        try check("max pool 3x3/2 pad 1, 20 channels (vector and scalar paths)", h: 5, w: 6, c: 20) { b, x in
            try b.pool(nil, x, PoolParams(kernel: 3, stride: 2, padding: 1), max: true)
        }
        try check("max pool 2x2/2 ceil", h: 5, w: 5, c: 3) { b, x in
            try b.pool(nil, x, PoolParams(kernel: 2, stride: 2, ceilMode: true), max: true)
        }
        for include in [true, false] {
            try check("avg pool 3x3/2 pad 1 count_include_pad \(include)", h: 6, w: 7, c: 3) { b, x in
                try b.pool(nil, x, PoolParams(kernel: 3, stride: 2, padding: 1, countIncludePad: include), max: false)
            }
        }
        try check("global average pool", h: 4, w: 5, c: 3) { b, x in try b.globalAvgPool(nil, x) }
    }

    func testDropoutAndStochasticDepth() throws {
        try check("dropout", h: 3, w: 3, c: 4) { b, x in try b.dropout(nil, x, p: 0.3) }
        try check("stochastic depth", h: 3, w: 3, c: 4, batch: 6) { b, x in try b.stochasticDepth(nil, x, p: 0.4) }
    }

    func testLinearHead() throws {
        try check("linear", h: 1, w: 1, c: 6, head: 4) { _, x in x }
    }

    func testSoftmaxCrossEntropyGradient() {
        let n = 3, classes = 5
        var rng = FineTuneCore.SplitMix64(seed: 3)
        var logits = (0..<n * classes).map { _ in rng.nextFloat() * 4 - 2 }
        let labels: [Int32] = [1, 4, 0]
        let weights: [Float] = [1, 0.5, 2, 1, 3]
        for (smoothing, w) in [(Float(0), nil), (0, weights), (0.1, weights)] as [(Float, [Float]?)] {
            var d = [Float](repeating: 0, count: logits.count)
            func loss(_ z: [Float], _ d: UnsafeMutablePointer<Float>? = nil) -> Float {
                w.map { w in w.withUnsafeBufferPointer { SoftmaxCrossEntropy.forwardBackward(
                    logits: z, labels: labels, n: n, classes: classes, labelSmoothing: smoothing,
                    classWeights: $0.baseAddress, dLogits: d) } }
                    ?? SoftmaxCrossEntropy.forwardBackward(logits: z, labels: labels, n: n, classes: classes,
                                                          labelSmoothing: smoothing, dLogits: d)
            }
            _ = d.withUnsafeMutableBufferPointer { loss(logits, $0.baseAddress) }
            for i in logits.indices {
                let saved = logits[i]
                logits[i] = saved + 1e-2; let up = loss(logits)
                logits[i] = saved - 1e-2; let down = loss(logits)
                logits[i] = saved
                XCTAssertEqual(d[i], (up - down) / 2e-2, accuracy: 2e-3, "smoothing \(smoothing) logit \(i)")
            }
        }
    }

    func testVectorisedExpMatchesLibm() {
        var worst: Float = 0
        var x: Float = -87
        while x < 88 {
            for i in 0..<16 {
                let ref = expf(x + Float(i) * 0.0137)
                worst = max(worst, abs(fastExp(x + Float(i) * 0.0137) - ref) / ref)
            }
            x += 0.219
        }
        XCTAssertLessThan(worst, 4e-7, "largest relative error of fastExp")
    }

    // MARK: the check

    func check(_ what: String, h: Int, w: Int, c: Int, batch: Int = 2, inputScale: Float = 2, head: Int? = nil,
               batchNorm: BatchNormMode = .train, file: StaticString = #filePath, line: UInt = #line,
               _ layer: (GraphBuilder, Int) throws -> Int) throws {
        let b = GraphBuilder(inputHeight: h, inputWidth: w)
        let x = try b.input(channels: c)
        let pre = try b.conv2d("pre", x, Conv2DParams(outChannels: c, kernel: 1, bias: true))
        let out = try layer(b, pre)
        var graph = b.graph
        if let head {
            _ = out
            graph.features = pre
            try graph.attachLinearHead(classes: head)
        }
        let model = try Model(graph: graph)
        model.initialize(seed: 11)
        var rng = FineTuneCore.SplitMix64(seed: 5)
        for slot in model.slots where slot.spec.kind == .parameter {
            for i in 0..<slot.value.count { slot.value[i] = slot.value[i] + (rng.nextFloat() - 0.5) * 0.5 }
        }
        if batchNorm == .frozen {
            for slot in model.slots where slot.spec.name.hasSuffix("running_mean") || slot.spec.name.hasSuffix("running_var") {
                for i in 0..<slot.value.count { slot.value[i] = slot.value[i] + 0.3 + rng.nextFloat() * 0.5 }
            }
        }
        let input = (0..<batch * h * w * c).map { _ in (rng.nextFloat() * 2 - 1) * inputScale / 2 }
        let outCount = graph.nodes[graph.output].outputShape.count * batch
        let r = (0..<outCount).map { _ in rng.nextFloat() * 2 - 1 }
        let exec = try Executor(model: model, batchSize: batch, training: true, batchNorm: batchNorm)
        if batchNorm == .frozen {
            XCTAssertTrue(exec.batchStats.allSatisfy { $0 == nil }, "\(what): no batch statistics", file: file, line: line)
        }
        func loss() -> Double {
            var maskRng = FineTuneCore.SplitMix64(seed: 99)
            let y = input.withUnsafeBufferPointer { exec.forward($0.baseAddress!, count: batch, rng: &maskRng) }
            return (0..<outCount).reduce(0.0) { $0 + Double(y[$1]) * Double(r[$1]) }
        }
        model.zeroGradients()
        _ = loss()
        exec.backward(r)
        let largest = model.parameters.flatMap { $0.grad!.array.map(abs) }.max() ?? 0
        for slot in model.parameters {
            let grad = slot.grad!.array
            for i in Array(0..<slot.value.count).shuffled(using: &rng).prefix(16) {
                let saved = slot.value[i], step: Float = 1e-3
                slot.value[i] = saved + step; let up = loss()
                slot.value[i] = saved - step; let down = loss()
                slot.value[i] = saved
                let numeric = (up - down) / Double(2 * step), analytic = Double(grad[i])
                let scale = max(abs(numeric), abs(analytic), 1e-2 * Double(largest))
                XCTAssertLessThanOrEqual(abs(numeric - analytic) / scale, 2e-2,
                                         "\(what): \(slot.spec.name)[\(i)] analytic \(analytic) numeric \(numeric)",
                                         file: file, line: line)
            }
        }
    }
}
