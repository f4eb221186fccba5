import Foundation

/// Gradient clipping by total norm (`--clip-grad`), as PyTorch's
/// `torch.nn.utils.clip_grad_norm_(parameters, max_norm, norm_type=2)`: the L2 norm of all the
/// gradients taken as one vector, and when it is over `maxNorm` every gradient scaled by
/// `maxNorm / (norm + 1e-6)`. Applied to the step's whole gradient (after accumulation), before
/// the optimiser's step.
enum GradientClipping {
    /// Added to the norm before dividing, as torch does.
    static let epsilon: Float = 1e-6

    /// The L2 norm of the gradients of `slots` together, summed in Double.
    static func totalNorm(_ slots: [Model.Slot]) -> Double {
        var sum = 0.0
        for slot in slots {
            let g = slot.grad!.pointer
            for i in 0..<slot.grad!.count { sum += Double(g[i]) * Double(g[i]) }
        }
        return sum.squareRoot()
    }

    /// Scales the gradients of `slots` so their total norm is at most `maxNorm` (about: the
    /// epsilon leaves it just under); returns the norm before clipping.
    @discardableResult
    static func clip(_ slots: [Model.Slot], maxNorm: Float) -> Double {
        let norm = totalNorm(slots)
        let scale = maxNorm / (Float(norm) + epsilon)
        guard scale < 1 else { return norm }
        for slot in slots {
            let g = slot.grad!.pointer
            for i in 0..<slot.grad!.count { g[i] *= scale }
        }
        return norm
    }
}
