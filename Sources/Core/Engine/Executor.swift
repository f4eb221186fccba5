/// Runs a model's graph forward and backward over NHWC Float32 batches.
///
/// The executor owns every activation, gradient and scratch buffer, planned once for its
/// batch size (see `ExecutionPlan`) and reused each step. Frozen layer groups get no parameter
/// gradients; where everything upstream is frozen, nodes run in inference mode (BN running
/// statistics, folded into the preceding convolution) and keep no activations for backward.
///
/// Several threads split the batch's samples between them (`lanes`, see Executor+Lanes), and
/// in inference a network that does little arithmetic per activation value runs its early
/// layers a few samples at a time (`passFloats`, `ExecutionPlan.segments`), so activations stay
/// in cache between layers.
public final class Executor {
    public let model: Model
    public let batchSize: Int
    /// Samples one pass of the first layers runs: the batch size, or an inference micro-batch.
    public let passSize: Int
    /// One executor per compute thread, each running its share of the batch's samples on that
    /// thread alone; empty where this executor runs the passes itself (one thread, a batch of
    /// one, or a lane).
    let lanes: [Executor]
    /// The threads of `lanes`; in a lane, the threads it shares with the other lanes of its
    /// training executor (batch norm's statistics are exchanged through them).
    let laneThreads: LaneThreads?
    /// In a lane: its index (lane 0 updates BN running statistics and gets BN parameter gradients).
    let laneIndex: Int
    /// In a lane of a training executor: samples of the whole batch of the current step.
    var wholeBatch = 0
    /// In a training lane other than 0, per node: its parameter gradients, added to the model's
    /// after each backward (lane 0 writes the model's directly).
    var laneGradients: [[FloatBuffer?]]
    public let training: Bool
    public let frozenGroups: Set<Int>
    /// How the backbone's batch norms run in training (see `BatchNormMode`).
    public let batchNorm: BatchNormMode
    /// In training forward passes, the momentum of every batch norm's running statistics instead
    /// of the node's own (1 / (k + 1) at the k-th batch makes them the cumulative average of the
    /// batches' statistics, PyTorch's `momentum=None`); nil: each node's.
    var momentumOverride: Float? {
        didSet { for lane in lanes { lane.momentumOverride = momentumOverride } }
    }
    let plan: ExecutionPlan
    let graph: Graph

    var buffers: [FloatBuffer]
    var grads: [FloatBuffer?]
    var gradWritten: [Bool]
    var accumulate: FloatBuffer
    var scratch: FloatBuffer
    /// Per BN node in training mode: mean then 1/std of the last batch, (2c).
    var batchStats: [FloatBuffer?]
    /// Per dropout / stochastic depth node in training mode.
    var masks: [FloatBuffer?]
    /// Folded weights and biases per folded BN node, rebuilt when the model's version changes;
    /// for a Winograd convolution also its transformed weights, so passes of a few samples do not
    /// transform them again each time.
    var folded: [(weight: FloatBuffer, bias: FloatBuffer, winograd: FloatBuffer?)?]
    var foldedVersion = -1
    var geometry: [ConvGeometry?]
    var pointers: [UnsafeMutablePointer<Float>?]
    var batch = 0
    /// The whole batch's outputs of the lanes, or of the passes of a last segment smaller than the batch.
    let gathered: FloatBuffer
    /// Per segment but the last (`plan.segments`): its end's outputs over a pass of the next.
    let segmentOutputs: [FloatBuffer]
    /// Floats of one sample's input.
    let inputCount: Int
    /// The memory of the buffers, held for the executor's lifetime.
    private let reservation: MemoryReservation

    /// Inference micro-batches: where the forward pass does fewer than 400 FLOPs per activation
    /// value it writes (MobileNetV2 and EfficientNet-B3; ResNet18 does over 1,000), each pass
    /// holds activations of at most 1 MB, in cache from one layer to the next (passes run on one
    /// thread: see `lanes`): one sample at a time in the early layers, a few in the late ones;
    /// nil: whole batches (ResNet18 runs fastest so: larger GEMMs). Measured at batch 32 on one
    /// thread: whole batches MobileNetV2 72 img/s, EfficientNet-B3 11.6; every layer one sample at
    /// a time 97 and 12.8. Segments on two threads, MobileNetV2 / EfficientNet-B3 img/s: every
    /// layer one sample at a time 206 / 30.5; passes within 8 MB 186 / 31.8, 4 MB 195 / 32.1,
    /// 2 MB 226 / 31.9, 1 MB 229 / 30.9, 0.5 MB 216 / 30.9.
    static func passFloats(_ graph: Graph) -> Int? {
        let values = graph.nodes.reduce(0) { $0 + $1.outputShape.count }
        guard values > 0, graph.forwardFLOPsPerSample < 400 * values else { return nil }
        return 1 << 18
    }

    /// - Parameters:
    ///   - model: the weights; the executor reads them and writes their gradients.
    ///   - batchSize: the largest batch `forward` will be given.
    ///   - training: plan training steps (batch statistics, gradients) or inference only.
    ///   - frozenGroups: indices into `model.graph.groups` that receive no gradients.
    ///   - batchNorm: in training, batch or running statistics in the backbone's batch norms.
    ///   - passFloats: overrides `passFloats(_:)` (tests; `.max`: whole batches).
    ///   - lanes: overrides the number of lanes (tests; default one per compute thread).
    /// - Throws: `InvalidOption` for a batch size outside `OptionRange.batchSize`; `MemoryError`,
    ///   before allocating, when the buffers and the model need more memory than the machine has.
    public convenience init(model: Model, batchSize: Int, training: Bool, frozenGroups: Set<Int> = [],
                            batchNorm: BatchNormMode = .train, passFloats: Int? = nil, lanes: Int? = nil) throws {
        try InvalidOption.check(batchSize, in: OptionRange.batchSize, "the batch size (--batch-size)")
        try self.init(model: model, batchSize: batchSize, training: training, frozenGroups: frozenGroups, batchNorm: batchNorm,
                      passFloats: passFloats ?? Self.passFloats(model.graph), lanes: lanes, lane: nil)
    }

    /// `lane`: the index and shared threads of a lane of another executor.
    private init(model: Model, batchSize: Int, training: Bool, frozenGroups: Set<Int>, batchNorm: BatchNormMode, passFloats: Int?,
                 lanes laneCount: Int?, lane: (index: Int, threads: LaneThreads, wholeBatch: Int)?) throws {
        self.model = model
        self.batchSize = batchSize
        self.training = training
        self.frozenGroups = frozenGroups
        self.batchNorm = batchNorm
        let graph = model.graph
        self.graph = graph
        let laneCount = lane != nil ? 1 : max(1, min(batchSize, laneCount ?? ComputeThreads.count))
        let threads = laneCount > 1 ? LaneThreads(count: laneCount) : lane?.threads
        laneThreads = threads
        laneIndex = lane?.index ?? 0
        lanes = laneCount == 1 ? [] : try (0..<laneCount).map { i in
            try Executor(model: model, batchSize: (batchSize + laneCount - 1) / laneCount, training: training,
                     frozenGroups: frozenGroups, batchNorm: batchNorm, passFloats: passFloats, lanes: 1, lane: (i, threads!, batchSize))
        }
        // What the buffers are planned for: nothing where the lanes run the passes.
        let batchSize = lanes.isEmpty ? batchSize : 0
        let inputShape = graph.nodes.first { if case .input = $0.operation { true } else { false } }!.outputShape
        inputCount = inputShape.count
        let plan = ExecutionPlan(graph: graph, batchSize: batchSize, training: training, frozenGroups: frozenGroups,
                                 batchNorm: batchNorm, passFloats: passFloats)
        self.plan = plan
        let nodes = graph.nodes
        let geometry: [ConvGeometry?] = nodes.map { node in
            guard let input = node.inputs.first else { return nil }
            let shape = nodes[input].outputShape
            switch node.operation {
            case .conv2d(let p): return ConvGeometry(batch: batchSize, input: shape, output: node.outputShape, conv: p)
            case .maxPool(let p), .avgPool(let p): return ConvGeometry(batch: batchSize, input: shape, output: node.outputShape, pool: p)
            default: return nil
            }
        }
        let gathers = laneCount > 1 || lanes.isEmpty && plan.segments.last!.passSize < batchSize
        let gatheredCount = gathers ? CheckedSize.product(self.batchSize, nodes[graph.output].outputShape.count) : 0
        let laneGradientCount = lane.map { $0.index > 0 && training ? model.parameters.reduce(0) { $0 + $1.value.count } : 0 } ?? 0
        // Reserved: this executor's buffers. Checked besides: those of the sibling lanes still to
        // come (all alike) and, but in a lane, the input batch its caller provides.
        let own = MemoryBudget.total([Self.floatsToAllocate(plan, graph: graph, geometry: geometry, batchSize: batchSize,
                                                            training: training),
                                      gatheredCount, laneGradientCount])
        let laterLanes = lane.map { $0.threads.count - 1 - $0.index } ?? 0
        reservation = try MemoryBudget.reserve(
            floats: own,
            transient: lane == nil ? CheckedSize.product(self.batchSize, inputShape.count) : own.flatMap { CheckedSize.product($0, laterLanes) },
            what: "\(training ? "training" : "inference") on batches of \(lane?.wholeBatch ?? self.batchSize) "
                + "inputs of \(inputShape) values",
            hint: "lower --batch-size or --input-size")
        gathered = FloatBuffer(count: gatheredCount ?? 0)
        passSize = lanes.first?.passSize ?? plan.segments[0].passSize
        segmentOutputs = zip(plan.segments, plan.segments.dropFirst()).map { segment, next in
            FloatBuffer(count: next.passSize * graph.nodes[segment.end].outputShape.count, zeroed: false)
        }
        buffers = plan.bufferSizes.map { FloatBuffer(count: $0, zeroed: false) }
        let gradBuffers = plan.gradBufferSizes.map { FloatBuffer(count: $0, zeroed: false) }
        grads = plan.gradStorage.map { $0.map { gradBuffers[$0] } }
        gradWritten = Array(repeating: false, count: nodes.count)
        let largest = nodes.map(\.outputShape.count).max() ?? 0
        accumulate = FloatBuffer(count: training ? largest * batchSize : 0, zeroed: false)
        self.geometry = geometry
        scratch = FloatBuffer(count: batchSize == 0 ? 0 : Self.scratchCount(plan, geometry: geometry), zeroed: false)
        batchStats = nodes.map { node in
            if case .batchNorm = node.operation, !plan.inferenceMode[node.id] { return FloatBuffer(count: 2 * node.outputShape.channels) }
            return nil
        }
        masks = nodes.map { node in
            guard !plan.inferenceMode[node.id] else { return nil }
            switch node.operation {
            case .dropout: return FloatBuffer(count: node.outputShape.count * batchSize)
            case .stochasticDepth: return FloatBuffer(count: batchSize)
            default: return nil
            }
        }
        folded = Array(repeating: nil, count: nodes.count)
        pointers = Array(repeating: nil, count: nodes.count)
        let laneIndex = self.laneIndex
        laneGradients = nodes.map { node in
            guard lane != nil, laneIndex > 0, plan.trainable[node.id] else { return [] }
            return model.slots(of: node.id).map { $0.grad.map { FloatBuffer(count: $0.count) } }
        }
    }

    /// Floats held by activation, gradient and scratch buffers.
    public var plannedFloats: Int {
        buffers.reduce(0) { $0 + $1.count } + plan.gradBufferSizes.reduce(0, +) + accumulate.count + scratch.count
            + gathered.count + segmentOutputs.reduce(0) { $0 + $1.count } + lanes.reduce(0) { $0 + $1.plannedFloats }
    }

    /// Runs the graph on `n` samples (n <= batchSize) of `input` (n, h, w, c) and returns the
    /// output node's values (n, classes) — logits with a head, else the pooled features.
    /// `rng` draws the dropout and stochastic-depth masks in training. The executor keeps
    /// `input` as the input node's output: it must stay valid until `backward` returns.
    @discardableResult
    public func forward(_ input: UnsafePointer<Float>, count n: Int, rng: inout SplitMix64) -> UnsafeMutablePointer<Float> {
        precondition(n >= 1 && n <= batchSize, "batch of \(n) does not fit an executor planned for \(batchSize)")
        if !lanes.isEmpty { return forwardInLanes(input, count: n, rng: &rng) }
        if n <= passSize { return pass(input, count: n, nodes: 0...graph.output, rng: &rng) }
        let last = plan.segments.count - 1
        if n <= plan.segments[last].passSize { return run(segment: last, input, count: n, rng: &rng) }
        // A graph without a head ends in a segment of passes smaller than the batch.
        gather(segment: last, input, count: n, into: gathered.pointer, rng: &rng)
        return gathered.pointer
    }

    /// The graph through segment s's end on n <= its pass size samples: the earlier segments
    /// in passes of theirs, their outputs gathered, then segment s's nodes on all n.
    private func run(segment s: Int, _ input: UnsafePointer<Float>, count n: Int,
                     rng: inout SplitMix64) -> UnsafeMutablePointer<Float> {
        let segment = plan.segments[s]
        if s == 0 { return pass(input, count: n, nodes: 0...segment.end, rng: &rng) }
        let cut = plan.segments[s - 1].end
        gather(segment: s - 1, input, count: n, into: segmentOutputs[s - 1].pointer, rng: &rng)
        pointers[cut] = segmentOutputs[s - 1].pointer
        return pass(input, count: n, nodes: (cut + 1)...segment.end, rng: &rng)
    }

    /// Segment s's end outputs for n samples, run through it in passes of its size, `into` in order.
    private func gather(segment s: Int, _ input: UnsafePointer<Float>, count n: Int, into: UnsafeMutablePointer<Float>,
                        rng: inout SplitMix64) {
        let count = graph.nodes[plan.segments[s].end].outputShape.count
        var s0 = 0
        while s0 < n {
            let k = min(plan.segments[s].passSize, n - s0)
            let out = run(segment: s, input + s0 * inputCount, count: k, rng: &rng)
            (into + s0 * count).update(from: out, count: k * count)
            s0 += k
        }
    }

    /// One pass of `nodes` over n samples (no more than any of their segments' pass sizes).
    private func pass(_ input: UnsafePointer<Float>, count n: Int, nodes range: ClosedRange<Int>,
                      rng: inout SplitMix64) -> UnsafeMutablePointer<Float> {
        batch = n
        if !isLane { wholeBatch = n }
        if foldedVersion != model.version { foldBatchNorm() }
        for node in graph.nodes[range] {
            let id = node.id
            switch plan.steps[id] {
            case .skip: continue
            case .alias: pointers[id] = pointers[node.inputs[0]]; continue
            default: break
            }
            if case .input = node.operation {
                pointers[id] = UnsafeMutablePointer(mutating: input)
                continue
            }
            pointers[id] = buffers[plan.storage[id]!].pointer
            forwardNode(node, rng: &rng)
        }
        return pointers[range.upperBound]!
    }

    private func forwardNode(_ node: Node, rng: inout SplitMix64) {
        let id = node.id, n = batch
        let y = pointers[id]!
        func x(_ k: Int = 0) -> UnsafeMutablePointer<Float> { pointers[node.inputs[k]]! }
        let inShape = node.inputs.first.map { graph.nodes[$0].outputShape }
        let count = node.outputShape.count * n
        let s = model.slots(of: id)
        switch (node.operation, plan.steps[id]) {
        case (_, .block(let b)):
            runBlock(plan.blocks[b], y: y)
        case (.batchNorm, .foldedConv(let conv)):
            var g = geometry[conv]!; g.n = n
            let f = folded[id]!
            runConv(g, x: pointers[graph.nodes[conv].inputs[0]]!, weight: f.weight.pointer, winogradKernels: f.winograd?.pointer,
                    bias: f.bias.pointer, activation: plan.epilogue[id], y: y)
        case (.conv2d, _):
            var g = geometry[id]!; g.n = n
            runConv(g, x: x(), weight: s[0].value.pointer, bias: s.count > 1 ? s[1].value.pointer : nil,
                    activation: plan.epilogue[id], y: y)
        case (.batchNorm(let eps, let momentum), _):
            let rows = n * node.outputShape.height * node.outputShape.width, c = node.outputShape.channels
            if plan.inferenceMode[id] && plan.needsGrad[id] {  // frozen statistics in training
                BatchNorm.forwardFrozen(x: x(), rows: rows, channels: c, gamma: s[0].value.pointer, beta: s[1].value.pointer, eps: eps,
                                        runningMean: s[2].value.pointer, runningVar: s[3].value.pointer,
                                        activation: plan.epilogue[id], y: y)
            } else if plan.inferenceMode[id] {
                BatchNorm.forwardInference(x: x(), rows: rows, channels: c, gamma: s[0].value.pointer, beta: s[1].value.pointer,
                                           eps: eps, runningMean: s[2].value.pointer, runningVar: s[3].value.pointer, y: y)
            } else {
                let stats = batchStats[id]!.pointer
                let updatesRunning = laneIndex == 0
                BatchNorm.forwardTraining(x: x(), rows: rows, channels: c, gamma: s[0].value.pointer, beta: s[1].value.pointer,
                                          eps: eps, momentum: momentumOverride ?? momentum, runningMean: updatesRunning ? s[2].value.pointer : nil,
                                          runningVar: updatesRunning ? s[3].value.pointer : nil, mean: stats, invStd: stats + c,
                                          activation: plan.epilogue[id], y: y, allRows: momentsOfWholeBatch)
                if updatesRunning { s[4].value[0] += 1 }
            }
        case (.activation(let a), _):
            ActivationKernel.forward(a, x: x(), y: y, count: count)
        case (.add, _):
            Add.forward(a: x(0), b: x(1), y: y, count: count)
        case (.channelMultiply, _):
            let sh = node.outputShape
            ChannelMultiply.forward(x: x(0), scale: x(1), y: y, n: n, hw: sh.height * sh.width, c: sh.channels)
        case (.maxPool, _):
            var g = geometry[id]!; g.n = n
            MaxPool.forward(g, x: x(), y: y)
        case (.avgPool(let p), _):
            var g = geometry[id]!; g.n = n
            AvgPool.forward(g, p, x: x(), y: y)
        case (.globalAvgPool, _):
            GlobalAvgPool.forward(x: x(), y: y, n: n, hw: inShape!.height * inShape!.width, c: inShape!.channels)
        case (.dropout(let p), _), (.stochasticDepth(let p), _):
            let mask = masks[id]!.pointer
            let per = node.outputShape.count
            let perMask: Int
            if case .dropout = node.operation { perMask = 1 } else { perMask = per }
            DropMask.sample(p: p, mask: mask, count: n * per / perMask, rng: &rng)
            DropMask.apply(x: x(), mask: mask, y: y, n: n, per: per, perMask: perMask)
        case (.linear(let o, _), _):
            Linear.forward(x: x(), weight: s[0].value.pointer, bias: s.count > 1 ? s[1].value.pointer : nil,
                           y: y, n: n, f: inShape!.count, o: o)
        case (.concat, _):
            Concat.forward(node.inputs.indices.map { UnsafePointer(x($0)) }, channels: node.inputs.map { graph.nodes[$0].outputShape.channels },
                           y: y, rows: n * node.outputShape.height * node.outputShape.width)
        case (.narrow(let start, let length), _):
            Narrow.forward(x: x(), channels: inShape!.channels, start: start, length: length, y: y,
                           rows: n * node.outputShape.height * node.outputShape.width)
        case (.layerNorm(let eps), _):
            LayerNorm.forward(x: x(), rows: n * node.outputShape.height * node.outputShape.width, channels: node.outputShape.channels,
                              gamma: s[0].value.pointer, beta: s[1].value.pointer, eps: eps, y: y)
        case (.channelScale, _):
            ChannelScale.forward(x: x(), scale: s[0].value.pointer, y: y, rows: n * node.outputShape.height * node.outputShape.width,
                                 channels: node.outputShape.channels)
        case (.channelShuffle(let groups), _):
            ChannelShuffle.forward(x: x(), groups: groups, channels: node.outputShape.channels, y: y,
                                   rows: n * node.outputShape.height * node.outputShape.width)
        case (.input, _):
            break
        }
    }

    func runConv(_ g: ConvGeometry, x: UnsafePointer<Float>, weight: UnsafePointer<Float>, winogradKernels: UnsafePointer<Float>? = nil,
                 bias: UnsafePointer<Float>?, activation: Activation?, y: UnsafeMutablePointer<Float>) {
        if g.isDepthwise {
            DepthwiseConv2D.forward(g, x: x, weight: weight, bias: bias, activation: activation, y: y)
        } else {
            Conv2D.forward(g, x: x, weight: weight, winogradKernels: winogradKernels, bias: bias, activation: activation, y: y,
                           scratch: scratch.pointer)
        }
    }

    /// Folds each inference-mode BN into the convolution before it:
    /// w' = w * gamma / sqrt(var + eps) per output channel, b' = beta + (b - mean) * gamma / sqrt(var + eps).
    private func foldBatchNorm() {
        for pair in plan.foldedConvs {
            let node = graph.nodes[pair.bn], conv = pair.conv
            guard case .batchNorm(let eps, _) = node.operation else { continue }
            let cs = model.slots(of: conv), bn = model.slots(of: node.id)
            let oc = node.outputShape.channels
            let weight = cs[0].value, perOut = weight.count / oc
            let winograd = geometry[conv].map(WinogradConv3x3.applies) ?? false
            let f = folded[node.id] ?? (FloatBuffer(count: weight.count), FloatBuffer(count: oc),
                                        winograd ? FloatBuffer(count: WinogradConv3x3.transformedCount(geometry[conv]!)) : nil)
            let depthwise = model.isDepthwise(conv)
            for o in 0..<oc {
                let scale = bn[0].value[o] / (bn[3].value[o] + eps).squareRoot()
                let b = cs.count > 1 ? cs[1].value[o] : 0
                f.bias[o] = bn[1].value[o] + (b - bn[2].value[o]) * scale
                for k in 0..<perOut {
                    // OHWI: output channel is the slowest index; depthwise HWC: the fastest.
                    let i = depthwise ? k * oc + o : o * perOut + k
                    f.weight[i] = weight[i] * scale
                }
            }
            if let u = f.winograd { WinogradConv3x3.transform(f.weight.pointer, oc: oc, c: geometry[conv]!.c, into: u.pointer) }
            folded[node.id] = f
        }
        foldedVersion = model.version
    }
}
