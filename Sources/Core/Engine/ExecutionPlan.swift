/// How one executor runs its graph in one mode: which nodes need gradients, which run in
/// inference mode, which convolutions absorb the BN after them, and which buffer each output
/// lives in. Made once per (batch size, mode, frozen groups) and reused for every step.
struct ExecutionPlan {
    /// What a node does when the plan runs it.
    enum Step {
        /// Computes its operation normally.
        case compute
        /// Nothing to do: a convolution folded into the BN node after it.
        case skip
        /// This BN node runs `conv` with BN folded into its weights, reading the conv's input.
        case foldedConv(conv: Int)
        /// Identity (dropout, stochastic depth in inference; an activation a convolution or
        /// batch norm applies): the output is the input's buffer.
        case alias
        /// Runs `blocks[index]`, an inverted-residual block fused in inference (ExecutionPlan+Blocks).
        case block(Int)

        var isAlias: Bool { if case .alias = self { true } else { false } }
    }

    /// A run of consecutive nodes that inference takes `passSize` samples at a time (see `segments`).
    struct Segment: Equatable {
        /// The segment's last node; the next segment reads nothing before it.
        let end: Int
        let passSize: Int
    }

    var steps: [Step]
    /// Inverted-residual blocks run as one step each (see ExecutionPlan+Blocks).
    var blocks: [Block]
    /// The graph in order, cut where nothing before a node is read after it. Without
    /// `passFloats`: one segment, the whole batch. With it, through `passEnd` (the backbone in
    /// inference, its frozen prefix in training), each segment's pass holds its
    /// largest activation within `passFloats` (one or a few samples in the early layers, where
    /// activations are large, up to the whole batch in the late ones, whose GEMMs then have
    /// rows enough to run near peak), a new segment starting where the pass size can at least
    /// double; the head, after the pooled features, takes the whole batch (its weights are read
    /// once, not once per pass). A segment's output for its successor's pass is gathered apart.
    var segments: [Segment]
    /// An activation a convolution (inference) or a batch norm (training) applies to its own
    /// output; the activation node is then an alias, and in training the batch norm's backward
    /// applies the activation's derivative.
    var epilogue: [Activation?]
    /// Training and on a path from a trainable parameter to the output.
    var needsGrad: [Bool]
    /// Trainable parameters of the node receive gradients.
    var trainable: [Bool]
    /// BN with running statistics, dropout and stochastic depth off. In training with
    /// `BatchNormMode.frozen`, also the backbone's BN nodes that need gradients (see BatchNorm+Frozen.swift).
    var inferenceMode: [Bool]
    /// The buffer id holding each node's output (after aliasing), nil for skipped nodes and the input.
    var storage: [Int?]
    /// Float count of each buffer id, for the largest batch.
    var bufferSizes: [Int]
    /// The gradient buffer id of each node that needs a gradient.
    var gradStorage: [Int?]
    var gradBufferSizes: [Int]

    /// - Parameters:
    ///   - training: plan a training step (gradients, batch statistics) or pure inference.
    ///   - frozenGroups: layer groups whose parameters get no gradients.
    ///   - batchNorm: in training, whether the backbone's batch norms that train normalise with
    ///     batch statistics or with their running ones (the head's always use batch statistics).
    ///   - passFloats: the largest activation one pass of the nodes that need no gradient may
    ///     hold (floats), or nil to run the whole batch through every node.
    init(graph: Graph, batchSize: Int, training: Bool, frozenGroups: Set<Int>, batchNorm: BatchNormMode = .train,
         passFloats: Int? = nil) {
        let nodes = graph.nodes
        let trainable = nodes.map { training && !$0.tensors.isEmpty && !frozenGroups.contains($0.group) }
        var needsGrad = Array(repeating: false, count: nodes.count)
        for node in nodes {
            needsGrad[node.id] = trainable[node.id] || node.inputs.contains { needsGrad[$0] }
        }
        let backboneEnd = graph.features ?? graph.output
        let inferenceMode = nodes.map { node in
            if case .batchNorm = node.operation, batchNorm == .frozen, node.id <= backboneEnd { return true }
            return !needsGrad[node.id]
        }
        var consumers = Array(repeating: [Int](), count: nodes.count)
        for node in nodes { for i in node.inputs { consumers[i].append(node.id) } }

        var steps = Array(repeating: Step.compute, count: nodes.count)
        for node in nodes where inferenceMode[node.id] {
            switch node.operation {
            case .batchNorm:
                let conv = node.inputs[0]
                if case .conv2d = nodes[conv].operation, inferenceMode[conv], !needsGrad[node.id], consumers[conv] == [node.id],
                   conv != graph.features {
                    steps[conv] = .skip
                    steps[node.id] = .foldedConv(conv: conv)
                }
            case .dropout, .stochasticDepth:
                steps[node.id] = .alias
            default: break
            }
        }

        // In inference, a ReLU/SiLU/... right after a convolution (or a BN folded into one) is
        // applied in the convolution's epilogue while its output is in cache.
        var epilogue = [Activation?](repeating: nil, count: nodes.count)
        for node in nodes where inferenceMode[node.id] {
            guard case .activation(let a) = node.operation else { continue }
            let p = node.inputs[0]
            let isConv: Bool
            switch (nodes[p].operation, steps[p]) {
            case (.conv2d, .compute), (.batchNorm, .foldedConv): isConv = true
            default: isConv = false
            }
            if isConv, inferenceMode[p], consumers[p] == [node.id], p != graph.features {
                epilogue[p] = a
                steps[node.id] = .alias
            }
        }
        // In training, a batch norm applies the activation after it as it normalises, and its
        // backward the activation's derivative: one pass over the data each way instead of two,
        // and the normalised values before the activation are never stored (frozen statistics or not).
        for node in nodes where !inferenceMode[node.id] {
            guard case .activation(let a) = node.operation else { continue }
            let p = node.inputs[0]
            if case .batchNorm = nodes[p].operation, needsGrad[p], consumers[p] == [node.id], p != graph.features {
                epilogue[p] = a
                steps[node.id] = .alias
            }
        }

        let blocks = Self.blocks(graph, steps: &steps, epilogue: epilogue, inferenceMode: inferenceMode,
                                 consumers: consumers)

        // Buffer assignment. A node's output is kept for the whole step when backward reads
        // it (the node or a consumer needs gradients); otherwise its buffer returns to the pool
        // after its last reader runs.
        let perSample = nodes.map { $0.outputShape.count }
        var owner = Array(0..<nodes.count)  // node whose buffer holds this node's output
        for node in nodes {
            if steps[node.id].isAlias { owner[node.id] = owner[node.inputs[0]] }
        }
        func reads(_ id: Int) -> [Int] {
            if case .foldedConv(let conv) = steps[id] { return nodes[conv].inputs }
            if case .block(let b) = steps[id] { return [blocks[b].input] }
            return nodes[id].inputs
        }
        let segments = Self.segments(graph, steps: steps, reads: reads, batchSize: batchSize, passFloats: passFloats,
                                     through: Self.passEnd(graph, needsGrad: needsGrad, reads: reads))
        var samples = Array(repeating: batchSize, count: nodes.count)
        var first = 0
        for segment in segments {
            for id in first...segment.end { samples[id] = segment.passSize }
            first = segment.end + 1
        }
        var lastRead = Array(repeating: -1, count: nodes.count)
        for node in nodes {
            switch steps[node.id] {
            case .skip, .alias: continue
            default: for i in reads(node.id) { lastRead[owner[i]] = max(lastRead[owner[i]], node.id) }
            }
        }
        for node in nodes where owner[node.id] != node.id {
            lastRead[owner[node.id]] = max(lastRead[owner[node.id]], lastRead[node.id])
        }
        lastRead[owner[graph.output]] = nodes.count  // the result outlives the step
        // Kept for backward: what a consumer's backward reads as its input, or a node's own
        // backward reads as its output. An alias keeps the buffer it shares (a fused
        // activation's backward, run by its batch norm, reads the output for ReLU-like ones).
        var kept = nodes.map { n in
            (needsGrad[n.id] && Self.backwardReadsOutput(n.operation))
                || consumers[n.id].contains { c in
                    needsGrad[c] && !steps[c].isAlias && Self.backwardReadsInput(nodes[c].operation, trainable: trainable[c])
                }
        }
        for node in nodes where owner[node.id] != node.id && kept[node.id] { kept[owner[node.id]] = true }

        var storage = [Int?](repeating: nil, count: nodes.count)
        var activations = BufferPool()
        for node in nodes {
            let id = node.id
            switch steps[id] {
            case .skip: continue
            case .alias: storage[id] = storage[owner[id]]; continue
            default: break
            }
            if case .input = node.operation { continue }  // reads the caller's memory
            storage[id] = activations.take(perSample[id] * samples[id], reuse: !kept[id])
            // Release what this node was the last to read.
            for i in reads(id) where lastRead[owner[i]] == id && !kept[owner[i]] {
                if let b = storage[owner[i]] { activations.release(b) }
            }
            if lastRead[id] < 0, !kept[id], id != graph.output, let b = storage[id] { activations.release(b) }
        }
        // Gradient buffers, live from the first consumer's backward (which writes the gradient)
        // to the node's own backward (the last to read it); backward runs in reverse order.
        var gradStorage = [Int?](repeating: nil, count: nodes.count)
        var gradients = BufferPool()
        if needsGrad[graph.output] { gradStorage[graph.output] = gradients.take(perSample[graph.output] * batchSize) }
        for node in nodes.reversed() where needsGrad[node.id] {
            if steps[node.id].isAlias {  // a fused activation: its batch norm reads the same gradient
                gradStorage[node.inputs[0]] = gradStorage[node.id]
                continue
            }
            for j in Set(node.inputs) where needsGrad[j] && consumers[j].max() == node.id {
                gradStorage[j] = gradients.take(perSample[j] * batchSize)
            }
            if let b = gradStorage[node.id] { gradients.release(b) }
        }

        self.steps = steps
        self.blocks = blocks
        self.segments = segments
        self.epilogue = epilogue
        self.gradStorage = gradStorage
        self.gradBufferSizes = gradients.sizes
        self.needsGrad = needsGrad
        self.trainable = trainable
        self.inferenceMode = inferenceMode
        self.storage = storage
        self.bufferSizes = activations.sizes
    }

    /// The last node passes may run through: the pooled features (the whole graph without a
    /// head) in inference; in training, the end of the frozen prefix that needs no gradient (a
    /// frozen backbone runs as in inference), cut where nothing after it reads a node before it;
    /// nil where the first node already needs a gradient.
    static func passEnd(_ graph: Graph, needsGrad: [Bool], reads: (Int) -> [Int]) -> Int? {
        let end = graph.features ?? graph.output
        let firstGrad = needsGrad.firstIndex(of: true) ?? graph.nodes.count
        if firstGrad > end { return end }
        var earliestRead = Int.max
        for k in stride(from: graph.nodes.count - 1, through: 1, by: -1) {
            earliestRead = min(earliestRead, reads(k).min() ?? k)
            if k <= firstGrad, earliestRead >= k - 1 { return k - 1 }
        }
        return nil
    }

    /// See `segments`. `reads(id)`: the nodes whose outputs node `id` reads when it runs.
    /// `through`: the last node passes may run through (`passEnd`); the rest takes the whole batch.
    static func segments(_ graph: Graph, steps: [Step], reads: (Int) -> [Int], batchSize: Int,
                         passFloats: Int?, through end: Int?) -> [Segment] {
        guard let passFloats, let end, end > 0 else { return [Segment(end: graph.output, passSize: batchSize)] }
        let nodes = graph.nodes
        func isSkipped(_ id: Int) -> Bool { if case .skip = steps[id] { true } else { false } }
        // From node k on: the largest output up to `end`, and the earliest node read.
        var largest = Array(repeating: 0, count: nodes.count + 1)
        var earliestRead = Array(repeating: Int.max, count: nodes.count + 1)
        for k in nodes.indices.reversed() {
            largest[k] = max(largest[k + 1], k <= end && !isSkipped(k) ? nodes[k].outputShape.count : 0)
            earliestRead[k] = min(earliestRead[k + 1], reads(k).min() ?? k)
        }
        func fitting(from k: Int) -> Int { max(1, min(batchSize, passFloats / max(largest[k], 1))) }
        var segments: [Segment] = []
        var size = fitting(from: 0)
        for k in 0..<end where !isSkipped(k) && earliestRead[k + 1] >= k && fitting(from: k + 1) >= 2 * size {
            segments.append(Segment(end: k, passSize: size))
            size = fitting(from: k + 1)
        }
        segments.append(Segment(end: end, passSize: size))
        if end != graph.output { segments.append(Segment(end: graph.output, passSize: batchSize)) }
        return segments
    }

    /// Whether a node's backward reads its input's values (to keep that output alive).
    static func backwardReadsInput(_ op: Operation, trainable: Bool) -> Bool {
        switch op {
        case .conv2d, .linear, .channelScale: return trainable  // for the weight gradient
        case .layerNorm: return true
        case .batchNorm, .channelMultiply, .maxPool: return true
        case .activation(let a): return a.derivativeReadsInput
        case .input, .add, .avgPool, .globalAvgPool, .dropout, .stochasticDepth, .concat, .narrow, .channelShuffle: return false
        }
    }

    /// Whether a node's backward reads its own output.
    static func backwardReadsOutput(_ op: Operation) -> Bool {
        switch op {
        case .activation(let a): return !a.derivativeReadsInput
        case .maxPool: return true
        default: return false
        }
    }
}

/// Buffer ids handed out best-fit from a free list; a reused buffer grows to its largest use.
struct BufferPool {
    /// Float count of each buffer id.
    private(set) var sizes: [Int] = []
    private var free: [Int] = []

    /// A buffer of at least `size` floats: a free one when `reuse` (the smallest that fits, else
    /// the largest, grown), or a new one.
    mutating func take(_ size: Int, reuse: Bool = true) -> Int {
        if reuse, let best = free.filter({ sizes[$0] >= size }).min(by: { sizes[$0] < sizes[$1] })
            ?? free.max(by: { sizes[$0] < sizes[$1] }) {
            free.removeAll { $0 == best }
            sizes[best] = max(sizes[best], size)
            return best
        }
        sizes.append(size)
        return sizes.count - 1
    }

    mutating func release(_ id: Int) {
        if !free.contains(id) { free.append(id) }
    }
}
