import Foundation

/// Elementwise activations, forward and backward. x is the input, y the output, both (count).
enum ActivationKernel {
    static func forward(_ a: Activation, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, count: Int) {
        parallelFor(count, minimumPerThread: 16384) { r in
            switch a {
            case .relu: for i in r { y[i] = max(x[i], 0) }
            case .relu6: for i in r { y[i] = min(max(x[i], 0), 6) }
            case .silu:
                blocks16(r, { i in
                    let v = load16(x + i)
                    store16(v / (1 + exp16(-v)), y + i)
                }, { i in y[i] = x[i] / (1 + expf(-x[i])) })
            case .sigmoid:
                blocks16(r, { i in store16(1 / (1 + exp16(-load16(x + i))), y + i) },
                         { i in y[i] = 1 / (1 + expf(-x[i])) })
            }
        }
    }

    /// dx = dy * a'(x), written (not accumulated).
    static func backward(_ a: Activation, x: UnsafePointer<Float>, y: UnsafePointer<Float>,
                         dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>, count: Int) {
        parallelFor(count, minimumPerThread: 16384) { r in
            switch a {
            case .relu: for i in r { dx[i] = y[i] > 0 ? dy[i] : 0 }
            case .relu6: for i in r { dx[i] = y[i] > 0 && y[i] < 6 ? dy[i] : 0 }
            case .silu:
                blocks16(r, { i in
                    let v = load16(x + i), s = 1 / (1 + exp16(-v))
                    store16(load16(dy + i) * s * (1 + v * (1 - s)), dx + i)
                }, { i in
                    let s = 1 / (1 + expf(-x[i]))
                    dx[i] = dy[i] * s * (1 + x[i] * (1 - s))
                })
            case .sigmoid: for i in r { dx[i] = dy[i] * y[i] * (1 - y[i]) }
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
