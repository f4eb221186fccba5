/// 2-D convolution, forward and backward, NHWC, through the GEMM wrapper.
///
///     x     (n, h, w, c)          input
///     wt    (oc, kh, kw, c/g)     weights, "OHWI" (files keep torchvision's OIHW; see Model)
///     bias  (oc)                  optional
///     y     (n, oh, ow, oc)       output
///     cols  (rows, kh*kw*c/g)     im2col scratch for a chunk of samples, one group
///
/// 1x1 stride-1 convolutions multiply the input directly (one GEMM over the whole batch);
/// 3x3 stride-1 ones use Winograd F(2x2, 3x3) (`WinogradConv3x3`) forward and backward; depthwise convolutions use `DepthwiseConv2D`; everything else goes through
/// im2col + GEMM, a chunk of samples at a time so the scratch stays bounded.
enum Conv2D {
    /// Rows of im2col per GEMM: enough for OpenBLAS to run near peak, small enough to stay bounded.
    static let targetRows = 12288

    static func samplesPerChunk(_ g: ConvGeometry) -> Int {
        max(1, min(g.n, targetRows / max(1, g.oh * g.ow)))
    }

    /// Floats of scratch `forward` and `backward` need (zero for pointwise convolutions).
    static func scratchCount(_ g: ConvGeometry) -> Int {
        if g.isPointwise && g.groups == 1 || GroupedConv2D.applies(g) { return 0 }  // (the fallback of tests brings its own)
        let im2col = samplesPerChunk(g) * g.oh * g.ow * g.k
        return WinogradConv3x3.applies(g) ? max(im2col, WinogradConv3x3.scratchCount(g)) : im2col
    }

    /// - Parameter activation: applied after the bias, chunk by chunk while the output is in cache
    ///   (inference, where an activation follows the convolution directly).
    /// - Parameter direct: false forces im2col and GEMM (the reference the Winograd and grouped tests compare with).
    /// - Parameter winogradKernels: for a Winograd layer, its weights already transformed
    ///   (`WinogradConv3x3.transform`), when they do not change between calls.
    static func forward(_ g: ConvGeometry, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                        winogradKernels: UnsafePointer<Float>? = nil,
                        bias: UnsafePointer<Float>?, activation: Activation? = nil,
                        y: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>, direct: Bool = true) {
        if direct, WinogradConv3x3.applies(g) {
            WinogradConv3x3.forward(g, x: x, weight: weight, transformed: winogradKernels, bias: bias, activation: activation,
                                    y: y, scratch: scratch)
            return
        }
        if direct, GroupedConv2D.applies(g) {
            GroupedConv2D.forward(g, x: x, weight: weight, bias: bias, activation: activation, y: y)
            return
        }
        if g.isPointwise, g.groups == 1 {
            let rows = g.n * g.h * g.w
            var r0 = 0
            while r0 < rows {
                let m = min(targetRows, rows - r0)
                gemm(transB: true, m: m, n: g.oc, k: g.c, a: x + r0 * g.c, lda: g.c, b: weight, ldb: g.c,
                     c: y + r0 * g.oc, ldc: g.oc)
                epilogue(y + r0 * g.oc, bias: bias, activation: activation, rows: m, channels: g.oc)
                r0 += m
            }
            return
        }
        let chunk = samplesPerChunk(g), pixels = g.oh * g.ow
        var s0 = 0
        while s0 < g.n {
            let ns = min(chunk, g.n - s0)
            for group in 0..<g.groups {
                im2col(g, x: x, firstSample: s0, samples: ns, group: group, cols: scratch)
                gemm(transB: true, m: ns * pixels, n: g.ocg, k: g.k, a: scratch, lda: g.k,
                     b: weight + group * g.ocg * g.k, ldb: g.k,
                     c: y + s0 * pixels * g.oc + group * g.ocg, ldc: g.oc)
            }
            epilogue(y + s0 * pixels * g.oc, bias: bias, activation: activation, rows: ns * pixels, channels: g.oc)
            s0 += ns
        }
    }

    /// y[r][c] = activation(y[r][c] + bias[c]), either part optional.
    static func epilogue(_ y: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>?, activation: Activation?,
                         rows: Int, channels: Int) {
        guard bias != nil || activation != nil else { return }
        parallelFor(rows, minimumPerThread: 64) { range in
            for r in range {
                let row = y + r * channels
                if let bias { for c in 0..<channels { row[c] += bias[c] } }
                if let activation { ActivationKernel.apply(activation, row, count: channels) }
            }
        }
    }

    /// Accumulates dW (and dBias) when given; writes dX when given (overwriting it).
    static func backward(_ g: ConvGeometry, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                         dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>?,
                         dWeight: UnsafeMutablePointer<Float>?, dBias: UnsafeMutablePointer<Float>?,
                         scratch: UnsafeMutablePointer<Float>, direct: Bool = true) {
        if let dBias { sumRows(dy, rows: g.n * g.oh * g.ow, channels: g.oc, into: dBias) }
        if direct, WinogradConv3x3.applies(g) {
            if let dWeight { WinogradConv3x3.backwardWeights(g, x: x, dy: dy, dWeight: dWeight, scratch: scratch) }
            if let dx { WinogradConv3x3.backwardData(g, weight: weight, dy: dy, dx: dx, scratch: scratch) }
            return
        }
        if direct, GroupedConv2D.applies(g) {
            GroupedConv2D.backward(g, x: x, weight: weight, dy: dy, dx: dx, dWeight: dWeight)
            return
        }
        if g.isPointwise, g.groups == 1 {
            let rows = g.n * g.h * g.w
            if let dWeight {
                gemm(transA: true, m: g.oc, n: g.c, k: rows, a: dy, lda: g.oc, b: x, ldb: g.c, beta: 1, c: dWeight, ldc: g.c)
            }
            if let dx { gemm(m: rows, n: g.c, k: g.oc, a: dy, lda: g.oc, b: weight, ldb: g.c, c: dx, ldc: g.c) }
            return
        }
        if let dx { dx.update(repeating: 0, count: g.inputCount) }
        let chunk = samplesPerChunk(g), pixels = g.oh * g.ow
        var s0 = 0
        while s0 < g.n {
            let ns = min(chunk, g.n - s0)
            let dyChunk = dy + s0 * pixels * g.oc
            for group in 0..<g.groups {
                let wg = weight + group * g.ocg * g.k
                if let dWeight {
                    im2col(g, x: x, firstSample: s0, samples: ns, group: group, cols: scratch)
                    gemm(transA: true, m: g.ocg, n: g.k, k: ns * pixels, a: dyChunk + group * g.ocg, lda: g.oc,
                         b: scratch, ldb: g.k, beta: 1, c: dWeight + group * g.ocg * g.k, ldc: g.k)
                }
                if let dx {
                    gemm(m: ns * pixels, n: g.k, k: g.ocg, a: dyChunk + group * g.ocg, lda: g.oc, b: wg, ldb: g.k,
                         c: scratch, ldc: g.k)
                    col2im(g, cols: scratch, firstSample: s0, samples: ns, group: group, dx: dx)
                }
            }
            s0 += ns
        }
    }

    /// cols[(s*oh + oy)*ow + ox][(ky*kw + kx)*cg + ci] = x[s0+s][iy][ix][group*cg + ci], zero outside.
    static func im2col(_ g: ConvGeometry, x: UnsafePointer<Float>, firstSample s0: Int, samples: Int,
                       group: Int, cols: UnsafeMutablePointer<Float>) {
        let cg = g.cg, k = g.k
        parallelFor(samples * g.oh, minimumPerThread: 4) { rows in
            for r in rows {
                let s = r / g.oh, oy = r % g.oh
                let xs = x + (s0 + s) * g.h * g.w * g.c + group * cg
                for ox in 0..<g.ow {
                    var dst = cols + (r * g.ow + ox) * k
                    let ix0 = ox * g.sw - g.pl
                    // Inside the image and undilated, a kernel row's window is one run of kw*cg floats.
                    let wholeRows = g.dw == 1 && cg == g.c && ix0 >= 0 && ix0 + g.kw <= g.w
                    for ky in 0..<g.kh {
                        let iy = oy * g.sh - g.pt + ky * g.dh
                        if wholeRows, iy >= 0, iy < g.h {
                            copyFloats(xs + (iy * g.w + ix0) * g.c, to: dst, count: g.kw * cg)
                            dst += g.kw * cg
                            continue
                        }
                        for kx in 0..<g.kw {
                            let ix = ox * g.sw - g.pl + kx * g.dw
                            if iy >= 0, iy < g.h, ix >= 0, ix < g.w {
                                copyFloats(xs + (iy * g.w + ix) * g.c, to: dst, count: cg)
                            } else {
                                dst.update(repeating: 0, count: cg)
                            }
                            dst += cg
                        }
                    }
                }
            }
        }
    }

    /// The adjoint of im2col: dx[...] += cols[...].
    static func col2im(_ g: ConvGeometry, cols: UnsafePointer<Float>, firstSample s0: Int, samples: Int,
                       group: Int, dx: UnsafeMutablePointer<Float>) {
        let cg = g.cg, k = g.k
        // Samples are independent, so threads split them; within a sample windows overlap.
        parallelFor(samples) { range in
            for s in range {
                let dxs = dx + (s0 + s) * g.h * g.w * g.c + group * cg
                for oy in 0..<g.oh {
                    for ox in 0..<g.ow {
                        var src = cols + ((s * g.oh + oy) * g.ow + ox) * k
                        for ky in 0..<g.kh {
                            let iy = oy * g.sh - g.pt + ky * g.dh
                            for kx in 0..<g.kw {
                                let ix = ox * g.sw - g.pl + kx * g.dw
                                if iy >= 0, iy < g.h, ix >= 0, ix < g.w {
                                    let d = dxs + (iy * g.w + ix) * g.c
                                    for ci in 0..<cg { d[ci] += src[ci] }
                                }
                                src += cg
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A short copy as a loop: im2col's runs are a few floats (3 channels of an RGB input), where a
/// call to memmove per run costs more than the copy.
@inline(__always)
func copyFloats(_ from: UnsafePointer<Float>, to: UnsafeMutablePointer<Float>, count: Int) {
    if count >= 64 {
        to.update(from: from, count: count)
    } else {
        for i in 0..<count { to[i] = from[i] }
    }
}

/// y[r][c] += bias[c] for every row.
func addBias(_ y: UnsafeMutablePointer<Float>, _ bias: UnsafePointer<Float>, rows: Int, channels: Int) {
    parallelFor(rows, minimumPerThread: 64) { range in
        for r in range {
            let row = y + r * channels
            for c in 0..<channels { row[c] += bias[c] }
        }
    }
}

/// out[c] += sum over rows of m[r][c].
func sumRows(_ m: UnsafePointer<Float>, rows: Int, channels: Int, into out: UnsafeMutablePointer<Float>) {
    for r in 0..<rows {
        let row = m + r * channels
        for c in 0..<channels { out[c] += row[c] }
    }
}
