/// Grouped 2-D convolution with narrow groups (RegNet's 3x3 convolutions have 8 to 16 channels
/// per group), a direct kernel vectorised over channels, forward and backward. Through im2col
/// and GEMM each group's product is a thin matrix (16 columns) over a copy of the input 9x its
/// size; here each group's weights stay in L1 and the input is read where it lies.
///
///     x       (n, h, w, c)                  c = groups * cg
///     weight  (oc, kh, kw, cg)              as `Conv2D`'s, oc = groups * ocg
///     y       (n, oh, ow, oc)
///
/// Each pass rearranges the (small) weights first so that the vectorised channels are
/// contiguous: forward reads them as (groups, kh, kw, cg, ocg), the input gradient as
/// (groups, kh, kw, ocg, cg).
enum GroupedConv2D {
    /// Groups of 8 to 64 channels, in and out, a multiple of 8 each; not depthwise, not 1x1.
    static func applies(_ g: ConvGeometry) -> Bool {
        g.groups > 1 && !g.isDepthwise && g.kh * g.kw > 1
            && g.cg % 8 == 0 && g.ocg % 8 == 0 && g.cg <= 64 && g.ocg <= 64
    }

    /// y = x * weight (+ bias, then activation).
    static func forward(_ g: ConvGeometry, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                        bias: UnsafePointer<Float>?, activation: Activation?, y: UnsafeMutablePointer<Float>) {
        // wt[group][tap][ci][o] = weight[group * ocg + o][tap][ci]
        let taps = g.kh * g.kw
        var wt = [Float](repeating: 0, count: g.oc * taps * g.cg)
        for group in 0..<g.groups {
            for o in 0..<g.ocg {
                for t in 0..<taps {
                    for ci in 0..<g.cg {
                        wt[((group * taps + t) * g.cg + ci) * g.ocg + o] = weight[((group * g.ocg + o) * taps + t) * g.cg + ci]
                    }
                }
            }
        }
        let interior = interiorColumns(g)
        wt.withUnsafeBufferPointer { wt in
            parallelFor(g.n * g.oh) { rows in
                for r in rows {
                    for group in 0..<g.groups {
                        var o0 = 0
                        while o0 < g.ocg {
                            if o0 + 16 <= g.ocg {
                                forwardRow(SIMD16<Float>.self, g, row: r, group: group, o0: o0, interior: interior,
                                           x: x, wt: wt.baseAddress!, y: y)
                                o0 += 16
                            } else {
                                forwardRow(SIMD8<Float>.self, g, row: r, group: group, o0: o0, interior: interior,
                                           x: x, wt: wt.baseAddress!, y: y)
                                o0 += 8
                            }
                        }
                    }
                }
            }
        }
        Conv2D.epilogue(y, bias: bias, activation: activation, rows: g.n * g.oh * g.ow, channels: g.oc)
    }

    /// Output columns whose whole window lies inside the input row.
    static func interiorColumns(_ g: ConvGeometry) -> Range<Int> {
        let first = min(g.ow, (g.pl + g.sw - 1) / g.sw)
        let reach = (g.kw - 1) * g.dw - g.pl  // ix of the last tap, minus ox * sw
        let end = g.w - reach > 0 ? min(g.ow, (g.w - 1 - reach) / g.sw + 1) : 0
        return first..<max(first, end)
    }

    /// Output channels o0..<o0 + V.scalarCount of one group in output row `row`: four
    /// neighbouring pixels share each weight load where their windows are inside the row.
    @inline(__always)
    private static func forwardRow<V: SIMD>(_: V.Type, _ g: ConvGeometry, row r: Int, group: Int, o0: Int, interior: Range<Int>,
                                            x: UnsafePointer<Float>, wt: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>)
    where V.Scalar == Float {
        let s = r / g.oh, oy = r % g.oh, taps = g.kh * g.kw, cg = g.cg, ocg = g.ocg, c = g.c
        let xs = x + s * g.h * g.w * c + group * cg
        let wg = wt + group * taps * cg * ocg + o0
        let out = y + r * g.ow * g.oc + group * ocg + o0
        func store(_ v: V, _ ox: Int) { UnsafeMutableRawPointer(out + ox * g.oc).storeBytes(of: v, as: V.self) }
        var ox = 0
        while ox < g.ow {
            if interior.contains(ox), ox + 3 < interior.upperBound {
                var a0 = V(), a1 = V(), a2 = V(), a3 = V()
                for ky in 0..<g.kh {
                    let iy = oy * g.sh - g.pt + ky * g.dh
                    if iy < 0 || iy >= g.h { continue }
                    for kx in 0..<g.kw {
                        let p0 = xs + (iy * g.w + ox * g.sw - g.pl + kx * g.dw) * c
                        let p1 = p0 + g.sw * c, p2 = p1 + g.sw * c, p3 = p2 + g.sw * c
                        let wk = wg + (ky * g.kw + kx) * cg * ocg
                        for ci in 0..<cg {
                            let wv = UnsafeRawPointer(wk + ci * ocg).loadUnaligned(as: V.self)
                            a0 += wv * V(repeating: p0[ci]); a1 += wv * V(repeating: p1[ci])
                            a2 += wv * V(repeating: p2[ci]); a3 += wv * V(repeating: p3[ci])
                        }
                    }
                }
                store(a0, ox); store(a1, ox + 1); store(a2, ox + 2); store(a3, ox + 3)
                ox += 4
            } else {
                var a = V()
                g.forEachTap(oy, ox) { iy, ix, t in
                    let p = xs + (iy * g.w + ix) * c, wk = wg + t * cg * ocg
                    for ci in 0..<cg { a += UnsafeRawPointer(wk + ci * ocg).loadUnaligned(as: V.self) * V(repeating: p[ci]) }
                }
                store(a, ox)
                ox += 1
            }
        }
    }

    /// Accumulates dWeight; writes dx (overwriting it). Either may be nil.
    static func backward(_ g: ConvGeometry, x: UnsafePointer<Float>, weight: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                         dx: UnsafeMutablePointer<Float>?, dWeight: UnsafeMutablePointer<Float>?) {
        if let dx { backwardData(g, weight: weight, dy: dy, dx: dx) }
        if let dWeight { backwardWeights(g, x: x, dy: dy, dWeight: dWeight) }
    }

    /// dx[iy][ix][group, ci] = sum over the outputs whose window holds (iy, ix) and their
    /// channels o of dy[oy][ox][group, o] * weight[group, o][tap][ci]: each output pixel adds
    /// its share to its window, samples split between threads.
    static func backwardData(_ g: ConvGeometry, weight: UnsafePointer<Float>, dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>) {
        let taps = g.kh * g.kw, cg = g.cg, ocg = g.ocg
        // wt[group][tap][o][ci] = weight[group * ocg + o][tap][ci]
        var wt = [Float](repeating: 0, count: g.oc * taps * cg)
        for group in 0..<g.groups {
            for o in 0..<ocg {
                for t in 0..<taps {
                    for ci in 0..<cg { wt[((group * taps + t) * ocg + o) * cg + ci] = weight[((group * ocg + o) * taps + t) * cg + ci] }
                }
            }
        }
        wt.withUnsafeBufferPointer { wt in
            parallelFor(g.n) { samples in
                for s in samples {
                    let dxs = dx + s * g.h * g.w * g.c
                    dxs.update(repeating: 0, count: g.h * g.w * g.c)
                    var c0 = 0
                    while c0 < cg {
                        if c0 + 16 <= cg {
                            scatterSample(SIMD16<Float>.self, g, sample: s, c0: c0, wt: wt.baseAddress!, dy: dy, dx: dxs)
                            c0 += 16
                        } else {
                            scatterSample(SIMD8<Float>.self, g, sample: s, c0: c0, wt: wt.baseAddress!, dy: dy, dx: dxs)
                            c0 += 8
                        }
                    }
                }
            }
        }
    }

    /// Input channels c0..<c0 + V.scalarCount of every group of one sample.
    @inline(__always)
    private static func scatterSample<V: SIMD>(_: V.Type, _ g: ConvGeometry, sample s: Int, c0: Int, wt: UnsafePointer<Float>,
                                               dy: UnsafePointer<Float>, dx dxs: UnsafeMutablePointer<Float>)
    where V.Scalar == Float {
        let taps = g.kh * g.kw, cg = g.cg, ocg = g.ocg
        for oy in 0..<g.oh {
            for ox in 0..<g.ow {
                let d = dy + ((s * g.oh + oy) * g.ow + ox) * g.oc
                for group in 0..<g.groups {
                    let dg = d + group * ocg, wg = wt + group * taps * ocg * cg + c0
                    g.forEachTap(oy, ox) { iy, ix, t in
                        let target = UnsafeMutableRawPointer(dxs + (iy * g.w + ix) * g.c + group * cg + c0)
                        var acc = target.loadUnaligned(as: V.self)
                        let wk = wg + t * ocg * cg
                        for o in 0..<ocg { acc += UnsafeRawPointer(wk + o * cg).loadUnaligned(as: V.self) * V(repeating: dg[o]) }
                        target.storeBytes(of: acc, as: V.self)
                    }
                }
            }
        }
    }

    /// dWeight[group, o][tap][ci] += sum over output pixels of dy[p][group, o] * x[window(p, tap)][group, ci].
    /// Threads take groups; a group's weights (9 KB for 16 in and 16 out) take each output row's
    /// sums in turn, four output channels at a time, while its input rows are in cache.
    static func backwardWeights(_ g: ConvGeometry, x: UnsafePointer<Float>, dy: UnsafePointer<Float>, dWeight: UnsafeMutablePointer<Float>) {
        parallelFor(g.groups) { groups in
            for group in groups {
                for r in 0..<(g.n * g.oh) {
                    var c0 = 0
                    while c0 < g.cg {
                        if c0 + 16 <= g.cg {
                            weightsOfRow(SIMD16<Float>.self, g, row: r, group: group, c0: c0, x: x, dy: dy, dWeight: dWeight)
                            c0 += 16
                        } else {
                            weightsOfRow(SIMD8<Float>.self, g, row: r, group: group, c0: c0, x: x, dy: dy, dWeight: dWeight)
                            c0 += 8
                        }
                    }
                }
            }
        }
    }

    @inline(__always)
    private static func weightsOfRow<V: SIMD>(_: V.Type, _ g: ConvGeometry, row r: Int, group: Int, c0: Int, x: UnsafePointer<Float>,
                                              dy: UnsafePointer<Float>, dWeight: UnsafeMutablePointer<Float>)
    where V.Scalar == Float {
        let s = r / g.oh, oy = r % g.oh, taps = g.kh * g.kw, cg = g.cg, ocg = g.ocg, c = g.c
        let dr = dy + r * g.ow * g.oc + group * ocg
        for ky in 0..<g.kh {
            let iy = oy * g.sh - g.pt + ky * g.dh
            if iy < 0 || iy >= g.h { continue }
            for kx in 0..<g.kw {
                // Output columns whose tap (ky, kx) is inside the input row.
                let lowest = g.pl - kx * g.dw, first = lowest <= 0 ? 0 : (lowest + g.sw - 1) / g.sw
                let highest = g.w - 1 + g.pl - kx * g.dw, end = highest < 0 ? 0 : min(g.ow, highest / g.sw + 1)
                guard first < end else { continue }
                let t = ky * g.kw + kx
                let base = ((s * g.h + iy) * g.w - g.pl + kx * g.dw) * c + group * cg + c0  // + ox * sw * c: in bounds
                var o = 0
                while o < ocg {  // ocg is a multiple of 8: four at a time
                    var a0 = V(), a1 = V(), a2 = V(), a3 = V()
                    for ox in first..<end {
                        let xv = UnsafeRawPointer(x + (base + ox * g.sw * c)).loadUnaligned(as: V.self)
                        let d = dr + ox * g.oc + o
                        a0 += xv * V(repeating: d[0]); a1 += xv * V(repeating: d[1])
                        a2 += xv * V(repeating: d[2]); a3 += xv * V(repeating: d[3])
                    }
                    func add(_ a: V, _ j: Int) {
                        let target = UnsafeMutableRawPointer(dWeight + ((group * ocg + o + j) * taps + t) * cg + c0)
                        target.storeBytes(of: target.loadUnaligned(as: V.self) + a, as: V.self)
                    }
                    add(a0, 0); add(a1, 1); add(a2, 2); add(a3, 3)
                    o += 4
                }
            }
        }
    }
}
