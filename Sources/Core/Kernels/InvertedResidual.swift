/// Inference of an inverted-residual block's convolutions (MobileNetV2, "Inverted Residuals and
/// Linear Bottlenecks", arXiv:1801.04381; EfficientNet's MBConv) a band of output rows at a time,
/// so the expanded activations, the block's largest by far, are never written out whole (one band
/// of them stays in a core's caches from the expand to the depthwise convolution):
///
///     x         (n, h, w, cin)       block input
///     expand    (ce, cin) + (ce)     1x1 convolution, BN folded, then its activation
///     depthwise (kh, kw, ce) + (ce)  `g`: over the expanded image (h, w, ce) -> (oh, ow, ce), then its activation
///     project   (cout, ce) + (cout)  optional 1x1 convolution, BN folded, then its activation
///     residual  (n, oh, ow, cout)    optional, added last
///     y         (n, oh, ow, cout)    or (n, oh, ow, ce) without a project
///     scratch   `scratchCount(g)`    a band of expanded rows (inRows, w, ce), then of depthwise rows (rows, ow, ce)
///
/// Per sample, the input rows a band of output rows reads are expanded (rows shared with the
/// previous band are moved, not recomputed), convolved depthwise, and projected into y. The
/// result is the unfused layers' up to the order of float sums inside GEMM.
enum InvertedResidual {
    /// A 1x1 convolution's weights (oc, c) and bias, BN folded, and the activation after it.
    struct Pointwise {
        let weight: UnsafePointer<Float>
        let bias: UnsafePointer<Float>?
        let activation: Activation?
        let outChannels: Int
    }

    /// Floats the expanded rows of one band may take. Bands of 1 MB measured best (MobileNetV2
    /// inference, batch 32, 2 threads, CPU seconds of a run): 2-3% less than 0.5 MB, 5-8% less
    /// than 128 KB, whose GEMMs repack the weights too often.
    static let bandFloats = 1 << 18

    /// Output rows per band: as many as fit `floats` of expanded input rows, at least one.
    static func bandRows(_ g: ConvGeometry, floats: Int = bandFloats) -> Int {
        let rowFloats = max(1, g.w * g.c)
        let reach = (g.kh - 1) * g.dh + 1
        return max(1, min(g.oh, (floats / rowFloats - reach) / g.sh + 1))
    }

    /// Input rows a band of `rows` output rows reads at most.
    static func inputRows(_ g: ConvGeometry, rows: Int) -> Int { min(g.h, (rows - 1) * g.sh + (g.kh - 1) * g.dh + 1) }

    static func scratchCount(_ g: ConvGeometry, bandFloats floats: Int = bandFloats) -> Int {
        let rows = bandRows(g, floats: floats)
        return inputRows(g, rows: rows) * g.w * g.c + rows * g.ow * g.c
    }

    static func forward(_ g: ConvGeometry, x: UnsafePointer<Float>, inChannels cin: Int, expand: Pointwise,
                        depthwise: (weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, activation: Activation?),
                        project: Pointwise?, residual: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>,
                        scratch: UnsafeMutablePointer<Float>, bandFloats floats: Int = bandFloats) {
        precondition(expand.outChannels == g.c && g.isDepthwise, "an inverted residual expands to its depthwise channels")
        let ce = g.c, band = bandRows(g, floats: floats), rowFloats = g.w * ce
        let expanded = scratch, convolved = scratch + inputRows(g, rows: band) * rowFloats
        let cout = project?.outChannels ?? ce
        for s in 0..<g.n {
            let xs = x + s * g.h * g.w * cin, ys = y + s * g.oh * g.ow * cout
            var e0 = 0, e1 = 0  // input rows held in `expanded`
            var oy0 = 0
            while oy0 < g.oh {
                let oy1 = min(g.oh, oy0 + band)
                let need0 = max(0, oy0 * g.sh - g.pt)
                let need1 = min(g.h, (oy1 - 1) * g.sh - g.pt + (g.kh - 1) * g.dh + 1)
                // Rows already expanded move to the front; the rest are expanded now.
                let kept0 = max(need0, e0), kept1 = min(need1, e1)
                if kept1 > kept0, kept0 > e0 {
                    expanded.update(from: expanded + (kept0 - e0) * rowFloats, count: (kept1 - kept0) * rowFloats)
                }
                let first = max(need0, kept1 > kept0 ? kept1 : need0)
                if need1 > first {
                    pointwise(expand, x: xs + first * g.w * cin, c: cin, rows: (need1 - first) * g.w,
                              y: expanded + (first - need0) * rowFloats, residual: nil)
                }
                e0 = need0; e1 = need1
                // The depthwise convolution of rows oy0..<oy1 over expanded rows e0..<e1.
                var gb = g
                gb.n = 1; gb.h = e1 - e0; gb.oh = oy1 - oy0; gb.pt = g.pt + e0 - oy0 * g.sh
                let pixels = (oy1 - oy0) * g.ow
                guard let project else {
                    DepthwiseConv2D.forward(gb, x: expanded, weight: depthwise.weight, bias: depthwise.bias,
                                            activation: depthwise.activation, y: ys + oy0 * g.ow * ce)
                    oy0 = oy1
                    continue
                }
                DepthwiseConv2D.forward(gb, x: expanded, weight: depthwise.weight, bias: depthwise.bias,
                                        activation: depthwise.activation, y: convolved)
                let at = (s * g.oh * g.ow + oy0 * g.ow) * cout
                pointwise(project, x: convolved, c: ce, rows: pixels, y: y + at, residual: residual.map { $0 + at })
                oy0 = oy1
            }
        }
    }

    /// y (rows, oc) = activation(x (rows, c) · weightᵀ + bias) + residual.
    private static func pointwise(_ p: Pointwise, x: UnsafePointer<Float>, c: Int, rows: Int,
                                  y: UnsafeMutablePointer<Float>, residual: UnsafePointer<Float>?) {
        gemm(transB: true, m: rows, n: p.outChannels, k: c, a: x, lda: c, b: p.weight, ldb: c, c: y, ldc: p.outChannels)
        Conv2D.epilogue(y, bias: p.bias, activation: p.activation, rows: rows, channels: p.outChannels)
        if let residual { Add.forward(a: y, b: residual, y: y, count: rows * p.outChannels) }
    }
}
