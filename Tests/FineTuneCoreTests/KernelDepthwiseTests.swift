import XCTest
@testable import FineTuneCore

/// The depthwise forward's blocked interior and its edges against a direct loop over every
/// output value, for kernels 3 and 5, strides 1 and 2, dilation, channel counts below, at and
/// past the vector widths (16, then 8 and 4: 31 = 16 + 8 + 4 + 3), and widths from 1 up. Tolerance 1e-5 of the largest value.
final class KernelDepthwiseTests: XCTestCase {
    func testForwardMatchesDirectLoop() {
        for (kernel, stride, dilation) in [(3, 1, 1), (3, 2, 1), (5, 1, 1), (5, 2, 1), (3, 1, 2)] {
            for c in [5, 16, 31, 40] {
                for width in [1, 4, 7, 12] {
                    check(kernel: kernel, stride: stride, dilation: dilation, c: c, h: 5, w: width)
                }
            }
        }
    }

    private func check(kernel: Int, stride: Int, dilation: Int, c: Int, h: Int, w: Int) {
        let p = Conv2DParams(outChannels: c, kernel: kernel, stride: stride, dilation: dilation, groups: c, bias: true)
        let pad = p.padding.top, span = (kernel - 1) * dilation
        let oh = (h + 2 * pad - span - 1) / stride + 1, ow = (w + 2 * pad - span - 1) / stride + 1
        let g = ConvGeometry(batch: 2, input: FeatureShape(height: h, width: w, channels: c),
                             output: FeatureShape(height: oh, width: ow, channels: c), conv: p)
        var rng = SplitMix64(seed: UInt64(kernel * 100 + c + w))
        func random(_ count: Int) -> [Float] { (0..<count).map { _ in rng.nextFloat() * 2 - 1 } }
        let x = random(g.inputCount), weight = random(kernel * kernel * c), bias = random(c)
        var y = [Float](repeating: .nan, count: g.outputCount)
        DepthwiseConv2D.forward(g, x: x, weight: weight, bias: bias, activation: .relu6, y: &y)
        var worst: Float = 0
        for s in 0..<2 { for oy in 0..<oh { for ox in 0..<ow { for ci in 0..<c {
            var acc = bias[ci]
            for ky in 0..<kernel { for kx in 0..<kernel {
                let iy = oy * stride - pad + ky * dilation, ix = ox * stride - pad + kx * dilation
                if iy >= 0, iy < h, ix >= 0, ix < w { acc += x[((s * h + iy) * w + ix) * c + ci] * weight[(ky * kernel + kx) * c + ci] }
            } }
            let got = y[((s * oh + oy) * ow + ox) * c + ci]
            worst = max(worst, abs(got - min(max(acc, 0), 6)))
        } } } }
        XCTAssertLessThan(worst, 1e-5, "kernel \(kernel) stride \(stride) dilation \(dilation) c \(c) width \(w)")
    }
}
