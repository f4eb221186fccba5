// ColorJitter: random brightness, contrast and saturation, as torchvision's
// ColorJitter(brightness, contrast, saturation) on PIL images (hue is not offered).
//
// Each factor is uniform in [max(0, 1 - v), 1 + v]; the three adjustments run in a random
// order. Each is PIL's ImageEnhance: a blend `degenerate + f * (image - degenerate)` in Float32,
// truncated and clamped to 0...255 (Pillow's ImagingBlend), where the degenerate image is black
// (brightness), the mean gray level (contrast) or the image's own gray version (saturation).
// Gray is PIL's "L": (19595 R + 38470 G + 7471 B + 32768) >> 16.

/// torchvision's `ColorJitter(brightness, contrast, saturation)`.
public struct ColorJitter: RandomTransform {
    public var brightness: Double
    public var contrast: Double
    public var saturation: Double

    /// - Parameters: each the half-width `v` of the factor range [max(0, 1 - v), 1 + v]; 0 disables it.
    public init(brightness: Double = 0, contrast: Double = 0, saturation: Double = 0) {
        precondition(brightness >= 0 && contrast >= 0 && saturation >= 0, "ColorJitter amounts must be non-negative")
        self.brightness = brightness
        self.contrast = contrast
        self.saturation = saturation
    }

    public func apply(_ image: Image, using random: inout SeededRandom) -> Image {
        var order = [0, 1, 2]
        random.shuffle(&order)
        func factor(_ v: Double) -> Double? { v > 0 ? random.uniform(max(0, 1 - v), 1 + v) : nil }
        let factors = [factor(brightness), factor(contrast), factor(saturation)]
        var image = image
        for step in order {
            guard let f = factors[step] else { continue }
            switch step {
            case 0: image = ColorJitter.adjustBrightness(image, factor: f)
            case 1: image = ColorJitter.adjustContrast(image, factor: f)
            default: image = ColorJitter.adjustSaturation(image, factor: f)
            }
        }
        return image
    }

    /// PIL's `ImageEnhance.Brightness(image).enhance(factor)`.
    public static func adjustBrightness(_ image: Image, factor: Double) -> Image {
        blend(image, factor: factor) { _ in 0 }
    }

    /// PIL's `ImageEnhance.Contrast(image).enhance(factor)`: blends with the rounded mean gray level.
    public static func adjustContrast(_ image: Image, factor: Double) -> Image {
        var sum = 0
        let count = image.width * image.height
        for i in 0..<count { sum += Int(gray(image, i)) }
        let mean = Int(Double(sum) / Double(count) + 0.5)
        return blend(image, factor: factor) { _ in mean }
    }

    /// PIL's `ImageEnhance.Color(image).enhance(factor)`: blends with the gray version; gray images
    /// are unchanged.
    public static func adjustSaturation(_ image: Image, factor: Double) -> Image {
        if image.channels == 1 { return image }
        return blend(image, factor: factor) { i in Int(gray(image, i)) }
    }

    /// PIL's gray level of pixel `i`.
    @inline(__always) static func gray(_ image: Image, _ i: Int) -> UInt8 {
        if image.channels == 1 { return image.pixels[i] }
        let r = Int(image.pixels[3 * i]), g = Int(image.pixels[3 * i + 1]), b = Int(image.pixels[3 * i + 2])
        return UInt8((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16)
    }

    /// Pillow's ImagingBlend of the degenerate image (per pixel `degenerate(i)`) and `image`.
    private static func blend(_ image: Image, factor: Double, degenerate: (Int) -> Int) -> Image {
        if factor == 1 { return image }
        let alpha = Float(factor), c = image.channels
        var out = image
        out.pixels.withUnsafeMutableBufferPointer { p in
            for i in 0..<(image.width * image.height) {
                let base = degenerate(i)
                for k in 0..<c { p[c * i + k] = blended(base, p[c * i + k], alpha) }
            }
        }
        return out
    }

    /// Pillow's ImagingBlend of `degenerate` (same size and channels) and `image`.
    static func blend(_ image: Image, degenerate: Image, factor: Double) -> Image {
        precondition(image.width == degenerate.width && image.height == degenerate.height && image.channels == degenerate.channels,
                     "blend needs two images of one size")
        if factor == 1 { return image }
        let alpha = Float(factor)
        var out = image
        out.pixels.withUnsafeMutableBufferPointer { p in
            degenerate.pixels.withUnsafeBufferPointer { d in
                for i in 0..<p.count { p[i] = blended(Int(d[i]), p[i], alpha) }
            }
        }
        return out
    }

    /// One byte of a blend, `base + alpha * (value - base)` in Float32, truncated and clamped.
    @inline(__always) private static func blended(_ base: Int, _ value: UInt8, _ alpha: Float) -> UInt8 {
        let v = Float(base) + alpha * Float(Int(value) - base)
        return v <= 0 ? 0 : (v >= 255 ? 255 : UInt8(v))
    }
}
