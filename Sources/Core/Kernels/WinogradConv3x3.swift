/// Winograd F(2x2, 3x3) for 3x3 convolutions with stride 1, padding 1, no dilation and one group,
/// NHWC: 16 multiplications per 2x2 output tile and channel pair instead of 36, the rest of the
/// work moving into cheap linear transforms (Lavin and Gray, "Fast Algorithms for Convolutional
/// Neural Networks", 2016).
///
///     U[e] = (G g Gᵀ)[e]        each 3x3 kernel slice becomes 4x4: e = 0..<16        U (16, oc, c)
///     V[e] = (Bᵀ d B)[e]        each 4x4 input tile d (stride 2, overlapping by 2)   V (16, tiles, c)
///     M[e] = V[e] · U[e]ᵀ       16 GEMMs through the one GEMM wrapper                 M (16, tiles, oc)
///     y    = Aᵀ M A             each tile's 4x4 becomes its 2x2 outputs
///
/// The input gradient of such a layer is the same convolution of dy with every kernel slice
/// rotated by 180° and the channel axes swapped, so `backwardData` runs the same pipeline.
/// `backwardWeights` runs it backwards: dM = A dy Aᵀ per tile, dU[e] = dM[e]ᵀ · V[e] (16 GEMMs
/// reducing over tiles), dW = Gᵀ dU G.
enum WinogradConv3x3 {
    static func applies(_ g: ConvGeometry) -> Bool {
        g.kh == 3 && g.kw == 3 && g.sh == 1 && g.sw == 1 && g.dh == 1 && g.dw == 1 && g.groups == 1
            && g.pt == 1 && g.pl == 1 && g.oh == g.h && g.ow == g.w
    }

    static func tileCount(_ g: ConvGeometry) -> Int { g.n * ((g.h + 1) / 2) * ((g.w + 1) / 2) }

    /// Tiles per pass, the passes equal: a pass's V and M (16 x tiles x (c + oc) floats) stay
    /// within 8 MB, mostly in cache between the transforms and the GEMMs (measured best of 2 to 64 MB).
    static func tilesPerPass(_ g: ConvGeometry) -> Int {
        let cap = max(64, (1 << 21) / (16 * (g.c + g.oc)))
        let passes = (tileCount(g) + cap - 1) / cap
        return (tileCount(g) + passes - 1) / passes
    }

    /// Floats of scratch each entry point needs: U (or dU), then one pass's V and M (or dM).
    static func scratchCount(_ g: ConvGeometry) -> Int {
        16 * g.oc * g.c + 16 * tilesPerPass(g) * (g.c + g.oc)
    }

    /// y = conv(x, weight) + bias, then the activation. `transformed`: the weights' U from
    /// `transform(_:oc:c:into:)`, for weights that do not change between calls (inference);
    /// nil transforms them into the scratch first.
    static func forward(_ g: ConvGeometry, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                        transformed: UnsafePointer<Float>? = nil,
                        bias: UnsafePointer<Float>?, activation: Activation?, y: UnsafeMutablePointer<Float>,
                        scratch: UnsafeMutablePointer<Float>) {
        let u = transformed ?? {
            transformKernels(weight, oc: g.oc, c: g.c, rotated: false, u: scratch)
            return UnsafePointer(scratch)
        }()
        convolve(g, input: x, inChannels: g.c, outChannels: g.oc, u: u, uIsOutByIn: true,
                 bias: bias, activation: activation, output: y, scratch: scratch + 16 * g.oc * g.c)
    }

    /// Floats of the transformed weights U of a layer (16 per output and input channel pair).
    static func transformedCount(_ g: ConvGeometry) -> Int { 16 * g.oc * g.c }

    /// U of `weight` (OHWI) for `forward(..., transformed:)`.
    static func transform(_ weight: UnsafePointer<Float>, oc: Int, c: Int, into u: UnsafeMutablePointer<Float>) {
        transformKernels(weight, oc: oc, c: c, rotated: false, u: u)
    }

    /// dx = the input gradient of `forward` for output gradient dy (overwriting dx).
    static func backwardData(_ g: ConvGeometry, weight: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                             dx: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>) {
        transformKernels(weight, oc: g.oc, c: g.c, rotated: true, u: scratch)
        convolve(g, input: dy, inChannels: g.oc, outChannels: g.c, u: scratch, uIsOutByIn: false,
                 bias: nil, activation: nil, output: dx, scratch: scratch + 16 * g.oc * g.c)
    }

    /// dWeight += the weight gradient of `forward` for input x and output gradient dy.
    static func backwardWeights(_ g: ConvGeometry, x: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                                dWeight: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>) {
        let total = tileCount(g), perPass = tilesPerPass(g)
        let du = scratch, v = scratch + 16 * g.oc * g.c, dm = v + 16 * perPass * g.c
        var t0 = 0
        while t0 < total {
            let tiles = min(perPass, total - t0)
            inputTiles(g, x, channels: g.c, firstTile: t0, tiles: tiles, v: v)
            gradientTiles(g, dy, channels: g.oc, firstTile: t0, tiles: tiles, dm: dm)
            for e in 0..<16 {
                gemm(transA: true, m: g.oc, n: g.c, k: tiles, a: dm + e * tiles * g.oc, lda: g.oc,
                     b: v + e * tiles * g.c, ldb: g.c, beta: t0 == 0 ? 0 : 1, c: du + e * g.oc * g.c, ldc: g.c)
            }
            t0 += tiles
        }
        accumulateKernelGradients(du, oc: g.oc, c: g.c, into: dWeight)
    }

    /// U[e][o][c] = (G g Gᵀ)[e] for g = weight[o, :, :, c] (OHWI), or that slice rotated by 180°.
    private static func transformKernels(_ weight: UnsafePointer<Float>, oc: Int, c: Int, rotated: Bool,
                                         u: UnsafeMutablePointer<Float>) {
        parallelFor(oc, minimumPerThread: 8) { outs in
            // t[0..<9]: the 3x3 slice; t[9..<21]: G g, 4 rows of 3.
            withUnsafeTemporaryAllocation(of: Lanes.self, capacity: 21) { t in
                for o in outs {
                    forEachBlock(of: c) { c0, lanes in
                        for k in 0..<9 { t[k] = load(weight + (o * 9 + (rotated ? 8 - k : k)) * c + c0, lanes) }
                        for kx in 0..<3 {
                            (t[9 + kx], t[12 + kx], t[15 + kx], t[18 + kx]) = kernelTransform(t[kx], t[3 + kx], t[6 + kx])
                        }
                        for i in 0..<4 {
                            let (a, b, cc, d) = kernelTransform(t[9 + 3 * i], t[10 + 3 * i], t[11 + 3 * i])
                            let dst = u + 4 * i * oc * c + o * c + c0
                            store(a, dst, lanes)
                            store(b, dst + oc * c, lanes)
                            store(cc, dst + 2 * oc * c, lanes)
                            store(d, dst + 3 * oc * c, lanes)
                        }
                    }
                }
            }
        }
    }

    /// The shared pipeline: input tiles -> V, 16 GEMMs with U -> M, M -> output tiles.
    /// uIsOutByIn: U[e] is (outChannels x inChannels) (forward) rather than (inChannels x outChannels).
    private static func convolve(_ g: ConvGeometry, input: UnsafePointer<Float>, inChannels: Int, outChannels: Int,
                                 u: UnsafePointer<Float>, uIsOutByIn: Bool, bias: UnsafePointer<Float>?,
                                 activation: Activation?, output: UnsafeMutablePointer<Float>,
                                 scratch: UnsafeMutablePointer<Float>) {
        let total = tileCount(g), perPass = tilesPerPass(g)
        let v = scratch, m = scratch + 16 * perPass * inChannels
        var t0 = 0
        while t0 < total {
            let tiles = min(perPass, total - t0)
            inputTiles(g, input, channels: inChannels, firstTile: t0, tiles: tiles, v: v)
            for e in 0..<16 {
                gemm(transB: uIsOutByIn, m: tiles, n: outChannels, k: inChannels,
                     a: v + e * tiles * inChannels, lda: inChannels,
                     b: u + e * outChannels * inChannels, ldb: uIsOutByIn ? inChannels : outChannels,
                     c: m + e * tiles * outChannels, ldc: outChannels)
            }
            outputTiles(g, m, channels: outChannels, firstTile: t0, tiles: tiles, bias: bias,
                        activation: activation, output: output)
            t0 += tiles
        }
    }

    /// dW[o, :, :, c] += Gᵀ dU[·][o][c] G: the adjoint of `transformKernels`.
    private static func accumulateKernelGradients(_ du: UnsafePointer<Float>, oc: Int, c: Int,
                                                  into dWeight: UnsafeMutablePointer<Float>) {
        parallelFor(oc, minimumPerThread: 8) { outs in
            // t[0..<16]: the 4x4 of dU; t[16..<28]: Gᵀ dU, 3 rows of 4.
            withUnsafeTemporaryAllocation(of: Lanes.self, capacity: 28) { t in
                for o in outs {
                    forEachBlock(of: c) { c0, lanes in
                        for e in 0..<16 { t[e] = load(du + e * oc * c + o * c + c0, lanes) }
                        for j in 0..<4 {
                            (t[16 + j], t[20 + j], t[24 + j]) = kernelAdjoint(t[j], t[4 + j], t[8 + j], t[12 + j])
                        }
                        for ky in 0..<3 {
                            let (a, b, cc) = kernelAdjoint(t[16 + 4 * ky], t[17 + 4 * ky], t[18 + 4 * ky], t[19 + 4 * ky])
                            let dst = dWeight + (o * 9 + ky * 3) * c + c0
                            store(load(dst, lanes) + a, dst, lanes)
                            store(load(dst + c, lanes) + b, dst + c, lanes)
                            store(load(dst + 2 * c, lanes) + cc, dst + 2 * c, lanes)
                        }
                    }
                }
            }
        }
    }

    /// Tile t covers input rows 2ty-1 ..< 2ty+3 and columns 2tx-1 ..< 2tx+3 of sample s.
    @inline(__always)
    private static func tilePosition(_ g: ConvGeometry, _ t: Int) -> (s: Int, y: Int, x: Int) {
        let ty = (g.h + 1) / 2, tx = (g.w + 1) / 2
        let s = t / (ty * tx), r = t % (ty * tx)
        return (s, 2 * (r / tx), 2 * (r % tx))
    }

    /// V[e][t][c] = (Bᵀ d B)[e] for tile t's 4x4 window d of channel c (zero outside the image).
    private static func inputTiles(_ g: ConvGeometry, _ x: UnsafePointer<Float>, channels c: Int,
                                   firstTile t0: Int, tiles: Int, v: UnsafeMutablePointer<Float>) {
        forEachTile(g, firstTile: t0, tiles: tiles) { t, s, y0, x0, d in
            withUnsafeTemporaryAllocation(of: UnsafePointer<Float>?.self, capacity: 16) { window in
                for i in 0..<4 {
                    for j in 0..<4 {
                        let iy = y0 - 1 + i, ix = x0 - 1 + j
                        let inside = iy >= 0 && iy < g.h && ix >= 0 && ix < g.w
                        window[4 * i + j] = inside ? x + ((s * g.h + iy) * g.w + ix) * c : nil
                    }
                }
                forEachBlock(of: c) { c0, lanes in
                    for k in 0..<16 { d[k] = window[k].map { load($0 + c0, lanes) } ?? Lanes() }
                    for j in 0..<4 { (d[j], d[4 + j], d[8 + j], d[12 + j]) = inputTransform(d[j], d[4 + j], d[8 + j], d[12 + j]) }
                    for i in 0..<4 { (d[4 * i], d[4 * i + 1], d[4 * i + 2], d[4 * i + 3]) = inputTransform(d[4 * i], d[4 * i + 1], d[4 * i + 2], d[4 * i + 3]) }
                    for e in 0..<16 { store(d[e], v + (e * tiles + t) * c + c0, lanes) }
                }
            }
        }
    }

    /// Output tile t = Aᵀ M A (+ bias, then the activation), clipped to the image.
    private static func outputTiles(_ g: ConvGeometry, _ m: UnsafePointer<Float>, channels c: Int,
                                    firstTile t0: Int, tiles: Int, bias: UnsafePointer<Float>?,
                                    activation: Activation?, output: UnsafeMutablePointer<Float>) {
        forEachTile(g, firstTile: t0, tiles: tiles) { t, s, y0, x0, p in
            let rows = min(2, g.h - y0), cols = min(2, g.w - x0)
            forEachBlock(of: c) { c0, lanes in
                for e in 0..<16 { p[e] = load(m + (e * tiles + t) * c + c0, lanes) }
                // Columns: rows 0, 1 of Aᵀ M into p[0...3], p[4...7]; then each row's two outputs.
                for j in 0..<4 { (p[j], p[4 + j]) = outputTransform(p[j], p[4 + j], p[8 + j], p[12 + j]) }
                let b = bias.map { load($0 + c0, lanes) } ?? Lanes()
                for i in 0..<rows {
                    let (left, right) = outputTransform(p[4 * i], p[4 * i + 1], p[4 * i + 2], p[4 * i + 3])
                    let out = output + ((s * g.h + y0 + i) * g.w + x0) * c + c0
                    store(left + b, out, lanes)
                    if cols > 1 { store(right + b, out + c, lanes) }
                }
            }
            if let activation {
                for i in 0..<rows {
                    ActivationKernel.apply(activation, output + ((s * g.h + y0 + i) * g.w + x0) * c, count: cols * c)
                }
            }
        }
    }

    /// dM[e][t][c] = (A dY Aᵀ)[e] for tile t's 2x2 output gradient dY of channel c (zero past the image).
    private static func gradientTiles(_ g: ConvGeometry, _ dy: UnsafePointer<Float>, channels c: Int,
                                      firstTile t0: Int, tiles: Int, dm: UnsafeMutablePointer<Float>) {
        forEachTile(g, firstTile: t0, tiles: tiles) { t, s, y0, x0, p in
            let rows = min(2, g.h - y0), cols = min(2, g.w - x0)
            forEachBlock(of: c) { c0, lanes in
                // Columns: A (dY[0][j], dY[1][j]) into p[j], p[4 + j], p[8 + j], p[12 + j].
                for j in 0..<2 {
                    var d0 = Lanes(), d1 = Lanes()
                    if j < cols {
                        let src = dy + ((s * g.h + y0) * g.w + x0 + j) * c + c0
                        d0 = load(src, lanes)
                        if rows > 1 { d1 = load(src + g.w * c, lanes) }
                    }
                    (p[j], p[4 + j], p[8 + j], p[12 + j]) = gradientTransform(d0, d1)
                }
                for i in 0..<4 {
                    (p[4 * i], p[4 * i + 1], p[4 * i + 2], p[4 * i + 3]) = gradientTransform(p[4 * i], p[4 * i + 1])
                }
                for e in 0..<16 { store(p[e], dm + (e * tiles + t) * c + c0, lanes) }
            }
        }
    }

    /// body(t, s, y0, x0, p) for each tile t0 + t, t < tiles, split over the compute threads:
    /// the tile's sample s and top-left output (y0, x0), and a 16-vector workspace per thread.
    @inline(__always)
    private static func forEachTile(_ g: ConvGeometry, firstTile t0: Int, tiles: Int,
                                    _ body: (Int, Int, Int, Int, UnsafeMutableBufferPointer<Lanes>) -> Void) {
        parallelFor(tiles, minimumPerThread: 16) { range in
            withUnsafeTemporaryAllocation(of: Lanes.self, capacity: 16) { p in
                for t in range {
                    let (s, y0, x0) = tilePosition(g, t0 + t)
                    body(t, s, y0, x0, p)
                }
            }
        }
    }

    /// body(c0, lanes) for each block of up to 8 channels.
    @inline(__always)
    private static func forEachBlock(of c: Int, _ body: (Int, Int) -> Void) {
        var c0 = 0
        while c0 < c {
            body(c0, min(8, c - c0))
            c0 += 8
        }
    }

    typealias Lanes = SIMD8<Float>

    /// G g for one column (g0, g1, g2) of a kernel.
    @inline(__always)
    private static func kernelTransform(_ g0: Lanes, _ g1: Lanes, _ g2: Lanes) -> (Lanes, Lanes, Lanes, Lanes) {
        let half = (g0 + g2) * 0.5
        return (g0, half + g1 * 0.5, half - g1 * 0.5, g2)
    }

    /// Gᵀ u for one column (u0, u1, u2, u3) of a kernel gradient in the transformed domain.
    @inline(__always)
    private static func kernelAdjoint(_ u0: Lanes, _ u1: Lanes, _ u2: Lanes, _ u3: Lanes) -> (Lanes, Lanes, Lanes) {
        let sum = (u1 + u2) * 0.5
        return (u0 + sum, (u1 - u2) * 0.5, sum + u3)
    }

    /// A y for one column (y0, y1) of an output-gradient tile: the adjoint of `outputTransform`.
    @inline(__always)
    private static func gradientTransform(_ y0: Lanes, _ y1: Lanes) -> (Lanes, Lanes, Lanes, Lanes) {
        (y0, y0 + y1, y0 - y1, -y1)
    }

    /// Bᵀ d for one column (d0, d1, d2, d3) of an input tile.
    @inline(__always)
    private static func inputTransform(_ d0: Lanes, _ d1: Lanes, _ d2: Lanes, _ d3: Lanes) -> (Lanes, Lanes, Lanes, Lanes) {
        (d0 - d2, d1 + d2, d2 - d1, d1 - d3)
    }

    /// Aᵀ m for one column (m0, m1, m2, m3) of a tile product.
    @inline(__always)
    private static func outputTransform(_ m0: Lanes, _ m1: Lanes, _ m2: Lanes, _ m3: Lanes) -> (Lanes, Lanes) {
        (m0 + m1 + m2, m1 - m2 - m3)
    }

    /// The first `lanes` floats at p (the rest zero).
    @inline(__always)
    private static func load(_ p: UnsafePointer<Float>, _ lanes: Int) -> Lanes {
        if lanes == 8 { return UnsafeRawPointer(p).loadUnaligned(as: Lanes.self) }
        var v = Lanes()
        for i in 0..<lanes { v[i] = p[i] }
        return v
    }

    @inline(__always)
    private static func store(_ v: Lanes, _ p: UnsafeMutablePointer<Float>, _ lanes: Int) {
        if lanes == 8 { UnsafeMutableRawPointer(p).storeBytes(of: v, as: Lanes.self); return }
        for i in 0..<lanes { p[i] = v[i] }
    }
}
