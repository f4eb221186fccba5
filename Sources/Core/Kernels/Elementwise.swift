/// Residual add and squeeze-excitation's channel-wise multiply, forward and backward.
///
///     Add:              a, b, y   (count)
///     ChannelMultiply:  x, y      (n, hw, c);  scale (n, c)
enum Add {
    static func forward(a: UnsafePointer<Float>, b: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, count: Int) {
        parallelFor(count, minimumPerThread: 16384) { r in for i in r { y[i] = a[i] + b[i] } }
    }
    // Backward: both inputs receive dy unchanged (the executor routes it; no kernel needed).
}

enum ChannelMultiply {
    static func forward(x: UnsafePointer<Float>, scale: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
                        n: Int, hw: Int, c: Int) {
        parallelFor(n * hw, minimumPerThread: 64) { rows in
            for r in rows {
                let s = scale + (r / hw) * c, xr = x + r * c, yr = y + r * c
                for i in 0..<c { yr[i] = xr[i] * s[i] }
            }
        }
    }

    /// dx = dy * scale (written); dScale[n][c] = sum over hw of dy * x (written).
    static func backward(x: UnsafePointer<Float>, scale: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                         dx: UnsafeMutablePointer<Float>?, dScale: UnsafeMutablePointer<Float>?, n: Int, hw: Int, c: Int) {
        parallelFor(n) { samples in
            for s in samples {
                let sc = scale + s * c
                if let dScale { (dScale + s * c).update(repeating: 0, count: c) }
                for p in 0..<hw {
                    let o = (s * hw + p) * c
                    let d = dy + o
                    if let dx { let out = dx + o; for i in 0..<c { out[i] = d[i] * sc[i] } }
                    if let dScale { let ds = dScale + s * c, xr = x + o; for i in 0..<c { ds[i] += d[i] * xr[i] } }
                }
            }
        }
    }
}
