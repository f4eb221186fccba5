// Image: a decoded 8-bit picture, the currency of the decoders and the 8-bit transforms.
//
// Layout: (height, width, channels) row-major, interleaved, no row padding, so pixel (x, y)
// channel c is `pixels[(y * width + x) * channels + c]`. Channels is 1 (gray) or 3 (RGB).
// Gray images stay one channel through every transform (3x less work) and become three equal
// RGB channels only when normalised to Float32, which gives the same numbers as converting to
// RGB first (PIL's `convert("RGB")` then torchvision's transforms).

/// A decoded 8-bit image, (H, W, C) interleaved, C = 1 (gray) or 3 (RGB).
public struct Image: Sendable, Equatable {
    public var width: Int
    public var height: Int
    /// 1 for gray, 3 for RGB.
    public var channels: Int
    /// `height * width * channels` bytes, row-major, channels interleaved.
    public var pixels: [UInt8]

    /// An image over existing pixels, (H, W, C) interleaved.
    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) {
        precondition(channels == 1 || channels == 3, "Image channels must be 1 (gray) or 3 (RGB), got \(channels)")
        precondition(width > 0 && height > 0, "Image size must be positive, got \(width)x\(height)")
        precondition(pixels.count == width * height * channels,
                     "Image of \(width)x\(height)x\(channels) needs \(width * height * channels) bytes, got \(pixels.count)")
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
    }

    /// An image filled with `value`.
    public init(width: Int, height: Int, channels: Int, filledWith value: UInt8 = 0) {
        self.init(width: width, height: height, channels: channels,
                  pixels: [UInt8](repeating: value, count: width * height * channels))
    }

    /// Bytes per row.
    public var rowStride: Int { width * channels }

    /// The channel values of pixel (x, y).
    public subscript(x: Int, y: Int) -> [UInt8] {
        let start = (y * width + x) * channels
        return Array(pixels[start..<start + channels])
    }

    /// The same picture with three channels (gray values repeated), as PIL's `convert("RGB")`.
    public func rgb() -> Image {
        if channels == 3 { return self }
        var out = [UInt8](repeating: 0, count: pixels.count * 3)
        for i in 0..<pixels.count {
            let v = pixels[i]
            out[3 * i] = v
            out[3 * i + 1] = v
            out[3 * i + 2] = v
        }
        return Image(width: width, height: height, channels: 3, pixels: out)
    }

    /// The rectangle `x..<x+width`, `y..<y+height`, which must lie inside the image.
    public func cropped(x: Int, y: Int, width w: Int, height h: Int) -> Image {
        precondition(x >= 0 && y >= 0 && w > 0 && h > 0 && x + w <= width && y + h <= height,
                     "crop \(w)x\(h)+\(x)+\(y) outside a \(width)x\(height) image")
        var out = [UInt8](repeating: 0, count: w * h * channels)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for row in 0..<h {
                    let from = ((y + row) * width + x) * channels
                    let to = row * w * channels
                    for i in 0..<(w * channels) { dst[to + i] = src[from + i] }
                }
            }
        }
        return Image(width: w, height: h, channels: channels, pixels: out)
    }

    /// The mirror image, left and right swapped (torchvision's `hflip`).
    public func flippedHorizontally() -> Image {
        let c = channels, w = width
        var out = [UInt8](repeating: 0, count: pixels.count)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for y in 0..<height {
                    let row = y * w * c
                    for x in 0..<w {
                        let from = row + (w - 1 - x) * c, to = row + x * c
                        for k in 0..<c { dst[to + k] = src[from + k] }
                    }
                }
            }
        }
        return Image(width: w, height: height, channels: c, pixels: out)
    }

    /// The image upside down (torchvision's `vflip`).
    public func flippedVertically() -> Image {
        remapped(width: width, height: height) { x, y in (x, height - 1 - y) }
    }

    /// A new image of the given size whose pixel (x, y) is this image's pixel `source(x, y)`.
    /// Used for flips and EXIF orientations: exact, no interpolation.
    func remapped(width w: Int, height h: Int, source: (Int, Int) -> (Int, Int)) -> Image {
        let c = channels
        var out = [UInt8](repeating: 0, count: w * h * c)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                var o = 0
                for y in 0..<h {
                    for x in 0..<w {
                        let (sx, sy) = source(x, y)
                        let s = (sy * width + sx) * c
                        for k in 0..<c { dst[o + k] = src[s + k] }
                        o += c
                    }
                }
            }
        }
        return Image(width: w, height: h, channels: c, pixels: out)
    }
}
