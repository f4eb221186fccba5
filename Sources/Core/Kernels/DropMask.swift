/// Dropout and stochastic depth: multiply by a random keep mask scaled by 1/(1-p) in training;
/// the identity in inference. The mask is saved for backward (dx = dy * mask).
///
///     x, y   (n, per)    per = h * w * c
///     mask   (n * per) for dropout, (n) for stochastic depth ("row" mode: whole samples)
enum DropMask {
    /// Fills `mask` with 0 or 1/(1-p), each kept with probability 1-p.
    static func sample(p: Float, mask: UnsafeMutablePointer<Float>, count: Int, rng: inout SplitMix64) {
        let keep = 1 / (1 - p)
        for i in 0..<count { mask[i] = rng.nextFloat() < p ? 0 : keep }
    }

    /// y = x * mask, the mask indexed by element (perMask = 1) or by sample (perMask = per).
    static func apply(x: UnsafePointer<Float>, mask: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
                      n: Int, per: Int, perMask: Int) {
        parallelFor(n * per, minimumPerThread: 16384) { r in
            for i in r { y[i] = x[i] * mask[i / perMask] }
        }
    }
}
