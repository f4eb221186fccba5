/// Stochastic gradient descent with momentum, optionally Nesterov, and L2 weight decay, with
/// PyTorch's `torch.optim.SGD` semantics:
///
///     g = grad + weightDecay * w;  v = momentum * v + g;  w -= lr * (nesterov ? g + momentum * v : v)
public final class SGD {
    public var momentum: Float
    public var nesterov: Bool
    public var weightDecay: Float
    private var velocity: [ObjectIdentifier: FloatBuffer] = [:]

    public init(momentum: Float = 0.9, nesterov: Bool = false, weightDecay: Float = 0) {
        self.momentum = momentum
        self.nesterov = nesterov
        self.weightDecay = weightDecay
    }

    /// Updates `slots` in place with learning rate `lr`.
    public func step(_ slots: [Model.Slot], lr: Float) {
        for slot in slots {
            guard let grad = slot.grad else { continue }
            let v = velocity[ObjectIdentifier(slot)] ?? {
                let b = FloatBuffer(count: slot.value.count)
                velocity[ObjectIdentifier(slot)] = b
                return b
            }()
            let w = slot.value.pointer, g = grad.pointer, vp = v.pointer
            let (m, wd, nest) = (momentum, weightDecay, nesterov)
            parallelFor(slot.value.count, minimumPerThread: 65536) { r in
                for i in r {
                    let gi = g[i] + wd * w[i]
                    vp[i] = m * vp[i] + gi
                    w[i] -= lr * (nest ? gi + m * vp[i] : vp[i])
                }
            }
        }
    }
}
