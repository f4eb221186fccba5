/// Sizes of one 2-D convolution or pooling window over an NHWC batch.
///
/// Input x: (n, h, w, c). Output y: (n, oh, ow, oc). Window (kh, kw), stride (sh, sw),
/// padding top/left (pt, pl) (bottom/right are implied by oh, ow), dilation (dh, dw).
struct ConvGeometry {
    var n: Int, h: Int, w: Int, c: Int
    var oh: Int, ow: Int, oc: Int
    var kh: Int, kw: Int, sh: Int, sw: Int, pt: Int, pl: Int, dh: Int, dw: Int
    var groups: Int

    init(batch: Int, input: FeatureShape, output: FeatureShape, conv p: Conv2DParams) {
        n = batch; h = input.height; w = input.width; c = input.channels
        oh = output.height; ow = output.width; oc = output.channels
        kh = p.kernel.h; kw = p.kernel.w; sh = p.stride.h; sw = p.stride.w
        pt = p.padding.top; pl = p.padding.left; dh = p.dilation.h; dw = p.dilation.w
        groups = p.groups
    }

    init(batch: Int, input: FeatureShape, output: FeatureShape, pool p: PoolParams) {
        n = batch; h = input.height; w = input.width; c = input.channels
        oh = output.height; ow = output.width; oc = output.channels
        kh = p.kernel.h; kw = p.kernel.w; sh = p.stride.h; sw = p.stride.w
        pt = p.padding.top; pl = p.padding.left; dh = 1; dw = 1
        groups = 1
    }

    /// Input channels per group.
    var cg: Int { c / groups }
    /// Output channels per group.
    var ocg: Int { oc / groups }
    /// Reduction length of one output value: kh * kw * cg.
    var k: Int { kh * kw * cg }
    var inputCount: Int { n * h * w * c }
    var outputCount: Int { n * oh * ow * oc }
    /// 1x1, stride 1, no padding: the input itself is the im2col matrix.
    var isPointwise: Bool { kh == 1 && kw == 1 && sh == 1 && sw == 1 && pt == 0 && pl == 0 && oh == h && ow == w }
    var isDepthwise: Bool { groups == c && groups == oc && groups > 1 }

    /// Calls body(iy, ix, tap) for each in-bounds input cell of output (oy, ox)'s window, where
    /// tap = ky * kw + kx indexes the kernel.
    @inline(__always)
    func forEachTap(_ oy: Int, _ ox: Int, _ body: (Int, Int, Int) -> Void) {
        for ky in 0..<kh {
            let iy = oy * sh - pt + ky * dh
            if iy < 0 || iy >= h { continue }
            for kx in 0..<kw {
                let ix = ox * sw - pl + kx * dw
                if ix < 0 || ix >= w { continue }
                body(iy, ix, ky * kw + kx)
            }
        }
    }
}
