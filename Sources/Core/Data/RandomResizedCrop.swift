// RandomResizedCrop: the standard ImageNet training crop (Szegedy et al., "Going deeper with
// convolutions", 2015; torchvision.transforms.RandomResizedCrop).
//
// A box covering a random fraction `scale` of the image area with a random aspect ratio drawn
// log-uniformly from `ratio` is cut out and resized to the output size (antialiased bilinear).
// The box is chosen as torchvision's `get_params` does: up to 10 tries, then a central crop
// clamped to the ratio range. Python's round (half to even) is kept.

import Foundation

/// torchvision's `RandomResizedCrop(size, scale, ratio)`.
public struct RandomResizedCrop: RandomTransform {
    public var width: Int
    public var height: Int
    /// Fraction of the image area the box covers.
    public var scale: ClosedRange<Double>
    /// Width / height of the box, before resizing.
    public var ratio: ClosedRange<Double>

    /// - Parameters:
    ///   - size: output side (square output).
    ///   - scale: area fraction range, default torchvision's 0.08...1.
    ///   - ratio: aspect ratio range, default torchvision's 3/4...4/3.
    public init(size: Int, scale: ClosedRange<Double> = 0.08...1.0, ratio: ClosedRange<Double> = (3.0 / 4.0)...(4.0 / 3.0)) {
        precondition(size > 0, "RandomResizedCrop size must be positive")
        precondition(scale.lowerBound > 0 && scale.upperBound <= 1, "RandomResizedCrop scale must lie in (0, 1]")
        precondition(ratio.lowerBound > 0, "RandomResizedCrop ratio must be positive")
        self.width = size
        self.height = size
        self.scale = scale
        self.ratio = ratio
    }

    /// The crop box for an image of `width` x `height` (torchvision's `get_params`).
    public func box(width: Int, height: Int, using random: inout SeededRandom) -> Image.Box {
        let area = Double(width * height)
        let logRatio = (log(ratio.lowerBound), log(ratio.upperBound))
        for _ in 0..<10 {
            let targetArea = area * random.uniform(scale.lowerBound, scale.upperBound)
            let aspect = exp(random.uniform(logRatio.0, logRatio.1))
            let w = Int((targetArea * aspect).squareRoot().rounded(.toNearestOrEven))
            let h = Int((targetArea / aspect).squareRoot().rounded(.toNearestOrEven))
            if w > 0 && w <= width && h > 0 && h <= height {
                let top = random.integer(0, height - h)
                let left = random.integer(0, width - w)
                return Image.Box(x: left, y: top, width: w, height: h)
            }
        }
        // Fallback: a central crop with the ratio clamped into range.
        let inRatio = Double(width) / Double(height)
        var w = width, h = height
        if inRatio < ratio.lowerBound {
            h = Int((Double(w) / ratio.lowerBound).rounded(.toNearestOrEven))
        } else if inRatio > ratio.upperBound {
            w = Int((Double(h) * ratio.upperBound).rounded(.toNearestOrEven))
        }
        return Image.Box(x: (width - w) / 2, y: (height - h) / 2, width: w, height: h)
    }

    public func apply(_ image: Image, using random: inout SeededRandom) -> Image {
        let box = box(width: image.width, height: image.height, using: &random)
        return image.resized(width: width, height: height, from: box)
    }

    /// The size a decoder must deliver for `box` (chosen on a `fullWidth` x `fullHeight` image)
    /// to still cover the output at full resolution: the DCT-downscaling budget.
    func neededSize(for box: Image.Box, fullWidth: Int, fullHeight: Int) -> (width: Int, height: Int) {
        ((fullWidth * width + box.width - 1) / box.width, (fullHeight * height + box.height - 1) / box.height)
    }
}

extension Image.Box {
    /// This box, chosen on an image of `from`, moved onto the same picture decoded at size `to`.
    func scaled(from: (width: Int, height: Int), to: (width: Int, height: Int)) -> Image.Box {
        if from == to { return self }
        func map(_ start: Int, _ length: Int, _ old: Int, _ new: Int) -> (Int, Int) {
            let factor = Double(new) / Double(old)
            let a = min(max(Int((Double(start) * factor).rounded()), 0), new - 1)
            let b = min(max(Int((Double(start + length) * factor).rounded()), a + 1), new)
            return (a, b - a)
        }
        let (x, w) = map(x, width, from.width, to.width)
        let (y, h) = map(y, height, from.height, to.height)
        return Image.Box(x: x, y: y, width: w, height: h)
    }
}
