/// Max, average and global average pooling over NHWC, forward and backward.
/// (Max pooling skips NaN inputs where PyTorch would propagate them.)
///
///     x (n, h, w, c)   y (n, oh, ow, c)   global: y (n, c)
enum MaxPool {
    static func forward(_ g: ConvGeometry, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>) {
        let c = g.c
        parallelFor(g.n * g.oh, minimumPerThread: 2) { rows in
            for r in rows {
                let s = r / g.oh, oy = r % g.oh
                let xs = x + s * g.h * g.w * c
                for ox in 0..<g.ow {
                    let out = y + (r * g.ow + ox) * c
                    out.update(repeating: -.infinity, count: c)
                    g.forEachTap(oy, ox) { iy, ix, _ in
                        let xin = xs + (iy * g.w + ix) * c
                        for i in 0..<c { let v = xin[i]; out[i] = v > out[i] ? v : out[i] }
                    }
                }
            }
        }
    }

    /// dx (overwritten) receives dy at the first maximum of each window, as PyTorch's.
    static func backward(_ g: ConvGeometry, x: UnsafePointer<Float>, y: UnsafePointer<Float>,
                         dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>) {
        let c = g.c
        dx.update(repeating: 0, count: g.inputCount)
        parallelFor(g.n) { samples in
            for s in samples {
                let xs = x + s * g.h * g.w * c, dxs = dx + s * g.h * g.w * c
                for oy in 0..<g.oh {
                    for ox in 0..<g.ow {
                        let o = ((s * g.oh + oy) * g.ow + ox) * c
                        let yo = y + o, d = dy + o
                        // 16 channels at a time: each tap takes dy where it equals the maximum
                        // and no earlier tap did.
                        var c0 = 0
                        while c0 + 16 <= c {
                            let target = load16(yo + c0), grad = load16(d + c0)
                            var open = SIMDMask<SIMD16<Int32>>(repeating: true)
                            g.forEachTap(oy, ox) { iy, ix, _ in
                                let p = dxs + (iy * g.w + ix) * c + c0
                                let hit = open .& (load16(xs + (iy * g.w + ix) * c + c0) .== target)
                                store16(load16(p) + SIMD16<Float>(repeating: 0).replacing(with: grad, where: hit), p)
                                open = open .& .!hit
                            }
                            c0 += 16
                        }
                        for i in c0..<c {
                            var open = true
                            g.forEachTap(oy, ox) { iy, ix, _ in
                                let off = (iy * g.w + ix) * c + i
                                if open, xs[off] == yo[i] { dxs[off] += d[i]; open = false }
                            }
                        }
                    }
                }
            }
        }
    }
}

enum AvgPool {
    static func divisor(_ g: ConvGeometry, _ p: PoolParams, _ oy: Int, _ ox: Int) -> Float {
        if p.countIncludePad {
            // PyTorch counts padded cells but not the part of the window beyond the padding.
            let y0 = oy * g.sh - g.pt, x0 = ox * g.sw - g.pl
            let y1 = min(y0 + g.kh, g.h + p.padding.bottom), x1 = min(x0 + g.kw, g.w + p.padding.right)
            return Float((y1 - y0) * (x1 - x0))
        }
        var taps = 0
        g.forEachTap(oy, ox) { _, _, _ in taps += 1 }
        return Float(max(taps, 1))
    }

    static func forward(_ g: ConvGeometry, _ p: PoolParams, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>) {
        let c = g.c
        parallelFor(g.n * g.oh) { rows in
            for r in rows {
                let s = r / g.oh, oy = r % g.oh
                let xs = x + s * g.h * g.w * c
                for ox in 0..<g.ow {
                    let out = y + (r * g.ow + ox) * c
                    out.update(repeating: 0, count: c)
                    g.forEachTap(oy, ox) { iy, ix, _ in
                        let xin = xs + (iy * g.w + ix) * c
                        for i in 0..<c { out[i] += xin[i] }
                    }
                    let inv = 1 / divisor(g, p, oy, ox)
                    for i in 0..<c { out[i] *= inv }
                }
            }
        }
    }

    static func backward(_ g: ConvGeometry, _ p: PoolParams, dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>) {
        let c = g.c
        dx.update(repeating: 0, count: g.inputCount)
        parallelFor(g.n) { samples in
            for s in samples {
                let dxs = dx + s * g.h * g.w * c
                for oy in 0..<g.oh {
                    for ox in 0..<g.ow {
                        let d = dy + ((s * g.oh + oy) * g.ow + ox) * c
                        let inv = 1 / divisor(g, p, oy, ox)
                        g.forEachTap(oy, ox) { iy, ix, _ in
                            let dst = dxs + (iy * g.w + ix) * c
                            for i in 0..<c { dst[i] += d[i] * inv }
                        }
                    }
                }
            }
        }
    }
}

enum GlobalAvgPool {
    static func forward(x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, n: Int, hw: Int, c: Int) {
        let inv = 1 / Float(hw)
        parallelFor(n) { samples in
            for s in samples {
                let out = y + s * c
                out.update(repeating: 0, count: c)
                for p in 0..<hw { let xr = x + (s * hw + p) * c; for i in 0..<c { out[i] += xr[i] } }
                for i in 0..<c { out[i] *= inv }
            }
        }
    }

    static func backward(dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>, n: Int, hw: Int, c: Int) {
        let inv = 1 / Float(hw)
        parallelFor(n) { samples in
            for s in samples {
                let d = dy + s * c
                for p in 0..<hw { let out = dx + (s * hw + p) * c; for i in 0..<c { out[i] = d[i] * inv } }
            }
        }
    }
}
