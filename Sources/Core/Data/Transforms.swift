// Transforms: the deterministic steps (Resize, CenterCrop, Normalize) and the random-transform
// protocol the augmentations conform to.
//
// Each mirrors the torchvision transform of the same name on PIL images (torchvision 0.2x,
// transforms/functional.py), including its rounding, so an evaluation pipeline gives the same
// pixels as `Resize(s) -> CenterCrop(c) -> ToTensor() -> Normalize(mean, std)`.

/// An augmentation: a random change to an 8-bit image, every choice drawn from `random`.
public protocol RandomTransform: Sendable {
    func apply(_ image: Image, using random: inout SeededRandom) -> Image
}

/// torchvision's `Resize(size)` with an int: the shorter side becomes `size`, the longer keeps the
/// aspect ratio (truncated, as torchvision's `int(size * long / short)`). Antialiased bilinear.
public struct Resize: Sendable {
    public var size: Int

    public init(size: Int) {
        precondition(size > 0, "Resize size must be positive")
        self.size = size
    }

    /// The output size for an input of `width` x `height` (positive). The longer side may be far
    /// larger than the input's when the aspect ratio is extreme: resize only a window of it
    /// (`Image.resized(width:height:from:window:)`), as `EvalTransform` does.
    public func outputSize(width: Int, height: Int) -> (width: Int, height: Int) {
        let short = min(width, height), long = max(width, height)
        // size * long is exact in Double below 2^53, as Python's int product is.
        let newLong = Int(Double(size) * Double(long) / Double(short))
        return width <= height ? (size, newLong) : (newLong, size)
    }

    public func apply(_ image: Image) -> Image {
        let out = outputSize(width: image.width, height: image.height)
        if out.width == image.width && out.height == image.height { return image }
        return image.resized(width: out.width, height: out.height)
    }
}

/// torchvision's `CenterCrop`: the offsets are `int(round((h - th) / 2.0))` (round half to even);
/// an image smaller than the crop is first padded with zeros as torchvision does.
public struct CenterCrop: Sendable {
    public var width: Int
    public var height: Int

    public init(width: Int, height: Int) {
        precondition(width > 0 && height > 0, "CenterCrop size must be positive")
        self.width = width
        self.height = height
    }

    public init(size: Int) { self.init(width: size, height: size) }

    /// The top-left corner of the crop in an image of `width` x `height` (no padding needed).
    public static func offset(length: Int, crop: Int) -> Int {
        Int((Double(length - crop) / 2.0).rounded(.toNearestOrEven))
    }

    /// Where the crop falls on an image of a given size: the part of the image it keeps, and the
    /// zero border added around that part on a side where the image is shorter than the crop.
    public struct Placement: Equatable, Sendable {
        public var window: Image.Box
        public var left = 0, top = 0, right = 0, bottom = 0
    }

    /// The placement on an image of `width` x `height`, as torchvision's `center_crop` (pad, then
    /// crop at the rounded centre offsets; on a padded side the crop takes the whole padded side).
    public func placement(width imageWidth: Int, height imageHeight: Int) -> Placement {
        func axis(_ length: Int, _ crop: Int) -> (start: Int, count: Int, before: Int, after: Int) {
            length >= crop ? (CenterCrop.offset(length: length, crop: crop), crop, 0, 0)
                : (0, length, (crop - length) / 2, (crop - length + 1) / 2)
        }
        let x = axis(imageWidth, width), y = axis(imageHeight, height)
        return Placement(window: Image.Box(x: x.start, y: y.start, width: x.count, height: y.count),
                         left: x.before, top: y.before, right: x.after, bottom: y.after)
    }

    public func apply(_ image: Image) -> Image {
        let p = placement(width: image.width, height: image.height)
        let w = p.window
        let kept = w.width == image.width && w.height == image.height ? image
            : image.cropped(x: w.x, y: w.y, width: w.width, height: w.height)
        return kept.padded(p)
    }
}

extension Image {
    /// The image inside the zero border of `placement` (itself when there is none).
    func padded(_ placement: CenterCrop.Placement) -> Image {
        let (left, top) = (placement.left, placement.top)
        if left == 0 && top == 0 && placement.right == 0 && placement.bottom == 0 { return self }
        let w = width + left + placement.right, h = height + top + placement.bottom
        var out = Image(width: w, height: h, channels: channels)
        for y in 0..<height {
            let from = y * rowStride, to = ((y + top) * w + left) * channels
            out.pixels.replaceSubrange(to..<to + rowStride, with: pixels[from..<from + rowStride])
        }
        return out
    }
}

/// torchvision's `ToTensor()` then `Normalize(mean, std)`: (x / 255 - mean) / std in Float32,
/// written as (H, W, 3) NHWC floats. Gray images are written as three equal channels.
public struct Normalize: Sendable {
    public let mean: [Float]
    public let std: [Float]
    /// The result for every channel and byte value, `table[c * 256 + v]`.
    private let table: [Float]

    /// ImageNet statistics, which every torchvision backbone was trained with.
    public static let imagenet = Normalize(mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225])

    public init(mean: [Float], std: [Float]) {
        precondition(mean.count == 3 && std.count == 3, "Normalize needs 3 means and 3 standard deviations")
        precondition(std.allSatisfy { $0 > 0 }, "Normalize std must be positive")
        self.mean = mean
        self.std = std
        var table = [Float](repeating: 0, count: 3 * 256)
        for c in 0..<3 {
            for v in 0..<256 { table[c * 256 + v] = (Float(v) / 255 - mean[c]) / std[c] }
        }
        self.table = table
    }

    /// Writes `image` as `image.height * image.width * 3` floats, (H, W, 3) row-major, at `output`.
    public func write(_ image: Image, to output: UnsafeMutablePointer<Float>) {
        let count = image.width * image.height
        table.withUnsafeBufferPointer { t in
            image.pixels.withUnsafeBufferPointer { p in
                if image.channels == 3 {
                    for i in 0..<count {
                        output[3 * i] = t[Int(p[3 * i])]
                        output[3 * i + 1] = t[256 + Int(p[3 * i + 1])]
                        output[3 * i + 2] = t[512 + Int(p[3 * i + 2])]
                    }
                } else {
                    for i in 0..<count {
                        let v = Int(p[i])
                        output[3 * i] = t[v]
                        output[3 * i + 1] = t[256 + v]
                        output[3 * i + 2] = t[512 + v]
                    }
                }
            }
        }
    }

    /// The normalised floats of `image`, (H, W, 3).
    public func callAsFunction(_ image: Image) -> [Float] {
        [Float](unsafeUninitializedCapacity: image.width * image.height * 3) { buffer, count in
            write(image, to: buffer.baseAddress!)
            count = image.width * image.height * 3
        }
    }
}

/// torchvision's `RandomHorizontalFlip(p)`: mirror left-right with probability `p`.
public struct RandomHorizontalFlip: RandomTransform {
    public var probability: Double
    public init(probability: Double = 0.5) { self.probability = probability }
    public func apply(_ image: Image, using random: inout SeededRandom) -> Image {
        random.chance(probability) ? image.flippedHorizontally() : image
    }
}

/// torchvision's `RandomVerticalFlip(p)`: turn upside down with probability `p`.
public struct RandomVerticalFlip: RandomTransform {
    public var probability: Double
    public init(probability: Double = 0.5) { self.probability = probability }
    public func apply(_ image: Image, using random: inout SeededRandom) -> Image {
        random.chance(probability) ? image.flippedVertically() : image
    }
}
