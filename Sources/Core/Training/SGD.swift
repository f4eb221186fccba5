/// Stochastic gradient descent with momentum, optionally Nesterov, and L2 weight decay, with
/// PyTorch's `torch.optim.SGD` semantics (dampening 0):
///
///     g = grad + weightDecay * w;  v = momentum * v + g;  w -= lr * (nesterov ? g + momentum * v : v)
///
/// The velocity `v` starts at zero, so the first step sets it to `g` as PyTorch does; with
/// `momentum == 0` no velocity is kept and the update is `w -= lr * g`.
public final class SGD: Optimizer {
    public let momentum: Float
    public let nesterov: Bool
    public let weightDecay: Float
    public var kind: String { "sgd" }
    public private(set) var stepCount = 0
    private var states: ParameterStates

    /// - Parameters:
    ///   - momentum: the velocity's decay; 0 for plain SGD.
    ///   - nesterov: use the Nesterov form of the update (needs `momentum > 0`).
    ///   - weightDecay: L2 penalty added to the gradient.
    public init(momentum: Float = 0.9, nesterov: Bool = false, weightDecay: Float = 0) {
        precondition(momentum >= 0 && weightDecay >= 0, "SGD momentum and weight decay must not be negative")
        precondition(!nesterov || momentum > 0, "Nesterov momentum requires a positive momentum")
        self.momentum = momentum
        self.nesterov = nesterov
        self.weightDecay = weightDecay
        states = ParameterStates(bufferNames: momentum > 0 ? ["momentum_buffer"] : [])
    }

    public func step(_ slots: [Model.Slot], lr: (Model.Slot) -> Float) {
        stepCount += 1
        for slot in slots {
            guard let grad = slot.grad else { continue }
            let entry = states.entry(slot)
            entry.step += 1
            let w = slot.value.pointer, g = grad.pointer, rate = lr(slot)
            let (m, wd, nest) = (momentum, weightDecay, nesterov)
            guard let v = entry.buffers.first?.pointer else {
                parallelFor(slot.value.count, minimumPerThread: 65536) { r in
                    for i in r { w[i] -= rate * (g[i] + wd * w[i]) }
                }
                continue
            }
            parallelFor(slot.value.count, minimumPerThread: 65536) { r in
                for i in r {
                    let gi = g[i] + wd * w[i]
                    v[i] = m * v[i] + gi
                    w[i] -= rate * (nest ? gi + m * v[i] : v[i])
                }
            }
        }
    }

    public func state() -> OptimizerState { states.state(kind: kind, stepCount: stepCount) }

    public func load(_ state: OptimizerState, for parameters: [Model.Slot]) throws {
        states = try ParameterStates.load(state, kind: kind, bufferNames: states.bufferNames, for: parameters)
        stepCount = state.stepCount
    }
}
