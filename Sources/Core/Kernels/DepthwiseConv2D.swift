/// Depthwise 2-D convolution (groups == in == out channels), a direct kernel vectorised over
/// channels, forward and backward.
///
///     x     (n, h, w, c)
///     wt    (kh, kw, c)      weights ("HWC"; files keep torchvision's (c, 1, kh, kw))
///     bias  (c)              optional
///     y     (n, oh, ow, c)
enum DepthwiseConv2D {
    /// - Parameter activation: applied to each output pixel once it is complete (inference epilogue).
    static func forward(_ g: ConvGeometry, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                        bias: UnsafePointer<Float>?, activation: Activation? = nil, y: UnsafeMutablePointer<Float>) {
        let c = g.c
        parallelFor(g.n * g.oh, minimumPerThread: 2) { rows in
            for r in rows {
                let s = r / g.oh, oy = r % g.oh
                let xs = x + s * g.h * g.w * c
                for ox in 0..<g.ow {
                    let out = y + (r * g.ow + ox) * c
                    // 16 channels at a time in registers over every tap, then the remainder.
                    var c0 = 0
                    while c0 + 16 <= c {
                        var acc = bias.map { SIMD16<Float>(load16($0 + c0)) } ?? SIMD16<Float>()
                        g.forEachTap(oy, ox) { iy, ix, k in
                            acc += load16(xs + (iy * g.w + ix) * c + c0) * load16(weight + k * c + c0)
                        }
                        store16(acc, out + c0)
                        c0 += 16
                    }
                    for ci in c0..<c {
                        var acc = bias?[ci] ?? 0
                        g.forEachTap(oy, ox) { iy, ix, k in acc += xs[(iy * g.w + ix) * c + ci] * weight[k * c + ci] }
                        out[ci] = acc
                    }
                    if let activation { ActivationKernel.apply(activation, out, count: c) }
                }
            }
        }
    }

    /// Accumulates dW and dBias when given; writes dX when given (overwriting it).
    static func backward(_ g: ConvGeometry, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                         dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>?,
                         dWeight: UnsafeMutablePointer<Float>?, dBias: UnsafeMutablePointer<Float>?) {
        let c = g.c
        if let dBias { sumRows(dy, rows: g.n * g.oh * g.ow, channels: c, into: dBias) }
        if let dx {
            dx.update(repeating: 0, count: g.inputCount)
            parallelFor(g.n) { samples in
                for s in samples {
                    let dxs = dx + s * g.h * g.w * c
                    for oy in 0..<g.oh {
                        for ox in 0..<g.ow {
                            let d = dy + ((s * g.oh + oy) * g.ow + ox) * c
                            g.forEachTap(oy, ox) { iy, ix, k in
                                let dst = dxs + (iy * g.w + ix) * c, wk = weight + k * c
                                for ci in 0..<c { dst[ci] += d[ci] * wk[ci] }
                            }
                        }
                    }
                }
            }
        }
        guard let dWeight else { return }
        // Each thread sums its samples into its own partial dW; the partials are added at the end.
        let wCount = g.kh * g.kw * c
        let threads = min(ComputeThreads.count, g.n)
        let partial = FloatBuffer(count: threads * wCount)
        let chunk = (g.n + threads - 1) / threads
        parallelFor(threads) { ts in
            for t in ts {
                let acc = partial.pointer + t * wCount
                for s in (t * chunk)..<min(g.n, (t + 1) * chunk) {
                    let xs = x + s * g.h * g.w * c
                    for oy in 0..<g.oh {
                        for ox in 0..<g.ow {
                            let d = dy + ((s * g.oh + oy) * g.ow + ox) * c
                            g.forEachTap(oy, ox) { iy, ix, k in
                                let xin = xs + (iy * g.w + ix) * c, a = acc + k * c
                                for ci in 0..<c { a[ci] += d[ci] * xin[ci] }
                            }
                        }
                    }
                }
            }
        }
        withExtendedLifetime(partial) {
            for t in 0..<threads {
                let p = partial.pointer + t * wCount
                for i in 0..<wCount { dWeight[i] += p[i] }
            }
        }
    }
}

@inline(__always)
func load16(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
}

@inline(__always)
func store16(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self)
}
