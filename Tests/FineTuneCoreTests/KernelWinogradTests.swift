import XCTest
@testable import FineTuneCore

/// Winograd F(2x2, 3x3) against im2col + GEMM on the same data: the output (with bias and an
/// activation), the input gradient and the (accumulated) weight gradient, for odd sizes, channel counts that are not multiples of
/// the vector width, and more tiles than one pass holds. Tolerance: 1e-5 of the largest value.
final class KernelWinogradTests: XCTestCase {
    func testMatchesIm2col() {
        compare(n: 2, h: 5, w: 7, c: 3, oc: 5, bias: true, activation: .relu)
        compare(n: 3, h: 8, w: 6, c: 13, oc: 11, bias: false, activation: nil)
        compare(n: 1, h: 1, w: 1, c: 8, oc: 16, bias: true, activation: .silu)
        compare(n: 2, h: 7, w: 7, c: 64, oc: 32, bias: false, activation: nil)
    }

    func testSeveralPasses() {
        let g = geometry(n: 13, h: 64, w: 64, c: 10, oc: 10)
        XCTAssertGreaterThan(WinogradConv3x3.tileCount(g), WinogradConv3x3.tilesPerPass(g))
        compare(n: 13, h: 64, w: 64, c: 10, oc: 10, bias: true, activation: .relu)
    }

    func testAppliesOnlyToStrideOnePaddedThreeByThree() {
        XCTAssertTrue(WinogradConv3x3.applies(geometry(n: 1, h: 6, w: 6, c: 4, oc: 4)))
        var strided = Conv2DParams(outChannels: 4, kernel: 3, stride: 2)
        XCTAssertFalse(WinogradConv3x3.applies(ConvGeometry(batch: 1, input: FeatureShape(height: 6, width: 6, channels: 4),
                                                            output: FeatureShape(height: 3, width: 3, channels: 4), conv: strided)))
        strided = Conv2DParams(outChannels: 4, kernel: 3, groups: 2)
        XCTAssertFalse(WinogradConv3x3.applies(ConvGeometry(batch: 1, input: FeatureShape(height: 6, width: 6, channels: 4),
                                                            output: FeatureShape(height: 6, width: 6, channels: 4), conv: strided)))
    }

    private func geometry(n: Int, h: Int, w: Int, c: Int, oc: Int) -> ConvGeometry {
        ConvGeometry(batch: n, input: FeatureShape(height: h, width: w, channels: c),
                     output: FeatureShape(height: h, width: w, channels: oc), conv: Conv2DParams(outChannels: oc, kernel: 3))
    }

    private func compare(n: Int, h: Int, w: Int, c: Int, oc: Int, bias: Bool, activation: Activation?,
                         file: StaticString = #filePath, line: UInt = #line) {
        let g = geometry(n: n, h: h, w: w, c: c, oc: oc)
        var rng = SplitMix64(seed: UInt64(n * 1000 + c * 10 + oc))
        func random(_ count: Int) -> FloatBuffer { FloatBuffer((0..<count).map { _ in rng.nextFloat() * 2 - 1 }) }
        let x = random(g.inputCount), weight = random(oc * 9 * c), b = random(oc), dy = random(g.outputCount)
        let scratch = FloatBuffer(count: Conv2D.scratchCount(g), zeroed: false)
        let fast = FloatBuffer(count: g.outputCount), reference = FloatBuffer(count: g.outputCount)
        for (out, winograd) in [(fast, true), (reference, false)] {
            Conv2D.forward(g, x: x.pointer, weight: weight.pointer, bias: bias ? b.pointer : nil, activation: activation,
                           y: out.pointer, scratch: scratch.pointer, direct: winograd)
        }
        assertClose(fast, reference, "output", file: file, line: line)

        let dxFast = FloatBuffer(count: g.inputCount), dxReference = FloatBuffer(count: g.inputCount)
        for (dx, winograd) in [(dxFast, true), (dxReference, false)] {
            Conv2D.backward(g, x: x.pointer, weight: weight.pointer, dy: dy.pointer, dx: dx.pointer, dWeight: nil, dBias: nil,
                            scratch: scratch.pointer, direct: winograd)
        }
        assertClose(dxFast, dxReference, "input gradient", file: file, line: line)

        // Weight gradients accumulate onto what is there.
        let dwFast = FloatBuffer(Array(repeating: 0.5, count: weight.count))
        let dwReference = FloatBuffer(Array(repeating: 0.5, count: weight.count))
        for (dw, winograd) in [(dwFast, true), (dwReference, false)] {
            Conv2D.backward(g, x: x.pointer, weight: weight.pointer, dy: dy.pointer, dx: nil, dWeight: dw.pointer, dBias: nil,
                            scratch: scratch.pointer, direct: winograd)
        }
        assertClose(dwFast, dwReference, "weight gradient", file: file, line: line)
    }

    private func assertClose(_ a: FloatBuffer, _ b: FloatBuffer, _ what: String, file: StaticString, line: UInt) {
        var largest: Float = 0, worst: Float = 0
        for i in 0..<a.count {
            largest = max(largest, abs(b[i]))
            worst = max(worst, abs(a[i] - b[i]))
        }
        XCTAssertLessThanOrEqual(worst, 1e-5 * max(largest, 1), "\(what): worst difference \(worst), largest value \(largest)",
                                 file: file, line: line)
    }
}
