import XCTest
import Dispatch
@testable import FineTuneCore

final class TmpWinogradTiming: XCTestCase {
    func testTiming() {
        ComputeThreads.set(Int(ProcessInfo.processInfo.environment["THREADS"] ?? "") ?? 2)
        for (h, c) in [(56, 64), (28, 128), (14, 256), (7, 512)] {
            let g = ConvGeometry(batch: 32, input: FeatureShape(height: h, width: h, channels: c),
                                 output: FeatureShape(height: h, width: h, channels: c), conv: Conv2DParams(outChannels: c, kernel: 3))
            var rng = SplitMix64(seed: 1)
            func random(_ count: Int) -> FloatBuffer { FloatBuffer((0..<count).map { _ in rng.nextFloat() * 2 - 1 }) }
            let x = random(g.inputCount), w = random(c * 9 * c), dy = random(g.outputCount)
            let y = FloatBuffer(count: g.outputCount), dx = FloatBuffer(count: g.inputCount), dw = FloatBuffer(count: w.count)
            let scratch = FloatBuffer(count: Conv2D.scratchCount(g), zeroed: false)
            func time(_ body: () -> Void) -> Double {
                body()
                var best = 1e9
                for _ in 0..<3 { let t = DispatchTime.now().uptimeNanoseconds; body(); best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6) }
                return best
            }
            var line = "\(h)x\(h)x\(c):"
            for wino in [false, true] {
                let f = time { Conv2D.forward(g, x: x.pointer, weight: w.pointer, bias: nil, y: y.pointer, scratch: scratch.pointer, winograd: wino) }
                let d = time { Conv2D.backward(g, x: x.pointer, weight: w.pointer, dy: dy.pointer, dx: dx.pointer, dWeight: nil, dBias: nil, scratch: scratch.pointer, winograd: wino) }
                let ww = time { Conv2D.backward(g, x: x.pointer, weight: w.pointer, dy: dy.pointer, dx: nil, dWeight: dw.pointer, dBias: nil, scratch: scratch.pointer, winograd: wino) }
                line += String(format: "  %@ fwd %.1f dx %.1f dw %.1f ms", wino ? "wino" : "im2col", f, d, ww)
            }
            print(line)
        }
    }
}
