// Image+Resample: antialiased bilinear and bicubic resizing, bit-exact with PIL's
// `Image.resize(size, BILINEAR)` and `BICUBIC`, which is what torchvision's Resize and
// RandomResizedCrop run on PIL images (antialias=True).
//
// Algorithm (Pillow, src/libImaging/Resample.c): a separable filter, horizontal pass first into
// an 8-bit intermediate, then vertical. When downscaling by s > 1 the filter's support widens
// s times (this is the antialiasing): the triangle filter's support is 1, the bicubic one's
// (Keys' cubic with a = -0.5) 2. When upscaling it is plain bilinear or bicubic interpolation. Weights are computed in Double, normalised to sum 1, then rounded to 22-bit
// fixed point, and every output is rounded and clamped to 0...255, exactly as Pillow does.
// A crop box is handled as torchvision does (crop, then resize): the filter never reads outside
// the box.
//
// A window of the result can be computed alone: each output sample's filter depends only on its
// own position, so computing the window is exactly cropping the whole result, without building
// it. Resize-then-crop (the evaluation pipeline) costs the crop, whatever the image's aspect
// ratio: a 65500x1 image resized to a 256 shorter side is 16768000x256, of which a 224x224
// window is made. Memory: the window, plus the horizontal pass over the source rows the
// window's vertical filter reads (at most the box's height), window wide.
// Layout: source and result are (H, W, C) interleaved UInt8.

/// The filter of a resize: torchvision's InterpolationMode.BILINEAR or BICUBIC (Pillow's).
public enum Interpolation: String, Codable, Sendable {
    case bilinear, bicubic

    /// Half the filter's width, in source samples at scale 1.
    var support: Double { self == .bilinear ? 1 : 2 }

    /// Pillow's `bilinear_filter` and `bicubic_filter` (a = -0.5).
    @inline(__always)
    func weight(_ x: Double) -> Double {
        let x = abs(x)
        switch self {
        case .bilinear: return x < 1 ? 1 - x : 0
        case .bicubic:
            let a = -0.5
            if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
            if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
            return 0
        }
    }
}

extension Image {
    /// An integer rectangle inside an image.
    public struct Box: Equatable, Sendable {
        public var x: Int, y: Int, width: Int, height: Int
        public init(x: Int, y: Int, width: Int, height: Int) {
            self.x = x; self.y = y; self.width = width; self.height = height
        }
    }

    /// Pillow's fixed-point precision for 8-bit images.
    static let resamplePrecisionBits: Int32 = 22

    /// Resizes the `box` part of the image (the whole image by default) to `width` x `height`
    /// with antialiased filtering, identical to PIL's `crop(box).resize((w, h), BILINEAR)` (or
    /// `BICUBIC`), and returns the `window` part of that result (all of it by default), computing
    /// nothing else.
    public func resized(width outWidth: Int, height outHeight: Int, from box: Box? = nil, window: Box? = nil,
                        interpolation: Interpolation = .bilinear) -> Image {
        let box = box ?? Box(x: 0, y: 0, width: width, height: height)
        let window = window ?? Box(x: 0, y: 0, width: outWidth, height: outHeight)
        precondition(outWidth > 0 && outHeight > 0, "resize to an empty size \(outWidth)x\(outHeight)")
        precondition(box.x >= 0 && box.y >= 0 && box.width > 0 && box.height > 0
                     && box.x + box.width <= width && box.y + box.height <= height,
                     "resize box \(box) outside a \(width)x\(height) image")
        precondition(window.x >= 0 && window.y >= 0 && window.width > 0 && window.height > 0
                     && window.x + window.width <= outWidth && window.y + window.height <= outHeight,
                     "resize window \(window) outside a \(outWidth)x\(outHeight) result")
        let needHorizontal = outWidth != box.width
        let needVertical = outHeight != box.height
        if !needHorizontal && !needVertical {
            return cropped(x: box.x + window.x, y: box.y + window.y, width: window.width, height: window.height)
        }
        let vertical = ResampleCoefficients(inSize: box.height, outSize: outHeight, outputs: window.y..<(window.y + window.height),
                                            filter: interpolation)
        guard needHorizontal else {
            return verticalPass(vertical, rowOffset: box.y, columnOffset: box.x + window.x, width: window.width)
        }
        // Horizontal pass first, over only the rows the vertical pass will read (box-local).
        let rows = needVertical ? vertical.inputRange : window.y..<(window.y + window.height)
        let horizontal = ResampleCoefficients(inSize: box.width, outSize: outWidth, outputs: window.x..<(window.x + window.width),
                                              filter: interpolation)
        let filtered = horizontalPass(horizontal, box: Box(x: box.x, y: box.y + rows.lowerBound, width: box.width,
                                                          height: rows.count))
        guard needVertical else { return filtered }
        return filtered.verticalPass(vertical, rowOffset: -rows.lowerBound, columnOffset: 0, width: window.width)
    }

    /// Filters rows `box.y..<box.y+box.height` horizontally into a `coefficients.count`-wide image.
    private func horizontalPass(_ coefficients: ResampleCoefficients, box: Box) -> Image {
        let c = channels, outWidth = coefficients.count, k = coefficients.ksize
        var out = [UInt8](repeating: 0, count: outWidth * box.height * c)
        let half: Int32 = 1 << (Image.resamplePrecisionBits - 1)
        let shift = Image.resamplePrecisionBits
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                coefficients.weights.withUnsafeBufferPointer { weights in
                    coefficients.bounds.withUnsafeBufferPointer { bounds in
                        for row in 0..<box.height {
                            let srcRow = ((box.y + row) * width + box.x) * c
                            var o = row * outWidth * c
                            for xx in 0..<outWidth {
                                let start = srcRow + bounds[2 * xx] * c, taps = bounds[2 * xx + 1]
                                let w = xx * k
                                if c == 3 {
                                    // One SIMD lane per channel (the fourth is unused).
                                    var sum = SIMD4<Int32>(repeating: half)
                                    for t in 0..<taps {
                                        let p = start + 3 * t
                                        let pixel = SIMD4<Int32>(Int32(src[p]), Int32(src[p + 1]), Int32(src[p + 2]), 0)
                                        sum &+= pixel &* SIMD4<Int32>(repeating: weights[w + t])
                                    }
                                    dst[o] = clip8(sum[0] >> shift)
                                    dst[o + 1] = clip8(sum[1] >> shift)
                                    dst[o + 2] = clip8(sum[2] >> shift)
                                } else {
                                    var v = half
                                    for t in 0..<taps { v &+= Int32(src[start + t]) &* weights[w + t] }
                                    dst[o] = clip8(v >> shift)
                                }
                                o += c
                            }
                        }
                    }
                }
            }
        }
        return Image(width: outWidth, height: box.height, channels: c, pixels: out)
    }

    /// Filters vertically into `coefficients.count` rows: output row yy reads source rows
    /// `rowOffset + bounds` (columns from `columnOffset`, `width` pixels wide).
    private func verticalPass(_ coefficients: ResampleCoefficients, rowOffset: Int, columnOffset: Int,
                              width outWidth: Int) -> Image {
        let c = channels, rowLength = outWidth * c, k = coefficients.ksize, outHeight = coefficients.count
        var out = [UInt8](repeating: 0, count: rowLength * outHeight)
        var accumulator = [Int32](repeating: 0, count: rowLength)
        let half: Int32 = 1 << (Image.resamplePrecisionBits - 1)
        let shift = Image.resamplePrecisionBits
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                accumulator.withUnsafeMutableBufferPointer { acc in
                    for yy in 0..<outHeight {
                        for i in 0..<rowLength { acc[i] = half }
                        let first = coefficients.bounds[2 * yy] + rowOffset, taps = coefficients.bounds[2 * yy + 1]
                        for t in 0..<taps {
                            let wt = coefficients.weights[yy * k + t]
                            let row = ((first + t) * width + columnOffset) * c
                            for i in 0..<rowLength { acc[i] &+= Int32(src[row + i]) &* wt }
                        }
                        let o = yy * rowLength
                        for i in 0..<rowLength { dst[o + i] = clip8(acc[i] >> shift) }
                    }
                }
            }
        }
        return Image(width: outWidth, height: outHeight, channels: c, pixels: out)
    }
}

@inline(__always) private func clip8(_ value: Int32) -> UInt8 {
    UInt8(truncatingIfNeeded: min(max(value, 0), 255))
}

/// Pillow's `precompute_coeffs` for the bilinear (triangle) or bicubic filter, in 22-bit fixed point, for
/// the outputs `outputs` of a resize from `inSize` to `outSize` samples (local index i is output
/// `outputs.lowerBound + i`; each output's filter depends only on its own position).
struct ResampleCoefficients {
    /// Outputs computed.
    let count: Int
    /// Taps per output sample (the stride of `weights`).
    let ksize: Int
    /// For local output i: first input index `bounds[2i]` and tap count `bounds[2i+1]`.
    let bounds: [Int]
    /// For local output i: `weights[i * ksize ..< i * ksize + taps]`.
    let weights: [Int32]

    init(inSize: Int, outSize: Int, outputs: Range<Int>, filter: Interpolation = .bilinear) {
        precondition(inSize > 0 && outputs.lowerBound >= 0 && outputs.upperBound <= outSize && !outputs.isEmpty,
                     "resample outputs \(outputs) of \(inSize) -> \(outSize)")
        let scale = Double(inSize) / Double(outSize)
        let filterScale = max(scale, 1.0)
        let support = filter.support * filterScale
        // Pillow's kernel size, never more than the input (an output reads at most every input).
        let ksize = min(Int(support.rounded(.up)) * 2 + 1, inSize)
        let inverseScale = 1.0 / filterScale
        let count = outputs.count
        var bounds = [Int](repeating: 0, count: 2 * count)
        var weights = [Int32](repeating: 0, count: count * ksize)
        var taps = [Double](repeating: 0, count: ksize)
        for i in 0..<count {
            let center = (Double(outputs.lowerBound + i) + 0.5) * scale
            let xmin = max(Int(center - support + 0.5), 0)
            let xmax = min(Int(center + support + 0.5), inSize) - xmin
            var total = 0.0
            for x in 0..<xmax {
                let distance = abs((Double(x + xmin) - center + 0.5) * inverseScale)
                taps[x] = filter.weight(distance)
                total += taps[x]
            }
            for x in 0..<xmax {
                let w = total != 0 ? taps[x] / total : taps[x]
                weights[i * ksize + x] = Int32(w < 0 ? -0.5 + w * Double(1 << 22) : 0.5 + w * Double(1 << 22))
            }
            bounds[2 * i] = xmin
            bounds[2 * i + 1] = max(xmax, 0)
        }
        self.count = count
        self.ksize = ksize
        self.bounds = bounds
        self.weights = weights
    }

    /// The input samples the outputs read: from the first output's first tap to the last's end.
    var inputRange: Range<Int> {
        bounds[0]..<(bounds[2 * (count - 1)] + bounds[2 * (count - 1) + 1])
    }
}
