// RandAugment: N random ops at one fixed strength per image (Cubuk et al., "RandAugment:
// Practical automated data augmentation with a reduced search space", NeurIPS 2020,
// arXiv:1909.13719), as torchvision's RandAugment.
//
// Per image, `ops` times: an op uniform over the 14 of `AugmentationSpace.randAugment` (drawn
// with replacement), at bin `magnitude` of its bins, and for signed ops a sign uniform over +-.
// The translation range is 150/331 of the image side, so the space follows the image size.

/// torchvision's `RandAugment(num_ops, magnitude, num_magnitude_bins)`, nearest-neighbour, fill 0.
public struct RandAugment: RandomTransform {
    /// Ops applied to each image, one after the other.
    public var ops: Int
    /// The bin every op takes its magnitude from, in 0..<bins.
    public var magnitude: Int
    public var bins: Int

    /// - Parameters:
    ///   - ops: ops per image (torchvision's `num_ops`, default 2).
    ///   - magnitude: the magnitude bin (default 9).
    ///   - bins: magnitude bins per op (default 31).
    public init(ops: Int = 2, magnitude: Int = 9, bins: Int = 31) {
        precondition(ops >= 0 && bins >= 2 && (0..<bins).contains(magnitude),
                     "RandAugment needs ops >= 0 and a magnitude in 0..<bins")
        self.ops = ops
        self.magnitude = magnitude
        self.bins = bins
    }

    /// The ops and signs drawn for one image (the sign is false for unsigned ops).
    public func draw(using random: inout SeededRandom, space: AugmentationSpace) -> [(entry: AugmentationSpace.Entry, negative: Bool)] {
        (0..<ops).map { _ in
            let entry = space.entries[random.integer(0, space.entries.count - 1)]
            return (entry, entry.signed && random.integer(0, 1) == 1)
        }
    }

    public func apply(_ image: Image, using random: inout SeededRandom) -> Image {
        let space = AugmentationSpace.randAugment(bins: bins, width: image.width, height: image.height)
        var image = image
        for (entry, negative) in draw(using: &random, space: space) {
            image = AugmentationSpace.apply(entry, bin: magnitude, negative: negative, to: image)
        }
        return image
    }
}
