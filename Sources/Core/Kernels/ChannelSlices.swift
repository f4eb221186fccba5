/// Layers that move channels and compute nothing: concatenation, narrowing and ShuffleNet's
/// channel shuffle, forward and backward. Tensors are NHWC, so each is a copy per pixel row.
///
///     Concat:          inputs k (rows, c_k)  -> y (rows, sum of c_k)
///     Narrow:          x (rows, c)           -> y (rows, length), channels start..<start + length
///     ChannelShuffle:  x (rows, c)           -> y (rows, c), y[i * groups + g] = x[g * (c / groups) + i]
enum ChannelSlices {
    /// dst[r][dstStart + i] = src[r][srcStart + i] for i in 0..<length, every row.
    static func copy(_ src: UnsafePointer<Float>, channels srcC: Int, from srcStart: Int,
                     to dst: UnsafeMutablePointer<Float>, channels dstC: Int, at dstStart: Int, length: Int, rows: Int) {
        parallelFor(rows, minimumPerThread: max(1, 16384 / max(1, length))) { range in
            for r in range {
                (dst + r * dstC + dstStart).update(from: src + r * srcC + srcStart, count: length)
            }
        }
    }
}

enum Concat {
    static func forward(_ inputs: [UnsafePointer<Float>], channels: [Int], y: UnsafeMutablePointer<Float>, rows: Int) {
        let total = channels.reduce(0, +)
        var start = 0
        for (x, c) in zip(inputs, channels) {
            ChannelSlices.copy(x, channels: c, from: 0, to: y, channels: total, at: start, length: c, rows: rows)
            start += c
        }
    }

    /// Input k's gradient: its channels of dy (written).
    static func backward(dy: UnsafePointer<Float>, channels: [Int], input k: Int, dx: UnsafeMutablePointer<Float>, rows: Int) {
        let total = channels.reduce(0, +), start = channels[..<k].reduce(0, +)
        ChannelSlices.copy(dy, channels: total, from: start, to: dx, channels: channels[k], at: 0, length: channels[k], rows: rows)
    }
}

enum Narrow {
    static func forward(x: UnsafePointer<Float>, channels c: Int, start: Int, length: Int, y: UnsafeMutablePointer<Float>, rows: Int) {
        ChannelSlices.copy(x, channels: c, from: start, to: y, channels: length, at: 0, length: length, rows: rows)
    }

    /// dx: dy in the narrowed channels, zero in the others (written).
    static func backward(dy: UnsafePointer<Float>, channels c: Int, start: Int, length: Int, dx: UnsafeMutablePointer<Float>, rows: Int) {
        dx.update(repeating: 0, count: rows * c)
        ChannelSlices.copy(dy, channels: length, from: 0, to: dx, channels: c, at: start, length: length, rows: rows)
    }
}

enum ChannelShuffle {
    static func forward(x: UnsafePointer<Float>, groups: Int, channels c: Int, y: UnsafeMutablePointer<Float>, rows: Int) {
        permute(x, groups: groups, channels: c, y, rows: rows, inverse: false)
    }

    /// dx[g * (c / groups) + i] = dy[i * groups + g] (written): the inverse permutation.
    static func backward(dy: UnsafePointer<Float>, groups: Int, channels c: Int, dx: UnsafeMutablePointer<Float>, rows: Int) {
        permute(dy, groups: groups, channels: c, dx, rows: rows, inverse: true)
    }

    private static func permute(_ a: UnsafePointer<Float>, groups: Int, channels c: Int, _ b: UnsafeMutablePointer<Float>,
                                rows: Int, inverse: Bool) {
        let perGroup = c / groups
        parallelFor(rows, minimumPerThread: max(1, 16384 / c)) { range in
            for r in range {
                let src = a + r * c, dst = b + r * c
                for g in 0..<groups {
                    for i in 0..<perGroup {
                        if inverse { dst[g * perGroup + i] = src[i * groups + g] } else { dst[i * groups + g] = src[g * perGroup + i] }
                    }
                }
            }
        }
    }
}
