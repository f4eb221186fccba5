import Foundation

/// Elementwise activations, forward and backward. x is the input, y the output, both (count).
///
///     gelu(x)        = x Φ(x) = x (1 + erf(x / √2)) / 2        gelu'(x)        = Φ(x) + x φ(x)
///     hardswish(x)   = x relu6(x + 3) / 6                      hardswish'(x)   = 0, (2x + 3) / 6, 1 (x <= -3, < 3, >= 3)
///     hardsigmoid(x) = relu6(x + 3) / 6                        hardsigmoid'(x) = 1/6 where 0 < y < 1, else 0
enum ActivationKernel {
    static func forward(_ a: Activation, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, count: Int) {
        parallelFor(count, minimumPerThread: 16384) { r in
            switch a {
            case .relu: for i in r { y[i] = max(x[i], 0) }
            case .relu6: for i in r { y[i] = min(max(x[i], 0), 6) }
            case .silu: for i in r { y[i] = x[i] / (1 + fastExp(-x[i])) }
            case .sigmoid: for i in r { y[i] = 1 / (1 + fastExp(-x[i])) }
            case .gelu: for i in r { y[i] = gelu(x[i]) }
            case .hardswish: for i in r { y[i] = x[i] * hardsigmoid(x[i]) }
            case .hardsigmoid: for i in r { y[i] = hardsigmoid(x[i]) }
            }
        }
    }

    @inline(__always) static func gelu(_ x: Float) -> Float { 0.5 * x * (1 + erff(x * 0.70710678118654752)) }
    @inline(__always) static func hardsigmoid(_ x: Float) -> Float { min(max(x + 3, 0), 6) / 6 }
    /// d gelu / dx = Φ(x) + x φ(x).
    @inline(__always) static func geluDerivative(_ x: Float) -> Float {
        0.5 * (1 + erff(x * 0.70710678118654752)) + x * 0.39894228040143268 * expf(-0.5 * x * x)
    }
    @inline(__always) static func hardswishDerivative(_ x: Float) -> Float { x <= -3 ? 0 : x >= 3 ? 1 : (2 * x + 3) / 6 }
    @inline(__always) static func hardsigmoidDerivative(y: Float) -> Float { y > 0 && y < 1 ? 1 / 6 : 0 }

    /// Applies `a` in place to `count` values (a convolution's fused epilogue).
    @inline(__always)
    static func apply(_ a: Activation, _ p: UnsafeMutablePointer<Float>, count: Int) {
        switch a {
        case .relu: for i in 0..<count { p[i] = max(p[i], 0) }
        case .relu6: for i in 0..<count { p[i] = min(max(p[i], 0), 6) }
        case .silu: for i in 0..<count { p[i] = p[i] / (1 + fastExp(-p[i])) }
        case .sigmoid: for i in 0..<count { p[i] = 1 / (1 + fastExp(-p[i])) }
        case .gelu: for i in 0..<count { p[i] = gelu(p[i]) }
        case .hardswish: for i in 0..<count { p[i] *= hardsigmoid(p[i]) }
        case .hardsigmoid: for i in 0..<count { p[i] = hardsigmoid(p[i]) }
        }
    }

    /// dy *= a'(x) in place, for a batch norm that applied `a` to its output: the derivative
    /// from the output y for ReLU, ReLU6, sigmoid and hardsigmoid, from the input x(i) for SiLU,
    /// GELU and hardswish (`Activation.derivativeReadsInput`).
    @inline(__always)
    static func multiplyByDerivative(_ a: Activation, dy: UnsafeMutablePointer<Float>, y: UnsafePointer<Float>,
                                     count: Int, x: (Int) -> Float) {
        switch a {
        case .relu, .relu6: reluGradient(a, y: y, dy: dy, dx: dy, count: count)
        case .silu:
            for i in 0..<count {
                let v = x(i), s = 1 / (1 + fastExp(-v))
                dy[i] *= s * (1 + v * (1 - s))
            }
        case .sigmoid: for i in 0..<count { dy[i] *= y[i] * (1 - y[i]) }
        case .gelu: for i in 0..<count { dy[i] *= geluDerivative(x(i)) }
        case .hardswish: for i in 0..<count { dy[i] *= hardswishDerivative(x(i)) }
        case .hardsigmoid: for i in 0..<count { dy[i] *= hardsigmoidDerivative(y: y[i]) }
        }
    }

    /// dx = dy * a'(x), written (not accumulated).
    static func backward(_ a: Activation, x: UnsafePointer<Float>, y: UnsafePointer<Float>,
                         dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>, count: Int) {
        parallelFor(count, minimumPerThread: 16384) { r in
            switch a {
            case .relu, .relu6: reluGradient(a, y: y + r.lowerBound, dy: dy + r.lowerBound, dx: dx + r.lowerBound, count: r.count)
            case .silu:
                for i in r {
                    let s = 1 / (1 + fastExp(-x[i]))
                    dx[i] = dy[i] * s * (1 + x[i] * (1 - s))
                }
            case .sigmoid: for i in r { dx[i] = dy[i] * y[i] * (1 - y[i]) }
            case .gelu: for i in r { dx[i] = dy[i] * geluDerivative(x[i]) }
            case .hardswish: for i in r { dx[i] = dy[i] * hardswishDerivative(x[i]) }
            case .hardsigmoid: for i in r { dx[i] = dy[i] * hardsigmoidDerivative(y: y[i]) }
            }
        }
    }

    /// dx = dy where the output y is in (0, 6) for ReLU6 or above 0 for ReLU, else 0 (dx may be dy).
    /// Explicit vectors: the compiler leaves the scalar select loop unvectorised.
    @inline(__always)
    static func reluGradient(_ a: Activation, y: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                             dx: UnsafeMutablePointer<Float>, count: Int) {
        let upper: Float = a == .relu6 ? 6 : .infinity
        var i = 0
        while i + 16 <= count {
            let v = load16(y + i)
            store16(load16(dy + i).replacing(with: 0, where: .!((v .> 0) .& (v .< upper))), dx + i)
            i += 16
        }
        while i < count { dx[i] = y[i] > 0 && y[i] < upper ? dy[i] : 0; i += 1 }
    }
}
