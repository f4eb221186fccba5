// SeededRandom: the one random number generator of the data pipeline.
//
// Every random choice of an augmentation (crop box, flip, angle, jitter factors) and every
// epoch's shuffle draws from a generator derived from (seed, epoch, stream), never from a global
// one, so a run is reproducible whatever the thread scheduling: sample i of epoch e always sees
// the same draws. The generator is SplitMix64 (Steele, Lea and Flood, "Fast splittable
// pseudorandom number generators", OOPSLA 2014), the seeding step of java.util.SplittableRandom.

/// A small, fast, seedable generator (SplitMix64), derived from (seed, epoch, stream).
///
/// Use `SeededRandom(seed:epoch:sample:)` for the augmentations of one sample and
/// `SeededRandom(seed:epoch:stream:)` with a named stream (such as `.shuffle`) for other uses.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    /// Streams that are not samples, kept apart from every sample index.
    public enum Stream: UInt64, Sendable {
        case shuffle = 0xA5A5_0001
        case split = 0xA5A5_0002
        /// The images whose features standardize a frozen backbone's (`FeatureStandardization`).
        case standardization = 0xA5A5_0003
        /// The draws of a weighted sampler (`Sampler.balanced`).
        case sampler = 0xA5A5_0004
        /// The mixup and CutMix draws of a training batch (`Mixup`).
        case mixing = 0xA5A5_0005
    }

    private var state: UInt64

    /// A generator whose whole sequence is fixed by `seed`.
    public init(seed: UInt64) {
        state = SeededRandom.mix(seed ^ 0x6A09_E667_F3BC_C909)
    }

    /// The generator for the augmentations of sample `sample` (its index in the dataset) in `epoch`.
    public init(seed: UInt64, epoch: Int, sample: Int) {
        self.init(seed: seed, words: [UInt64(truncatingIfNeeded: epoch), UInt64(truncatingIfNeeded: sample), 0])
    }

    /// The generator for a non-sample use (shuffling, splitting) in `epoch`.
    public init(seed: UInt64, epoch: Int, stream: Stream) {
        self.init(seed: seed, words: [UInt64(truncatingIfNeeded: epoch), stream.rawValue, 1])
    }

    private init(seed: UInt64, words: [UInt64]) {
        var h = SeededRandom.mix(seed ^ 0x6A09_E667_F3BC_C909)
        for word in words {
            h = SeededRandom.mix(h ^ SeededRandom.mix(word &+ 0x9E37_79B9_7F4A_7C15))
        }
        state = h
    }

    /// The SplitMix64 finaliser: a bijective 64-bit mix.
    static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return SeededRandom.mix(state)
    }

    /// A uniform double in [0, 1) with 53 random bits.
    public mutating func unit() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// A uniform double in [lower, upper); `lower` when the range is empty.
    public mutating func uniform(_ lower: Double, _ upper: Double) -> Double {
        lower + (upper - lower) * unit()
    }

    /// True with probability `p`.
    public mutating func chance(_ p: Double) -> Bool {
        p > 0 && unit() < p
    }

    /// A uniform integer in `lower...upper` (Lemire's multiply-and-reject, unbiased). Written
    /// here rather than taken from `Int.random(in:using:)` so the sequence cannot change with
    /// the Swift standard library.
    public mutating func integer(_ lower: Int, _ upper: Int) -> Int {
        precondition(lower <= upper, "empty integer range \(lower)...\(upper)")
        let span = UInt64(bitPattern: Int64(upper &- lower)) &+ 1
        if span == 0 { return Int(truncatingIfNeeded: next()) }          // the full 64-bit range
        let threshold = (0 &- span) % span
        while true {
            let (high, low) = next().multipliedFullWidth(by: span)
            if low >= threshold { return lower &+ Int(truncatingIfNeeded: high) }
        }
    }

    /// Shuffles `array` in place (Fisher-Yates with `integer`), reproducibly for a given state.
    public mutating func shuffle<T>(_ array: inout [T]) {
        guard array.count > 1 else { return }
        for i in stride(from: array.count - 1, to: 0, by: -1) {
            array.swapAt(i, integer(0, i))
        }
    }
}

/// A stable 64-bit hash (FNV-1a) of a string, the same in every process and on every machine,
/// unlike Swift's `Hasher`, which is seeded per process.
func stableHash(_ text: String, seed: UInt64 = 0) -> UInt64 {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325 ^ SeededRandom.mix(seed)
    for byte in text.utf8 {
        h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
    }
    return SeededRandom.mix(h)
}
