// AugmentationSpace: the op lists and magnitude bins of TrivialAugmentWide and RandAugment, as
// torchvision's `_augmentation_space` builds them (transforms/autoaugment.py).
//
// Both list the same 14 ops in the same order; they differ in the ranges. The bins are Float32
// values as torch.linspace computes them on the CPU: start + step * i below the halfway index,
// end - step * (n - 1 - i) from it, each a fused multiply-add (as torch's kernels are built for
// x86-64 CPUs with AVX2 or AVX-512), so the magnitudes equal torchvision's bit for bit there;
// Posterize's bins are 8 - round(i / ((n - 1) / k)) (round half to even), k = 6 (wide) or 4.

/// For each op, the magnitudes it may take and whether a random sign flips them.
public struct AugmentationSpace: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var op: AutoAugmentOp
        /// Magnitude bins; empty for the ops without one (Identity, AutoContrast, Equalize).
        public var bins: [Float]
        /// Whether the magnitude is negated with probability 1/2.
        public var signed: Bool
    }

    public var entries: [Entry]

    /// TrivialAugmentWide's wide ranges: shear 0.99, translate 32 px, rotate 135 degrees, enhance
    /// 0.99, posterize down to 2 bits.
    public static func trivialAugmentWide(bins n: Int = 31) -> AugmentationSpace {
        space(bins: n, shear: 0.99, translate: (32, 32), rotate: 135, enhance: 0.99, posterizeSteps: 6)
    }

    /// RandAugment's ranges: shear 0.3, translate 150/331 of the side, rotate 30 degrees, enhance
    /// 0.9, posterize down to 4 bits. The translation depends on the image size.
    public static func randAugment(bins n: Int = 31, width: Int, height: Int) -> AugmentationSpace {
        space(bins: n, shear: 0.3, translate: (150.0 / 331.0 * Double(width), 150.0 / 331.0 * Double(height)),
              rotate: 30, enhance: 0.9, posterizeSteps: 4)
    }

    private static func space(bins n: Int, shear: Double, translate: (x: Double, y: Double), rotate: Double,
                              enhance: Double, posterizeSteps: Double) -> AugmentationSpace {
        precondition(n >= 2, "an augmentation space needs at least 2 magnitude bins")
        let divisor = Float(Double(n - 1) / posterizeSteps)
        let posterize = (0..<n).map { 8 - (Float($0) / divisor).rounded(.toNearestOrEven) }
        func entry(_ op: AutoAugmentOp, _ bins: [Float] = [], signed: Bool = true) -> Entry {
            Entry(op: op, bins: bins, signed: signed)
        }
        return AugmentationSpace(entries: [
            entry(.identity, signed: false),
            entry(.shearX, linspace(0, shear, n)), entry(.shearY, linspace(0, shear, n)),
            entry(.translateX, linspace(0, translate.x, n)), entry(.translateY, linspace(0, translate.y, n)),
            entry(.rotate, linspace(0, rotate, n)),
            entry(.brightness, linspace(0, enhance, n)), entry(.color, linspace(0, enhance, n)),
            entry(.contrast, linspace(0, enhance, n)), entry(.sharpness, linspace(0, enhance, n)),
            entry(.posterize, posterize, signed: false),
            entry(.solarize, linspace(255, 0, n), signed: false),
            entry(.autoContrast, signed: false), entry(.equalize, signed: false),
        ])
    }

    /// torch.linspace(start, end, n) in Float32 (n >= 2), with torch's fused multiply-adds.
    static func linspace(_ start: Double, _ end: Double, _ n: Int) -> [Float] {
        let a = Float(start), b = Float(end)
        let step = (b - a) / Float(n - 1)
        return (0..<n).map { i in i < n / 2 ? a.addingProduct(step, Float(i)) : b.addingProduct(-step, Float(n - 1 - i)) }
    }

    /// Applies `entry`'s op with bin `bin` (ignored for ops without bins), negated when `negative`
    /// and the op is signed.
    static func apply(_ entry: Entry, bin: Int, negative: Bool, to image: Image) -> Image {
        var magnitude = entry.bins.isEmpty ? 0 : Double(entry.bins[bin])
        if entry.signed && negative { magnitude = -magnitude }
        return entry.op.apply(image, magnitude: magnitude)
    }
}
