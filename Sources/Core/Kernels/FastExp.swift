/// exp(x) as Cephes' `expf` computes it: range reduction by ln 2 (split in two parts), a
/// degree-6 polynomial, and scaling by 2^n through the exponent bits. Within 2 ulp of libm's
/// expf over the float range; plain arithmetic, so loops calling it vectorise (unlike libm).
@inline(__always)
func fastExp(_ x: Float) -> Float {
    let x = min(max(x, -87.3), 88.3)
    // Round to nearest by adding and subtracting 1.5 * 2^23 (no libm call, so loops vectorise).
    let n = (x * 1.442_695_04 + 12_582_912) - 12_582_912
    var r = x - n * 0.693_359_375
    r = r - n * -2.121_944_4e-4
    var p: Float = 1.987_569_15e-4
    p = p * r + 1.398_199_95e-3
    p = p * r + 8.333_451_9e-3
    p = p * r + 4.166_579_59e-2
    p = p * r + 1.666_666_55e-1
    p = p * r + 5.000_000_12e-1
    let e = p * r * r + r + 1
    return e * Float(bitPattern: UInt32(truncatingIfNeeded: Int32(n) + 127) << 23)
}
