// RandomAffine: random rotation and shear, as torchvision's RandomRotation(degrees) and
// RandomAffine(degrees=0, shear=s) on PIL images.
//
// Both build torchvision's inverse affine matrix (`_get_inverse_affine_matrix`, centre at
// (w/2, h/2)) and resample with PIL's nearest-neighbour affine transform: output pixel centre
// (x + .5, y + .5) maps to an input point, truncated to a pixel; points outside become black
// (torchvision's default fill 0). The output keeps the input size (expand=False).

import Foundation

/// torchvision's `RandomRotation(degrees)`: a rotation by an angle uniform in
/// [-degrees, degrees], counter-clockwise, nearest-neighbour, corners filled with black.
public struct RandomRotation: RandomTransform {
    public var degrees: Double

    public init(degrees: Double) {
        precondition(degrees >= 0, "RandomRotation degrees must be non-negative")
        self.degrees = degrees
    }

    public func apply(_ image: Image, using random: inout SeededRandom) -> Image {
        let angle = random.uniform(-degrees, degrees)
        // F.rotate(angle) is F.affine(-angle): torchvision's affine angle is clockwise.
        return image.warped(AffineMatrix.inverse(width: image.width, height: image.height, angle: -angle, shearX: 0))
    }
}

/// torchvision's `RandomAffine(degrees=0, shear=degrees)`: a horizontal shear by an angle
/// uniform in [-degrees, degrees], nearest-neighbour, uncovered pixels black.
public struct RandomShear: RandomTransform {
    public var degrees: Double

    public init(degrees: Double) {
        precondition(degrees >= 0 && degrees < 90, "RandomShear degrees must lie in [0, 90)")
        self.degrees = degrees
    }

    public func apply(_ image: Image, using random: inout SeededRandom) -> Image {
        let shear = random.uniform(-degrees, degrees)
        return image.warped(AffineMatrix.inverse(width: image.width, height: image.height, angle: 0, shearX: shear))
    }
}

/// The 2x3 matrix mapping an output point (x, y) to the input point (a x + b y + c, d x + e y + f).
struct AffineMatrix {
    var a, b, c, d, e, f: Double

    /// torchvision's `_get_inverse_affine_matrix` with centre (w/2, h/2), no translation, scale 1.
    /// - Parameters:
    ///   - angle: clockwise rotation in degrees.
    ///   - shearX: horizontal shear in degrees.
    static func inverse(width: Int, height: Int, angle: Double, shearX: Double) -> AffineMatrix {
        let rot = angle * .pi / 180, sx = shearX * .pi / 180, sy = 0.0
        let cx = Double(width) * 0.5, cy = Double(height) * 0.5
        // Rotation-shear without scaling, then its inverse (its determinant is 1).
        let a = cos(rot - sy) / cos(sy)
        let b = -cos(rot - sy) * tan(sx) / cos(sy) - sin(rot)
        let c = sin(rot - sy) / cos(sy)
        let d = -sin(rot - sy) * tan(sx) / cos(sy) + cos(rot)
        var m = AffineMatrix(a: d, b: -b, c: 0, d: -c, e: a, f: 0)
        m.c += m.a * -cx + m.b * -cy + cx
        m.f += m.d * -cx + m.e * -cy + cy
        return m
    }
}

extension Image {
    /// Nearest-neighbour affine resampling (PIL's `transform(AFFINE, NEAREST)`), black outside.
    func warped(_ m: AffineMatrix) -> Image {
        let c = channels, w = width, h = height
        var out = [UInt8](repeating: 0, count: pixels.count)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for y in 0..<h {
                    var xx = m.c + m.b * (Double(y) + 0.5) + m.a * 0.5
                    var yy = m.f + m.e * (Double(y) + 0.5) + m.d * 0.5
                    var o = y * w * c
                    for _ in 0..<w {
                        // PIL's COORD: negative means outside, otherwise truncate.
                        if xx >= 0, yy >= 0 {
                            let xin = Int(xx), yin = Int(yy)
                            if xin < w && yin < h {
                                let s = (yin * w + xin) * c
                                for k in 0..<c { dst[o + k] = src[s + k] }
                            }
                        }
                        xx += m.a
                        yy += m.d
                        o += c
                    }
                }
            }
        }
        return Image(width: w, height: h, channels: c, pixels: out)
    }
}
