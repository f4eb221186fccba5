/// A first-order optimiser that updates `Model.Slot` values in place from their gradients.
///
/// Semantics follow `torch.optim` with one parameter group per distinct learning rate:
/// - each parameter gets its own learning rate from the `lr` closure (discriminative
///   fine-tuning: backbone slots `lr * 0.1`, head slots `lr`);
/// - state is per parameter and keyed by the slot's name, so a parameter not passed to a step
///   (frozen in this stage) keeps its moments and step count, and one passed for the first time
///   (unfrozen in stage two) starts fresh, as a PyTorch parameter whose `grad` was `None`;
/// - `state()` / `load(_:for:)` save and restore everything a resumed run needs.
public protocol Optimizer: AnyObject {
    /// `"sgd"`, `"adam"` or `"adamw"`; recorded in the saved state and checked on load.
    var kind: String { get }
    /// Number of `step` calls so far.
    var stepCount: Int { get }
    /// Updates every slot with a gradient, in place.
    /// - Parameters:
    ///   - slots: the trainable parameters of this step; buffers (no gradient) are skipped.
    ///   - lr: the learning rate of each slot.
    func step(_ slots: [Model.Slot], lr: (Model.Slot) -> Float)
    /// A copy of the optimiser's state.
    func state() -> OptimizerState
    /// Replaces the state with `state`, checked against the model's parameters.
    /// - Throws: `OptimizerStateError` naming the first tensor or field that does not fit.
    func load(_ state: OptimizerState, for parameters: [Model.Slot]) throws
}

extension Optimizer {
    /// Updates every slot with the same learning rate.
    public func step(_ slots: [Model.Slot], lr: Float) { step(slots, lr: { _ in lr }) }
}

/// An optimiser's saved state: per-parameter buffers in PyTorch's names, per-parameter step
/// counts, and the number of steps taken. Buffers are in the kernel layout of `Model.Slot`.
/// Saved as `optimizer.safetensors` in a run folder (see `OptimizerState+File.swift`).
public struct OptimizerState: Equatable, Sendable {
    /// The state of one parameter, as `optimizer.state[p]` in PyTorch.
    public struct Parameter: Equatable, Sendable {
        /// How many updates this parameter has had (Adam's bias correction uses it).
        public var step: Int
        /// `"momentum_buffer"` (SGD), `"exp_avg"` and `"exp_avg_sq"` (Adam, AdamW).
        public var buffers: [String: [Float]]

        public init(step: Int, buffers: [String: [Float]]) {
            self.step = step
            self.buffers = buffers
        }
    }

    public var kind: String
    public var stepCount: Int
    /// Keyed by slot name (`layer4.1.conv2.weight`).
    public var parameters: [String: Parameter]

    public init(kind: String, stepCount: Int, parameters: [String: Parameter]) {
        self.kind = kind
        self.stepCount = stepCount
        self.parameters = parameters
    }
}

public enum OptimizerStateError: Error, CustomStringConvertible, Equatable {
    case kindMismatch(saved: String, expected: String)
    case unknownParameter(String)
    case missingBuffer(parameter: String, buffer: String)
    case unexpectedBuffer(parameter: String, buffer: String)
    case sizeMismatch(parameter: String, buffer: String, expected: Int, count: Int)

    public var description: String {
        switch self {
        case .kindMismatch(let saved, let expected):
            return "optimizer state was saved by \(saved), this run uses \(expected) — resume with --optimizer \(saved)"
        case .unknownParameter(let name):
            return "optimizer state has \(name), which is not a trainable parameter of this model — "
                + "resume with the same backbone and head"
        case .missingBuffer(let p, let b):
            return "optimizer state of \(p) has no \(b)"
        case .unexpectedBuffer(let p, let b):
            return "optimizer state of \(p) has an unexpected \(b)"
        case .sizeMismatch(let p, let b, let expected, let count):
            return "optimizer state \(p).\(b) has \(count) values, the parameter has \(expected) — "
                + "resume with the same backbone and head"
        }
    }
}

/// Per-parameter buffers and step counts keyed by slot name, shared by the optimisers.
struct ParameterStates {
    final class Entry {
        var step = 0
        let buffers: [FloatBuffer]
        init(buffers: [FloatBuffer]) { self.buffers = buffers }
    }

    /// Buffer names in the order of `Entry.buffers`.
    let bufferNames: [String]
    private(set) var entries: [String: Entry] = [:]

    init(bufferNames: [String]) { self.bufferNames = bufferNames }

    /// The entry of `slot`, created with zeroed buffers on its first step.
    mutating func entry(_ slot: Model.Slot) -> Entry {
        if let e = entries[slot.spec.name] { return e }
        let e = Entry(buffers: bufferNames.map { _ in FloatBuffer(count: slot.value.count) })
        entries[slot.spec.name] = e
        return e
    }

    func state(kind: String, stepCount: Int) -> OptimizerState {
        OptimizerState(kind: kind, stepCount: stepCount, parameters: entries.mapValues { e in
            OptimizerState.Parameter(step: e.step, buffers: Dictionary(uniqueKeysWithValues:
                zip(bufferNames, e.buffers.map(\.array))))
        })
    }

    /// Entries decoded from `state`, every name and size checked against `parameters`.
    static func load(_ state: OptimizerState, kind: String, bufferNames: [String],
                     for parameters: [Model.Slot]) throws -> ParameterStates {
        guard state.kind == kind else { throw OptimizerStateError.kindMismatch(saved: state.kind, expected: kind) }
        let sizes = Dictionary(parameters.map { ($0.spec.name, $0.value.count) }, uniquingKeysWith: { a, _ in a })
        var result = ParameterStates(bufferNames: bufferNames)
        for name in state.parameters.keys.sorted() {
            let saved = state.parameters[name]!
            guard let count = sizes[name] else { throw OptimizerStateError.unknownParameter(name) }
            if let extra = saved.buffers.keys.sorted().first(where: { !bufferNames.contains($0) }) {
                throw OptimizerStateError.unexpectedBuffer(parameter: name, buffer: extra)
            }
            let buffers = try bufferNames.map { b -> FloatBuffer in
                guard let values = saved.buffers[b] else {
                    throw OptimizerStateError.missingBuffer(parameter: name, buffer: b)
                }
                guard values.count == count else {
                    throw OptimizerStateError.sizeMismatch(parameter: name, buffer: b, expected: count, count: values.count)
                }
                return FloatBuffer(values)
            }
            let e = Entry(buffers: buffers)
            e.step = saved.step
            result.entries[name] = e
        }
        return result
    }
}
