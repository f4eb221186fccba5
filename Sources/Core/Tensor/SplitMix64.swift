/// SplitMix64: a small, fast, seedable generator (Steele, Lea & Flood, "Fast splittable
/// pseudorandom number generators", OOPSLA 2014). Injected wherever randomness is needed,
/// so a run with the same seed repeats exactly.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// A generator for one (seed, stream...) tuple, e.g. (seed, epoch, sample index).
    public init(seed: UInt64, _ streams: UInt64...) {
        var s = SplitMix64(seed: seed)
        for stream in streams { s = SplitMix64(seed: s.next() ^ (stream &* 0x9E37_79B9_7F4A_7C15)) }
        self = s
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 24 random bits.
    public mutating func nextFloat() -> Float {
        Float(next() >> 40) * (1 / 16_777_216)
    }
}
