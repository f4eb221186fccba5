// AutoAugmentOps: the image operations of TrivialAugment and RandAugment, as torchvision's
// `_apply_op` (transforms/autoaugment.py) performs them on PIL images with nearest-neighbour
// interpolation and fill 0.
//
// Each op takes a signed magnitude (a bin of `AugmentationSpace`) as torchvision passes it:
//   ShearX/Y      shear angle atan(m) about the top-left corner (PIL's (1, m, 0, 0, 1, 0))
//   TranslateX/Y  int(m) pixels (truncated)
//   Rotate        m degrees counter-clockwise (PIL's Image.rotate)
//   Brightness, Color, Contrast, Sharpness   PIL's ImageEnhance with factor 1 + m
//   Posterize     keep int(m) high bits; Solarize: invert values >= m
//   AutoContrast, Equalize: PIL's ImageOps, per channel; Identity: unchanged
// Sharpness blends with PIL's SMOOTH filter (3x3 kernel 1 1 1 / 1 5 1 / 1 1 1, divided by 13, in
// Float32 with +0.5 before truncation, the border rows and columns kept), so factor 0 blurs and
// factor 2 sharpens. Gray images stay one channel, as PIL mode "L".

import Foundation

/// One operation of torchvision's TrivialAugmentWide / RandAugment op lists.
public enum AutoAugmentOp: String, CaseIterable, Sendable {
    case identity = "Identity", shearX = "ShearX", shearY = "ShearY", translateX = "TranslateX",
         translateY = "TranslateY", rotate = "Rotate", brightness = "Brightness", color = "Color",
         contrast = "Contrast", sharpness = "Sharpness", posterize = "Posterize", solarize = "Solarize",
         autoContrast = "AutoContrast", equalize = "Equalize"

    /// `image` transformed with signed `magnitude`, as torchvision's `_apply_op`.
    public func apply(_ image: Image, magnitude m: Double) -> Image {
        let centre = (x: Double(image.width) * 0.5, y: Double(image.height) * 0.5)
        func shearAngle() -> Double { AffineMatrix.degrees(atan(m)) }
        switch self {
        case .identity: return image
        case .shearX: return image.warped(.inverse(center: (0, 0), angle: 0, shear: (shearAngle(), 0)))
        case .shearY: return image.warped(.inverse(center: (0, 0), angle: 0, shear: (0, shearAngle())))
        case .translateX: return image.warped(.inverse(center: centre, angle: 0, translate: (Double(Int(m)), 0)))
        case .translateY: return image.warped(.inverse(center: centre, angle: 0, translate: (0, Double(Int(m)))))
        case .rotate: return image.rotated(degrees: m)
        case .brightness: return ColorJitter.adjustBrightness(image, factor: 1 + m)
        case .color: return ColorJitter.adjustSaturation(image, factor: 1 + m)
        case .contrast: return ColorJitter.adjustContrast(image, factor: 1 + m)
        case .sharpness: return ColorJitter.blend(image, degenerate: image.smoothed(), factor: 1 + m)
        case .posterize: return image.posterized(bits: Int(m))
        case .solarize: return image.solarized(threshold: m)
        case .autoContrast: return image.autoContrasted()
        case .equalize: return image.equalized()
        }
    }
}

extension Image {
    /// PIL's `ImageOps.posterize(image, bits)`: every value keeps its `bits` high bits (1...8).
    public func posterized(bits: Int) -> Image {
        precondition((1...8).contains(bits), "posterize keeps 1 to 8 bits, got \(bits)")
        let mask = UInt8(truncatingIfNeeded: ~((1 << (8 - bits)) - 1))
        return mappedPerChannel(histogram: false) { _ in (0..<256).map { UInt8($0) & mask } }
    }

    /// PIL's `ImageOps.solarize(image, threshold)`: values >= `threshold` become 255 - value.
    public func solarized(threshold: Double) -> Image {
        mappedPerChannel(histogram: false) { _ in (0..<256).map { Double($0) < threshold ? UInt8($0) : UInt8(255 - $0) } }
    }

    /// PIL's `ImageOps.autocontrast(image)`: each channel stretched so its lowest value becomes 0
    /// and its highest 255 (`int(v * scale + offset)`); a channel of one value is unchanged.
    public func autoContrasted() -> Image {
        mappedPerChannel { histogram in
            guard let lo = histogram.firstIndex(where: { $0 > 0 }), let hi = histogram.lastIndex(where: { $0 > 0 }),
                  hi > lo else { return Image.identityTable }
            let scale = 255.0 / Double(hi - lo), offset = -Double(lo) * scale
            return (0..<256).map { UInt8(clamping: max(0, Int(Double($0) * scale + offset))) }
        }
    }

    /// PIL's `ImageOps.equalize(image)`: each channel through its cumulative histogram, in steps
    /// of (pixels - pixels of the top value) / 255; a channel of one value is unchanged.
    public func equalized() -> Image {
        mappedPerChannel { histogram in
            let used = histogram.filter { $0 > 0 }
            guard used.count > 1 else { return Image.identityTable }
            let step = (used.reduce(0, +) - used.last!) / 255
            guard step > 0 else { return Image.identityTable }
            var n = step / 2
            return (0..<256).map { i in
                defer { n += histogram[i] }
                return UInt8(clamping: n / step)
            }
        }
    }

    /// PIL's `filter(ImageFilter.SMOOTH)`: the 3x3 kernel (1 1 1 / 1 5 1 / 1 1 1) / 13 in Float32,
    /// rows summed bottom to top as Pillow's ImagingFilter3x3 does, +0.5, truncated; the border
    /// pixels are copied. Images narrower or shorter than 3 are returned as they are.
    func smoothed() -> Image {
        let w = width, h = height, c = channels
        guard w >= 3 && h >= 3 else { return self }
        let edge = Float(1) / 13, centre = Float(5) / 13
        var out = self
        pixels.withUnsafeBufferPointer { src in
            out.pixels.withUnsafeMutableBufferPointer { dst in
                @inline(__always) func row(_ y: Int, _ i: Int, _ middle: Float) -> Float {
                    let base = (y * w) * c + i
                    return Float(src[base - c]) * edge + Float(src[base]) * middle + Float(src[base + c]) * edge
                }
                for y in 1..<(h - 1) {
                    for i in c..<((w - 1) * c) {
                        var ss: Float = 0.5
                        ss += row(y + 1, i, edge)
                        ss += row(y, i, centre)
                        ss += row(y - 1, i, edge)
                        dst[y * w * c + i] = ss <= 0 ? 0 : (ss >= 255 ? 255 : UInt8(ss))
                    }
                }
            }
        }
        return out
    }

    /// Every value mapped through a 256-entry table per channel, built from that channel's
    /// histogram (counted only when `table` reads it: `histogram` false passes empty arrays).
    private func mappedPerChannel(histogram counted: Bool = true, _ table: ([Int]) -> [UInt8]) -> Image {
        let c = channels
        var counts = [Int](repeating: 0, count: c * 256)
        if counted {
            pixels.withUnsafeBufferPointer { p in
                counts.withUnsafeMutableBufferPointer { h in
                    var i = 0
                    while i < p.count {
                        for k in 0..<c { h[k * 256 + Int(p[i + k])] += 1 }
                        i += c
                    }
                }
            }
        }
        let tables = (0..<c).flatMap { k in table(counted ? Array(counts[(k * 256)..<(k * 256 + 256)]) : []) }
        var out = self
        tables.withUnsafeBufferPointer { t in
            out.pixels.withUnsafeMutableBufferPointer { p in
                var i = 0
                while i < p.count {
                    for k in 0..<c { p[i + k] = t[k * 256 + Int(p[i + k])] }
                    i += c
                }
            }
        }
        return out
    }

    private static let identityTable = (0..<256).map { UInt8($0) }
}
