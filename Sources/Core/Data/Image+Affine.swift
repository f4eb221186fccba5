// Image+Affine: PIL's nearest-neighbour affine resampling, and the matrices torchvision and PIL
// build for it.
//
// torchvision's `F.affine` on a PIL image builds the inverse matrix (`_get_inverse_affine_matrix`)
// and calls PIL's `Image.transform(size, AFFINE, matrix, NEAREST, fillcolor=0)`; `F.rotate` calls
// PIL's own `Image.rotate`, whose matrix is built apart (cos and sin rounded to 15 decimals) and
// which copies or transposes for multiples of 90 degrees. PIL resamples in one of three ways
// (libImaging/Geometry.c, `ImagingTransformAffine`), which round differently, so each is
// reproduced:
//   - no rotation or shear (b = d = 0): positions in doubles, accumulated per axis;
//   - otherwise, when the four corners map inside +-32768: 16.16 fixed point;
//   - otherwise: doubles, accumulated along rows and columns.
// Output pixel centre (x + .5, y + .5) maps to an input point, truncated to a pixel; points
// outside the input (negative ones included) become 0, torchvision's default fill.

import Foundation

/// The 2x3 matrix mapping an output point (x, y) to the input point (a x + b y + c, d x + e y + f).
struct AffineMatrix: Equatable {
    var a, b, c, d, e, f: Double

    /// torchvision's `_get_inverse_affine_matrix(center, angle, translate, scale=1, shear)`.
    /// - Parameters:
    ///   - center: the fixed point, in pixels from the top-left corner.
    ///   - angle: clockwise rotation in degrees.
    ///   - translate: shift of the output, in pixels.
    ///   - shear: horizontal and vertical shear angles in degrees.
    static func inverse(center: (x: Double, y: Double), angle: Double, translate: (x: Double, y: Double) = (0, 0),
                        shear: (x: Double, y: Double) = (0, 0)) -> AffineMatrix {
        let rot = radians(angle), sx = radians(shear.x), sy = radians(shear.y)
        let (cx, cy) = center, (tx, ty) = translate
        // Rotation-shear without scaling, then its inverse (its determinant is 1).
        let a = cos(rot - sy) / cos(sy)
        let b = -cos(rot - sy) * tan(sx) / cos(sy) - sin(rot)
        let c = sin(rot - sy) / cos(sy)
        let d = -sin(rot - sy) * tan(sx) / cos(sy) + cos(rot)
        var m = AffineMatrix(a: d, b: -b, c: 0, d: -c, e: a, f: 0)
        m.c += m.a * (-cx - tx) + m.b * (-cy - ty)
        m.f += m.d * (-cx - tx) + m.e * (-cy - ty)
        m.c += cx
        m.f += cy
        return m
    }

    /// torchvision's inverse matrix about the image centre (w/2, h/2), as `F.affine` uses by default.
    static func inverse(width: Int, height: Int, angle: Double, shearX: Double) -> AffineMatrix {
        inverse(center: (Double(width) * 0.5, Double(height) * 0.5), angle: angle, shear: (shearX, 0))
    }

    /// The matrix of PIL's `Image.rotate(angle)` (counter-clockwise, about the centre), for an
    /// angle already reduced to [0, 360).
    static func pilRotation(width: Int, height: Int, degrees: Double) -> AffineMatrix {
        let angle = -radians(degrees)
        let cosine = roundedTo15Digits(cos(angle)), sine = roundedTo15Digits(sin(angle))
        var m = AffineMatrix(a: cosine, b: sine, c: 0, d: roundedTo15Digits(-sin(angle)), e: cosine, f: 0)
        let cx = Double(width) / 2, cy = Double(height) / 2
        (m.c, m.f) = (m.a * -cx + m.b * -cy + m.c, m.d * -cx + m.e * -cy + m.f)
        m.c += cx
        m.f += cy
        return m
    }

    /// Python's `math.radians`: one multiplication by the rounded constant pi / 180.
    static func radians(_ degrees: Double) -> Double { degrees * (Double.pi / 180) }

    /// Python's `math.degrees`.
    static func degrees(_ radians: Double) -> Double { radians * (180 / Double.pi) }

    /// Python's `round(x, 15)`: the exact value rounded to 15 decimals, read back as the nearest
    /// double (printf and strtod both round correctly).
    static func roundedTo15Digits(_ x: Double) -> Double {
        Double(String(format: "%.15f", x)) ?? x
    }
}

extension Image {
    /// PIL's `Image.rotate(degrees, NEAREST)`: counter-clockwise about the centre, same size,
    /// corners black; 0 is a copy, 180 (and 90 or 270 on a square image) an exact transpose.
    func rotated(degrees: Double) -> Image {
        var angle = fmod(degrees, 360)       // Python's float %, whose result takes the divisor's sign
        if angle < 0 { angle += 360 }
        let w = width, h = height
        switch angle {
        case 0: return self
        case 180: return remapped(width: w, height: h) { x, y in (w - 1 - x, h - 1 - y) }
        case 90 where w == h: return remapped(width: w, height: h) { x, y in (w - 1 - y, x) }
        case 270 where w == h: return remapped(width: w, height: h) { x, y in (y, h - 1 - x) }
        default: return warped(AffineMatrix.pilRotation(width: w, height: h, degrees: angle))
        }
    }

    /// PIL's `transform(size, AFFINE, m, NEAREST)` with fill 0: the output keeps this size.
    func warped(_ m: AffineMatrix) -> Image {
        if m.b == 0 && m.d == 0 { return warpedAxisAligned(m) }
        func fits(_ x: Double, _ y: Double) -> Bool {
            abs(x * m.a + y * m.b + m.c) < 32768 && abs(x * m.d + y * m.e + m.f) < 32768
        }
        let w = Double(width), h = Double(height)
        if fits(0, 0) && fits(w, h) && fits(0, h) && fits(w, 0) { return warpedFixedPoint(m) }
        return warpedFloatingPoint(m)
    }

    /// PIL's COORD: a negative position is outside, any other is truncated.
    @inline(__always) private static func coordinate(_ v: Double) -> Int { v < 0 ? -1 : Int(v) }

    /// PIL's `ImagingScaleAffine`: the input column of each output column tabulated once.
    private func warpedAxisAligned(_ m: AffineMatrix) -> Image {
        let c = channels, w = width, h = height
        var columns = [Int](repeating: -1, count: w)
        var xo = m.c + m.a * 0.5, yo = m.f + m.e * 0.5
        for x in 0..<w {
            let xin = Image.coordinate(xo)
            if xin >= 0 && xin < w { columns[x] = xin }
            xo += m.a
        }
        var out = [UInt8](repeating: 0, count: pixels.count)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for y in 0..<h {
                    let yin = Image.coordinate(yo)
                    yo += m.e
                    guard yin >= 0 && yin < h else { continue }
                    for x in 0..<w where columns[x] >= 0 {
                        let s = (yin * w + columns[x]) * c, o = (y * w + x) * c
                        for k in 0..<c { dst[o + k] = src[s + k] }
                    }
                }
            }
        }
        return Image(width: w, height: h, channels: c, pixels: out)
    }

    /// PIL's `affine_fixed`: positions in 16.16 fixed point, each coefficient rounded once.
    private func warpedFixedPoint(_ m: AffineMatrix) -> Image {
        func fix(_ v: Double) -> Int { Int(floor(v * 65536 + 0.5)) }
        let a0 = fix(m.a), a1 = fix(m.b), a3 = fix(m.d), a4 = fix(m.e)
        var a2 = fix(m.c + m.a * 0.5 + m.b * 0.5), a5 = fix(m.f + m.d * 0.5 + m.e * 0.5)
        let c = channels, w = width, h = height
        var out = [UInt8](repeating: 0, count: pixels.count)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                var o = 0
                for _ in 0..<h {
                    var xx = a2, yy = a5
                    for _ in 0..<w {
                        let xin = xx >> 16, yin = yy >> 16
                        if xin >= 0 && xin < w && yin >= 0 && yin < h {
                            let s = (yin * w + xin) * c
                            for k in 0..<c { dst[o + k] = src[s + k] }
                        }
                        xx += a0
                        yy += a3
                        o += c
                    }
                    a2 += a1
                    a5 += a4
                }
            }
        }
        return Image(width: w, height: h, channels: c, pixels: out)
    }

    /// PIL's floating-point affine loop, for matrices that leave the fixed-point range.
    private func warpedFloatingPoint(_ m: AffineMatrix) -> Image {
        let c = channels, w = width, h = height
        var xo = m.c + m.b * 0.5 + m.a * 0.5, yo = m.f + m.e * 0.5 + m.d * 0.5
        var out = [UInt8](repeating: 0, count: pixels.count)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                var o = 0
                for _ in 0..<h {
                    var xx = xo, yy = yo
                    for _ in 0..<w {
                        let xin = Image.coordinate(xx), yin = Image.coordinate(yy)
                        if xin >= 0 && xin < w && yin >= 0 && yin < h {
                            let s = (yin * w + xin) * c
                            for k in 0..<c { dst[o + k] = src[s + k] }
                        }
                        xx += m.a
                        yy += m.d
                        o += c
                    }
                    xo += m.b
                    yo += m.e
                }
            }
        }
        return Image(width: w, height: h, channels: c, pixels: out)
    }
}
