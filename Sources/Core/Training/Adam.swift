import Foundation

/// Adam (Kingma & Ba, "Adam: A Method for Stochastic Optimization", arXiv:1412.6980) and
/// AdamW (Loshchilov & Hutter, "Decoupled Weight Decay Regularization", arXiv:1711.05101),
/// with the semantics of PyTorch's `torch.optim.Adam` / `torch.optim.AdamW` (amsgrad off).
///
/// For a parameter `w` at its own step `t` (1 on its first update):
///
///     Adam:   g = grad + weightDecay * w          (L2 penalty in the gradient)
///     AdamW:  g = grad;  w *= 1 - lr * weightDecay (decoupled decay, applied first)
///     m = m + (1 - b1) * (g - m)                  (torch's lerp)
///     v = b2 * v + (1 - b2) * g * g
///     denom = sqrt(v) / sqrt(1 - b2^t) + eps
///     w -= lr / (1 - b1^t) * m / denom
///
/// `t` counts per parameter, as PyTorch's `state[p]["step"]`: a parameter first trained in
/// stage two starts its bias correction at `t = 1`. Scalars (bias corrections, step size) are
/// computed in Double and applied in Float, as PyTorch's Python-float hyperparameters are.
public final class Adam: Optimizer {
    public let beta1: Double
    public let beta2: Double
    public let eps: Float
    public let weightDecay: Float
    /// AdamW's decoupled weight decay instead of Adam's L2 penalty.
    public let decoupled: Bool
    public var kind: String { decoupled ? "adamw" : "adam" }
    public private(set) var stepCount = 0
    private var states = ParameterStates(bufferNames: ["exp_avg", "exp_avg_sq"])

    /// - Parameters:
    ///   - betas: decay rates of the first and second moments.
    ///   - eps: added to the bias-corrected root of the second moment.
    ///   - weightDecay: L2 penalty (Adam) or decoupled decay rate (AdamW). PyTorch's AdamW
    ///     defaults to 1e-2; this initialiser's default is 0 for both.
    ///   - decoupled: true for AdamW.
    public init(betas: (Double, Double) = (0.9, 0.999), eps: Float = 1e-8, weightDecay: Float = 0,
                decoupled: Bool = false) {
        precondition((0..<1).contains(betas.0) && (0..<1).contains(betas.1), "Adam betas must be in [0, 1)")
        precondition(eps >= 0 && weightDecay >= 0, "Adam eps and weight decay must not be negative")
        beta1 = betas.0
        beta2 = betas.1
        self.eps = eps
        self.weightDecay = weightDecay
        self.decoupled = decoupled
    }

    /// AdamW: Adam with decoupled weight decay.
    public static func adamW(betas: (Double, Double) = (0.9, 0.999), eps: Float = 1e-8,
                             weightDecay: Float = 1e-2) -> Adam {
        Adam(betas: betas, eps: eps, weightDecay: weightDecay, decoupled: true)
    }

    public func step(_ slots: [Model.Slot], lr: (Model.Slot) -> Float) {
        stepCount += 1
        for slot in slots {
            guard let grad = slot.grad else { continue }
            let entry = states.entry(slot)
            entry.step += 1
            let rate = Double(lr(slot)), t = Double(entry.step)
            let stepSize = Float(rate / (1 - pow(beta1, t)))
            let correction2 = Float((1 - pow(beta2, t)).squareRoot())
            let decay: Float = decoupled ? Float(1 - rate * Double(weightDecay)) : 1
            let l2: Float = decoupled ? 0 : weightDecay
            let (a1, b2, a2, e) = (Float(1 - beta1), Float(beta2), Float(1 - beta2), eps)
            let w = slot.value.pointer, g = grad.pointer
            let m = entry.buffers[0].pointer, v = entry.buffers[1].pointer
            parallelFor(slot.value.count, minimumPerThread: 32768) { r in
                for i in r {
                    w[i] *= decay
                    let gi = g[i] + l2 * w[i]
                    m[i] += a1 * (gi - m[i])
                    v[i] = v[i] * b2 + a2 * gi * gi
                    let denom = v[i].squareRoot() / correction2 + e
                    w[i] -= stepSize * (m[i] / denom)
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
