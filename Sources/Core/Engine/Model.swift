import Foundation

/// A graph's tensors in the layouts the kernels use, with a gradient for every parameter.
///
/// Files keep torchvision's names and layouts; this type is the boundary that transposes:
/// convolution weights are OIHW in files, OHWI here ((kh, kw, c) for depthwise); linear
/// weights are (out, in) in both. `num_batches_tracked` is kept as a Float.
public final class Model: @unchecked Sendable {
    public let graph: Graph

    /// A named tensor: a trainable parameter (with its gradient) or a buffer (no gradient).
    public final class Slot: @unchecked Sendable {
        public let spec: TensorSpec
        public let node: Int
        public let group: Int
        public let value: FloatBuffer
        /// Nil for buffers.
        public let grad: FloatBuffer?
        init(spec: TensorSpec, node: Int, group: Int) {
            self.spec = spec; self.node = node; self.group = group
            value = FloatBuffer(count: spec.count)
            grad = spec.kind == .parameter ? FloatBuffer(count: spec.count) : nil
        }
    }

    /// Every tensor in graph order; `slots(of:)` gives one node's, in its TensorSpec order.
    public let slots: [Slot]
    private let slotsByNode: [[Int]]
    private let slotIndex: [String: Int]
    /// Bumped whenever values change outside training steps (loads, initialisation), so cached
    /// derived weights (BN folded into convolutions) are rebuilt.
    public private(set) var version = 0
    /// The memory of the values and gradients, held for the model's lifetime.
    private let reservation: MemoryReservation

    /// Allocates every tensor of `graph` (zeros; BN as `resetBatchNorm`). Throws `MemoryError`
    /// before allocating when the values and gradients need more memory than the machine has.
    public init(graph: Graph) throws {
        reservation = try MemoryBudget.reserve(floats: Self.floatCount(graph),
                                               what: "the model's weights and their gradients",
                                               hint: "use a narrower --head, fewer classes or a smaller backbone")
        self.graph = graph
        var slots: [Slot] = [], byNode: [[Int]] = []
        for node in graph.nodes {
            byNode.append(node.tensors.map { spec in
                slots.append(Slot(spec: spec, node: node.id, group: node.group))
                return slots.count - 1
            })
        }
        self.slots = slots
        slotsByNode = byNode
        slotIndex = Dictionary(uniqueKeysWithValues: slots.enumerated().map { ($1.spec.name, $0) })
        resetBatchNorm()
    }

    /// Floats `init(graph:)` allocates: each tensor's values, and a gradient per parameter; nil on overflow.
    static func floatCount(_ graph: Graph) -> Int? {
        MemoryBudget.total(graph.nodes.flatMap(\.tensors).map { spec in
            CheckedSize.product(of: spec.shape).flatMap { CheckedSize.product($0, spec.kind == .parameter ? 2 : 1) }
        })
    }

    public func slots(of node: Int) -> [Slot] { slotsByNode[node].map { slots[$0] } }
    public var parameters: [Slot] { slots.filter { $0.grad != nil } }
    public func slot(named name: String) -> Slot? { slotIndex[name].map { slots[$0] } }

    public func markChanged() { version += 1 }

    public func zeroGradients() {
        for s in slots { s.grad?.zero() }
    }

    /// Sets a tensor from values in the file layout (torchvision's).
    public func setTensor(_ name: String, fileLayout values: UnsafeBufferPointer<Float>) throws {
        guard let slot = slot(named: name) else { throw ModelError.unknownTensor(name) }
        guard values.count == slot.spec.count else {
            throw ModelError.shapeMismatch(name: name, expected: slot.spec.shape, count: values.count)
        }
        let layout = kernelLayout(slot)
        for (i, v) in values.enumerated() { slot.value[layout(i)] = v }
        markChanged()
    }

    /// A tensor's values in the file layout.
    public func tensor(_ name: String) throws -> [Float] {
        guard let slot = slot(named: name) else { throw ModelError.unknownTensor(name) }
        let layout = kernelLayout(slot)
        return (0..<slot.spec.count).map { slot.value[layout($0)] }
    }

    /// Maps a file-layout index to the kernel-layout index for this tensor.
    func kernelLayout(_ slot: Slot) -> (Int) -> Int {
        let shape = slot.spec.shape
        guard case .conv2d = graph.nodes[slot.node].operation, shape.count == 4, slot.spec.name.hasSuffix(".weight") else {
            return { $0 }
        }
        let (o, i, kh, kw) = (shape[0], shape[1], shape[2], shape[3])
        if i == 1, isDepthwise(slot.node) {
            // (c, 1, kh, kw) -> (kh, kw, c)
            return { f in let c = f / (kh * kw), k = f % (kh * kw); return k * o + c }
        }
        // (o, i, kh, kw) -> (o, kh, kw, i)
        return { f in
            let oo = f / (i * kh * kw), r = f % (i * kh * kw), ii = r / (kh * kw), k = r % (kh * kw)
            return (oo * kh * kw + k) * i + ii
        }
    }

    func isDepthwise(_ node: Int) -> Bool {
        guard case .conv2d(let p) = graph.nodes[node].operation else { return false }
        let c = graph.nodes[graph.nodes[node].inputs[0]].outputShape.channels
        return p.groups > 1 && p.groups == c && p.groups == p.outChannels
    }

    /// BN: weight 1, bias 0, running mean 0, running variance 1, as PyTorch's.
    func resetBatchNorm() {
        for node in graph.nodes {
            guard case .batchNorm = node.operation else { continue }
            let s = slots(of: node.id)
            s[0].value.pointer.update(repeating: 1, count: s[0].value.count)
            s[1].value.zero()
            s[2].value.zero()
            s[3].value.pointer.update(repeating: 1, count: s[3].value.count)
            s[4].value.zero()
        }
    }

    /// Random initialisation as torchvision's backbones do: convolutions He-normal (fan_out),
    /// biases zero, BN and layer norm identity, a channel scale at its initial value; linear
    /// layers uniform(+-1/sqrt(in)) as PyTorch's default.
    public func initialize(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        resetBatchNorm()
        for node in graph.nodes {
            let s = slots(of: node.id)
            switch node.operation {
            case .conv2d(let p):
                let fanOut = Float(p.outChannels * p.kernel.h * p.kernel.w / p.groups)
                let std = (2 / fanOut).squareRoot()
                for i in 0..<s[0].value.count { s[0].value[i] = std * rng.nextGaussian() }
                if s.count > 1 { s[1].value.zero() }
            case .linear:
                let bound = 1 / Float(s[0].spec.shape[1]).squareRoot()
                for t in s { for i in 0..<t.value.count { t.value[i] = (rng.nextFloat() * 2 - 1) * bound } }
            case .layerNorm:
                for i in 0..<s[0].value.count { s[0].value[i] = 1 }
                s[1].value.zero()
            case .channelScale(let initial):
                for i in 0..<s[0].value.count { s[0].value[i] = initial }
            default: break
            }
        }
        markChanged()
    }
}

extension SplitMix64 {
    /// Standard normal (Box-Muller).
    public mutating func nextGaussian() -> Float {
        let u1 = max(nextFloat(), 1e-7), u2 = nextFloat()
        return (-2 * logf(u1)).squareRoot() * cosf(2 * .pi * u2)
    }
}

public enum ModelError: Error, CustomStringConvertible {
    case unknownTensor(String)
    case shapeMismatch(name: String, expected: [Int], count: Int)

    public var description: String {
        switch self {
        case .unknownTensor(let name): return "the model has no tensor '\(name)'"
        case .shapeMismatch(let name, let expected, let count):
            return "tensor '\(name)': expected shape \(expected) (\(expected.reduce(1, *)) values), got \(count) values"
        }
    }
}
