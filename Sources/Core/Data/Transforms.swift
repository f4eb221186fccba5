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

    /// The output size for an input of `width` x `height`.
    public func outputSize(width: Int, height: Int) -> (width: Int, height: Int) {
        let short = min(width, height), long = max(width, height)
        let newLong = Int(Double(size * long) / Double(short))
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

    public func apply(_ image: Image) -> Image {
        var image = image
        if width > image.width || height > image.height {
            image = image.padded(left: max(width - image.width, 0) / 2, top: max(height - image.height, 0) / 2,
                                 right: (max(width - image.width, 0) + 1) / 2,
                                 bottom: (max(height - image.height, 0) + 1) / 2)
        }
        if image.width == width && image.height == height { return image }
        return image.cropped(x: CenterCrop.offset(length: image.width, crop: width),
                             y: CenterCrop.offset(length: image.height, crop: height), width: width, height: height)
    }
}

extension Image {
    /// The image inside a zero border of the given widths.
    func padded(left: Int, top: Int, right: Int, bottom: Int) -> Image {
        let w = width + left + right, h = height + top + bottom
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
