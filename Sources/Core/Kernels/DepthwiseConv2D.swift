/// Depthwise 2-D convolution (groups == in == out channels), a direct kernel vectorised over
/// channels, forward and backward.
///
///     x     (n, h, w, c)
///     wt    (kh, kw, c)      weights ("HWC"; files keep torchvision's (c, 1, kh, kw))
///     bias  (c)              optional
///     y     (n, oh, ow, c)
enum DepthwiseConv2D {
    /// - Parameter activation: applied to each output row once it is complete (inference epilogue).
    ///
    /// Per output row, 16 channels at a time, then 8 and 4 for the rest (EfficientNet-B3's first
    /// blocks have 40 and 24 channels), the last one to three one by one.
    static func forward(_ g: ConvGeometry, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                        bias: UnsafePointer<Float>?, activation: Activation? = nil, y: UnsafeMutablePointer<Float>) {
        let c = g.c
        // Output columns whose whole window is inside the input: firstInterior..<endInterior.
        let firstInterior = min(g.ow, (g.pl + g.sw - 1) / g.sw)
        let lastReach = (g.kw - 1) * g.dw - g.pl  // ix of the last tap, minus ox * sw
        let endInterior = max(firstInterior, min(g.ow, g.w - lastReach > 0 ? (g.w - 1 - lastReach) / g.sw + 1 : 0))
        let interior = firstInterior..<endInterior
        parallelFor(g.n * g.oh, minimumPerThread: 2) { rows in
            for r in rows {
                let s = r / g.oh, oy = r % g.oh
                let xs = x + s * g.h * g.w * c
                let outRow = y + r * g.ow * c
                var c0 = 0
                while c0 + 16 <= c {
                    forwardRow(SIMD16<Float>.self, g, oy: oy, c0: c0, interior: interior, xs: xs, weight: weight, bias: bias, outRow: outRow)
                    c0 += 16
                }
                if c0 + 8 <= c {
                    forwardRow(SIMD8<Float>.self, g, oy: oy, c0: c0, interior: interior, xs: xs, weight: weight, bias: bias, outRow: outRow)
                    c0 += 8
                }
                if c0 + 4 <= c {
                    forwardRow(SIMD4<Float>.self, g, oy: oy, c0: c0, interior: interior, xs: xs, weight: weight, bias: bias, outRow: outRow)
                    c0 += 4
                }
                if c0 < c {
                    for ox in 0..<g.ow {
                        let out = outRow + ox * c
                        for ci in c0..<c {
                            var acc = bias?[ci] ?? 0
                            g.forEachTap(oy, ox) { iy, ix, k in acc += xs[(iy * g.w + ix) * c + ci] * weight[k * c + ci] }
                            out[ci] = acc
                        }
                    }
                }
                if let activation { ActivationKernel.apply(activation, outRow, count: g.ow * c) }
            }
        }
    }

    /// Channels c0..<c0 + V.scalarCount of output row `oy`: four neighbouring output pixels whose
    /// windows lie inside the row (`interior`, most of the row) share each weight load; the
    /// others go one pixel at a time.
    @inline(__always)
    private static func forwardRow<V: SIMD>(_: V.Type, _ g: ConvGeometry, oy: Int, c0: Int, interior: Range<Int>,
                                            xs: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                            bias: UnsafePointer<Float>?, outRow: UnsafeMutablePointer<Float>)
    where V.Scalar == Float {
        let c = g.c
        @inline(__always) func load(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
        @inline(__always) func store(_ v: V, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self) }
        let b = bias.map { load($0 + c0) } ?? V()
        func onePixel(_ ox: Int) {
            var acc = b
            g.forEachTap(oy, ox) { iy, ix, k in
                acc += load(xs + (iy * g.w + ix) * c + c0) * load(weight + k * c + c0)
            }
            store(acc, outRow + ox * c + c0)
        }
        var ox = 0
        while ox < interior.lowerBound { onePixel(ox); ox += 1 }
        while ox + 4 <= interior.upperBound {
            var a0 = b, a1 = b, a2 = b, a3 = b
            let step = g.sw * c
            for ky in 0..<g.kh {
                let iy = oy * g.sh - g.pt + ky * g.dh
                if iy < 0 || iy >= g.h { continue }
                let row = xs + (iy * g.w + ox * g.sw - g.pl) * c + c0
                for kx in 0..<g.kw {
                    let wv = load(weight + (ky * g.kw + kx) * c + c0)
                    let p = row + kx * g.dw * c
                    a0 += load(p) * wv
                    a1 += load(p + step) * wv
                    a2 += load(p + 2 * step) * wv
                    a3 += load(p + 3 * step) * wv
                }
            }
            let out = outRow + ox * c + c0
            store(a0, out); store(a1, out + c); store(a2, out + 2 * c); store(a3, out + 3 * c)
            ox += 4
        }
        while ox < g.ow { onePixel(ox); ox += 1 }
    }

    /// Accumulates dW and dBias when given; writes dX when given (overwriting it).
    static func backward(_ g: ConvGeometry, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                         dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>?,
                         dWeight: UnsafeMutablePointer<Float>?, dBias: UnsafeMutablePointer<Float>?) {
        let c = g.c
        if let dBias { sumRows(dy, rows: g.n * g.oh * g.ow, channels: c, into: dBias) }
        if let dx {
            // Gathered per input pixel: the sum over the outputs whose windows contain it, each
            // dx value written once, 16 channels at a time in registers (then 8 and 4).
            parallelFor(g.n * g.h, minimumPerThread: 2) { rows in
                withUnsafeTemporaryAllocation(of: (dy: Int, w: Int).self, capacity: g.kh * g.kw) { taps in
                    for r in rows {
                        let s = r / g.h, iy = r % g.h
                        for ix in 0..<g.w {
                            var count = 0
                            for ky in 0..<g.kh {
                                let ty = iy + g.pt - ky * g.dh
                                guard ty >= 0, ty % g.sh == 0, ty / g.sh < g.oh else { continue }
                                for kx in 0..<g.kw {
                                    let tx = ix + g.pl - kx * g.dw
                                    guard tx >= 0, tx % g.sw == 0, tx / g.sw < g.ow else { continue }
                                    taps[count] = (((s * g.oh + ty / g.sh) * g.ow + tx / g.sw) * c, (ky * g.kw + kx) * c)
                                    count += 1
                                }
                            }
                            let out = dx + (r * g.w + ix) * c
                            @inline(__always) func gather<V: SIMD>(_: V.Type, _ c0: Int) where V.Scalar == Float {
                                var acc = V()
                                let dyc = dy + c0, wc = weight + c0  // pointer steps only: no checked Int sums per tap
                                for t in 0..<count {
                                    acc += UnsafeRawPointer(dyc + taps[t].dy).loadUnaligned(as: V.self)
                                        * UnsafeRawPointer(wc + taps[t].w).loadUnaligned(as: V.self)
                                }
                                UnsafeMutableRawPointer(out + c0).storeBytes(of: acc, as: V.self)
                            }
                            var c0 = 0
                            while c0 + 16 <= c { gather(SIMD16<Float>.self, c0); c0 += 16 }
                            if c0 + 8 <= c { gather(SIMD8<Float>.self, c0); c0 += 8 }
                            if c0 + 4 <= c { gather(SIMD4<Float>.self, c0); c0 += 4 }
                            for ci in c0..<c {
                                var acc: Float = 0
                                for t in 0..<count { acc += (dy + ci)[taps[t].dy] * (weight + ci)[taps[t].w] }
                                out[ci] = acc
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
