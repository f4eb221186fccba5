/// Residual add, squeeze-excitation's channel-wise multiply and a learnable per-channel scale,
/// forward and backward.
///
///     Add:              a, b, y   (count)
///     ChannelMultiply:  x, y      (n, hw, c);  scale (n, c)
///     ChannelScale:     x, y      (rows, c);   scale (c), a parameter (ConvNeXt's layer_scale)
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

enum ChannelScale {
    static func forward(x: UnsafePointer<Float>, scale: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, rows: Int, channels c: Int) {
        parallelFor(rows, minimumPerThread: max(1, 16384 / c)) { range in
            for r in range {
                let xr = x + r * c, yr = y + r * c
                for i in 0..<c { yr[i] = xr[i] * scale[i] }
            }
        }
    }

    /// dx = dy * scale (written); dScale += Σ_rows dy * x (accumulated).
    static func backward(x: UnsafePointer<Float>, scale: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                         dx: UnsafeMutablePointer<Float>?, dScale: UnsafeMutablePointer<Float>?, rows: Int, channels c: Int) {
        if let dx { forward(x: dy, scale: scale, y: dx, rows: rows, channels: c) }
        if let dScale {
            for r in 0..<rows {
                let xr = x + r * c, dr = dy + r * c
                for i in 0..<c { dScale[i] += dr[i] * xr[i] }
            }
        }
    }
}
