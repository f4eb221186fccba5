// RandomErasing: a random rectangle of the normalised sample set to 0 (Zhong et al., "Random
// Erasing Data Augmentation", AAAI 2020, arXiv:1708.04896), as torchvision's
// RandomErasing(p, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=0).
//
// It runs on the normalised Float32 output (after Normalize), as torchvision's does on the
// tensor, so the erased pixels are 0 after normalisation (the mean colour), not black. The box
// is chosen as torchvision's `get_params`: up to 10 tries of an area fraction uniform in `scale`
// and an aspect ratio h/w log-uniform in `ratio`, h = round(sqrt(area * ratio)) and
// w = round(sqrt(area / ratio)) (half to even), kept when h < height and w < width; if every
// try fails nothing is erased.

import Foundation

/// torchvision's `RandomErasing(p, scale, ratio, value=0)` on a (H, W, 3) Float32 sample.
public struct RandomErasing: Sendable {
    /// Chance that a sample is erased at all.
    public var probability: Double
    /// Fraction of the image area the box covers.
    public var scale: ClosedRange<Double>
    /// Height / width of the box.
    public var ratio: ClosedRange<Double>

    /// - Parameters:
    ///   - probability: chance of erasing, in [0, 1].
    ///   - scale: area fraction range, default torchvision's 0.02...0.33.
    ///   - ratio: aspect ratio (h / w) range, default torchvision's 0.3...3.3.
    public init(probability: Double, scale: ClosedRange<Double> = 0.02...0.33, ratio: ClosedRange<Double> = 0.3...3.3) {
        precondition((0...1).contains(probability), "RandomErasing probability must lie in [0, 1]")
        precondition(scale.lowerBound >= 0 && scale.upperBound <= 1, "RandomErasing scale must lie in [0, 1]")
        precondition(ratio.lowerBound > 0, "RandomErasing ratio must be positive")
        self.probability = probability
        self.scale = scale
        self.ratio = ratio
    }

    /// The box to erase in a `width` x `height` sample, or nil (not chosen, or no try fitted).
    public func box(width: Int, height: Int, using random: inout SeededRandom) -> Image.Box? {
        guard random.chance(probability) else { return nil }
        let area = Double(width * height)
        let logRatio = (log(ratio.lowerBound), log(ratio.upperBound))
        for _ in 0..<10 {
            let eraseArea = area * random.uniform(scale.lowerBound, scale.upperBound)
            let aspect = exp(random.uniform(logRatio.0, logRatio.1))
            let h = Int((eraseArea * aspect).squareRoot().rounded(.toNearestOrEven))
            let w = Int((eraseArea / aspect).squareRoot().rounded(.toNearestOrEven))
            guard h < height && w < width else { continue }
            let top = random.integer(0, height - h)
            let left = random.integer(0, width - w)
            return Image.Box(x: left, y: top, width: w, height: h)
        }
        return nil
    }

    /// Sets `box` of the (height, width, 3) floats at `output` to 0 (torchvision's `F.erase`).
    public static func erase(_ box: Image.Box, in output: UnsafeMutablePointer<Float>, width: Int) {
        for y in box.y..<(box.y + box.height) {
            (output + (y * width + box.x) * 3).update(repeating: 0, count: box.width * 3)
        }
    }

    /// Draws a box and erases it from the (height, width, 3) floats at `output`.
    public func apply(to output: UnsafeMutablePointer<Float>, width: Int, height: Int, using random: inout SeededRandom) {
        if let box = box(width: width, height: height, using: &random) {
            RandomErasing.erase(box, in: output, width: width)
        }
    }
}
