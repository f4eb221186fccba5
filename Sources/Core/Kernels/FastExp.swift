/// exp(x) on 16 floats at once: Cephes' `expf` (range reduction by ln 2 split in two parts,
/// a degree-6 polynomial, scaling by 2^n through the exponent bits), within 2 ulp of libm's
/// expf over the float range; used by the sigmoid-based activations.
@inline(__always)
func exp16(_ x: SIMD16<Float>) -> SIMD16<Float> {
    let x = x.clamped(lowerBound: SIMD16(repeating: -87.3), upperBound: SIMD16(repeating: 88.3))
    let n = (x * 1.442_695_04).rounded(.toNearestOrEven)
    var r = x - n * 0.693_359_375
    r = r - n * -2.121_944_4e-4
    var p = SIMD16<Float>(repeating: 1.987_569_15e-4)
    p = p * r + 1.398_199_95e-3
    p = p * r + 8.333_451_9e-3
    p = p * r + 4.166_579_59e-2
    p = p * r + 1.666_666_55e-1
    p = p * r + 5.000_000_12e-1
    let e = p * r * r + r + 1
    let bits = (SIMD16<Int32>(n, rounding: .toNearestOrEven) &+ 127) &<< 23
    return e * unsafeBitCast(bits, to: SIMD16<Float>.self)
}

/// Applies `vector` to 16-float blocks of `0..<count` within `range` and `scalar` to the rest.
@inline(__always)
func blocks16(_ range: Range<Int>, _ vector: (Int) -> Void, _ scalar: (Int) -> Void) {
    var i = range.lowerBound
    while i + 16 <= range.upperBound {
        vector(i)
        i += 16
    }
    while i < range.upperBound {
        scalar(i)
        i += 1
    }
}
