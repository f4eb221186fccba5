import XCTest
@testable import FineTuneCore

/// The direct grouped convolution against im2col + GEMM on the same data: output (with bias
/// and an activation), input gradient and accumulated weight gradient, for RegNet's shapes
/// (16 channels per group, stride 1 and 2) and for the edges of what the kernel takes: 8 and 24
/// channels per group (a 16-wide and an 8-wide pass), fewer columns than a block of four,
/// dilation, a 5x5 window, uneven padding. Tolerance: 1e-5 of the largest value.
final class KernelGroupedConvTests: XCTestCase {
    func testMatchesIm2col() {
        compare(n: 2, h: 14, w: 14, c: 64, oc: 64, groups: 4, kernel: 3, stride: 1, bias: true, activation: .relu)
        compare(n: 3, h: 9, w: 7, c: 32, oc: 32, groups: 2, kernel: 3, stride: 2, bias: false, activation: nil)
        compare(n: 1, h: 5, w: 3, c: 16, oc: 32, groups: 2, kernel: 3, stride: 1, bias: true, activation: .silu)
        compare(n: 2, h: 6, w: 11, c: 48, oc: 48, groups: 2, kernel: 3, stride: 1, bias: false, activation: nil)
        compare(n: 2, h: 8, w: 8, c: 32, oc: 16, groups: 2, kernel: 3, stride: 1, dilation: 2, bias: false, activation: nil)
        compare(n: 1, h: 10, w: 9, c: 32, oc: 32, groups: 4, kernel: 5, stride: 2, bias: true, activation: nil)
        compare(n: 2, h: 7, w: 7, c: 32, oc: 32, groups: 2, kernel: 3, stride: 2, padding: 0, bias: false, activation: nil)
    }

    func testAppliesToNarrowGroupsOnly() {
        func geometry(c: Int, oc: Int, groups: Int, kernel: Int = 3) -> ConvGeometry {
            ConvGeometry(batch: 1, input: FeatureShape(height: 6, width: 6, channels: c), output: FeatureShape(height: 6, width: 6, channels: oc),
                         conv: Conv2DParams(outChannels: oc, kernel: kernel, groups: groups))
        }
        XCTAssertTrue(GroupedConv2D.applies(geometry(c: 64, oc: 64, groups: 4)))
        XCTAssertFalse(GroupedConv2D.applies(geometry(c: 64, oc: 64, groups: 1)), "ungrouped: GEMM")
        XCTAssertFalse(GroupedConv2D.applies(geometry(c: 16, oc: 16, groups: 16)), "depthwise: its own kernel")
        XCTAssertFalse(GroupedConv2D.applies(geometry(c: 24, oc: 24, groups: 2)), "12 channels per group")
        XCTAssertFalse(GroupedConv2D.applies(geometry(c: 256, oc: 256, groups: 2)), "wide groups: GEMM")
        XCTAssertFalse(GroupedConv2D.applies(geometry(c: 64, oc: 64, groups: 4, kernel: 1)), "1x1")
    }

    private func compare(n: Int, h: Int, w: Int, c: Int, oc: Int, groups: Int, kernel: Int, stride: Int, padding: Int? = nil,
                         dilation: Int = 1, bias: Bool, activation: Activation?, file: StaticString = #filePath, line: UInt = #line) {
        let params = Conv2DParams(outChannels: oc, kernel: kernel, stride: stride, padding: padding, dilation: dilation, groups: groups)
        let input = FeatureShape(height: h, width: w, channels: c)
        let pad = params.padding.top
        func length(_ size: Int) -> Int { (size + 2 * pad - dilation * (kernel - 1) - 1) / stride + 1 }
        let output = FeatureShape(height: length(h), width: length(w), channels: oc)
        let g = ConvGeometry(batch: n, input: input, output: output, conv: params)
        XCTAssertTrue(GroupedConv2D.applies(g), file: file, line: line)
        var rng = SplitMix64(seed: UInt64(n * 1000 + c * 10 + oc + kernel))
        func random(_ count: Int) -> FloatBuffer { FloatBuffer((0..<count).map { _ in rng.nextFloat() * 2 - 1 }) }
        let x = random(g.inputCount), weight = random(oc * g.k), b = random(oc), dy = random(g.outputCount)
        let scratch = FloatBuffer(count: Conv2D.samplesPerChunk(g) * g.oh * g.ow * g.k, zeroed: false)
        let fast = FloatBuffer(count: g.outputCount), reference = FloatBuffer(count: g.outputCount)
        for (out, direct) in [(fast, true), (reference, false)] {
            Conv2D.forward(g, x: x.pointer, weight: weight.pointer, bias: bias ? b.pointer : nil, activation: activation,
                           y: out.pointer, scratch: scratch.pointer, direct: direct)
        }
        assertClose(fast, reference, "output", file: file, line: line)

        let dxFast = FloatBuffer(Array(repeating: 7, count: g.inputCount)), dxReference = FloatBuffer(count: g.inputCount)
        for (dx, direct) in [(dxFast, true), (dxReference, false)] {
            Conv2D.backward(g, x: x.pointer, weight: weight.pointer, dy: dy.pointer, dx: dx.pointer, dWeight: nil, dBias: nil,
                            scratch: scratch.pointer, direct: direct)
        }
        assertClose(dxFast, dxReference, "input gradient (overwritten)", file: file, line: line)

        let dwFast = FloatBuffer(Array(repeating: 0.5, count: weight.count))
        let dwReference = FloatBuffer(Array(repeating: 0.5, count: weight.count))
        for (dw, direct) in [(dwFast, true), (dwReference, false)] {
            Conv2D.backward(g, x: x.pointer, weight: weight.pointer, dy: dy.pointer, dx: nil, dWeight: dw.pointer, dBias: nil,
                            scratch: scratch.pointer, direct: direct)
        }
        assertClose(dwFast, dwReference, "weight gradient (accumulated)", file: file, line: line)
    }

    private func assertClose(_ a: FloatBuffer, _ b: FloatBuffer, _ what: String, file: StaticString, line: UInt) {
        var largest: Float = 0, worst: Float = 0
        for i in 0..<a.count {
            largest = max(largest, abs(b[i]))
            worst = max(worst, abs(a[i] - b[i]))
        }
        XCTAssertLessThanOrEqual(worst, 1e-5 * max(largest, 1), "\(what): worst difference \(worst), largest \(largest)", file: file, line: line)
    }
}
