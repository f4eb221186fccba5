// TrivialAugment: one random op at one random strength per image (Müller and Hutter,
// "TrivialAugment: Tuning-free Yet State-of-the-Art Data Augmentation", ICCV 2021,
// arXiv:2103.10158), as torchvision's TrivialAugmentWide.
//
// Per image: an op uniform over the 14 of `AugmentationSpace.trivialAugmentWide`, a magnitude bin
// uniform over its 31 bins, and for signed ops a sign uniform over +-, drawn in that order.

/// torchvision's `TrivialAugmentWide(num_magnitude_bins=31)`, nearest-neighbour, fill 0.
public struct TrivialAugmentWide: RandomTransform {
    public let space: AugmentationSpace

    /// - Parameter bins: magnitude bins per op (torchvision's `num_magnitude_bins`, default 31).
    public init(bins: Int = 31) {
        space = .trivialAugmentWide(bins: bins)
    }

    /// The op, bin and sign drawn for one image.
    public func draw(using random: inout SeededRandom) -> (entry: AugmentationSpace.Entry, bin: Int, negative: Bool) {
        let entry = space.entries[random.integer(0, space.entries.count - 1)]
        let bin = entry.bins.isEmpty ? 0 : random.integer(0, entry.bins.count - 1)
        let negative = entry.signed && random.integer(0, 1) == 1
        return (entry, bin, negative)
    }

    public func apply(_ image: Image, using random: inout SeededRandom) -> Image {
        let (entry, bin, negative) = draw(using: &random)
        return AugmentationSpace.apply(entry, bin: bin, negative: negative, to: image)
    }
}
