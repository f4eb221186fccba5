import Foundation

/// Mixup and CutMix as timm's `Mixup` applies them in its default `batch` mode
/// (timm/data/mixup.py; Zhang et al. 2017, Yun et al. 2019): once per batch, with probability
/// `probability`, a mixing factor lam ~ Beta(alpha, alpha) is drawn; mixup blends every image
/// with the batch's mirror image (sample n-1-i) as lam * x + (1 - lam) * x_mirror, CutMix pastes
/// the mirror image's box of area about (1 - lam) (its side sqrt(1 - lam) of the image's, the
/// centre uniform, clipped at the borders) and corrects lam to the area kept. With both on, each
/// batch picks CutMix with probability `switchProbability`. The targets are the matching soft
/// labels: lam * onehot(y) + (1 - lam) * onehot(y_mirror), label-smoothed as timm's
/// `mixup_target` (off value e / C, on value 1 - e + e / C).
public struct Mixup: Codable, Equatable, Sendable {
    /// Beta's alpha for mixup; 0: no mixup.
    public var mixupAlpha: Double
    /// Beta's alpha for CutMix; 0: no CutMix.
    public var cutmixAlpha: Double
    /// The chance that a batch is mixed at all (timm's `prob`).
    public var probability = 1.0
    /// With both on, the chance that a mixed batch uses CutMix (timm's `switch_prob`).
    public var switchProbability = 0.5

    public init(mixupAlpha: Double = 0, cutmixAlpha: Double = 0) {
        self.mixupAlpha = mixupAlpha
        self.cutmixAlpha = cutmixAlpha
    }

    /// Whether any batch can be mixed.
    public var isActive: Bool { (mixupAlpha > 0 || cutmixAlpha > 0) && probability > 0 }

    /// What one batch's draw decided.
    public struct Draw: Equatable, Sendable {
        /// The weight of each sample's own image and label.
        public var lam: Double
        /// The pasted box (rows `top..<bottom`, columns `left..<right`) for CutMix; nil for mixup.
        public var box: (top: Int, bottom: Int, left: Int, right: Int)?

        public static func == (a: Draw, b: Draw) -> Bool {
            a.lam == b.lam && a.box?.top == b.box?.top && a.box?.bottom == b.box?.bottom
                && a.box?.left == b.box?.left && a.box?.right == b.box?.right
        }
    }

    /// The draw for a batch of `height` x `width` images; lam 1 (nothing mixed) when the batch is not mixed.
    public func draw(height: Int, width: Int, using random: inout SeededRandom) -> Draw {
        guard isActive, random.unit() < probability else { return Draw(lam: 1) }
        let cutmix = mixupAlpha > 0 && cutmixAlpha > 0 ? random.unit() < switchProbability : cutmixAlpha > 0
        let lam = Self.beta(cutmix ? cutmixAlpha : mixupAlpha, using: &random)
        guard cutmix else { return Draw(lam: lam) }
        let centre = (random.integer(0, height - 1), random.integer(0, width - 1))
        return Self.cutmix(lam: lam, centre: centre, height: height, width: width)
    }

    /// CutMix's box for `lam` around `centre` (row, column), as timm's `rand_bbox`: sides
    /// `int(side * sqrt(1 - lam))`, clipped at the image's borders; lam corrected to the area kept.
    public static func cutmix(lam: Double, centre: (row: Int, column: Int), height: Int, width: Int) -> Draw {
        let ratio = (1 - lam).squareRoot()
        let cutH = Int(Double(height) * ratio), cutW = Int(Double(width) * ratio)
        let top = min(max(centre.row - cutH / 2, 0), height), bottom = min(max(centre.row + (cutH + 1) / 2, 0), height)
        let left = min(max(centre.column - cutW / 2, 0), width), right = min(max(centre.column + (cutW + 1) / 2, 0), width)
        let kept = 1 - Double((bottom - top) * (right - left)) / Double(height * width)
        return Draw(lam: kept, box: (top, bottom, left, right))
    }

    /// Mixes `batch`'s images in place as `draw` says and returns the soft targets, (count, classes).
    /// - Parameter labelSmoothing: folded into the targets (the loss then takes them as they are).
    public static func apply(_ draw: Draw, to batch: inout Batch, classes: Int, labelSmoothing: Float) -> [Float] {
        let n = batch.count, h = batch.height, w = batch.width, sample = h * w * 3
        let lam = Float(draw.lam)
        batch.images.withUnsafeMutableBufferPointer { images in
            let x = images.baseAddress!
            if let box = draw.box {
                // Sample i takes its mirror's box; pairs swap their boxes.
                let rowLength = (box.right - box.left) * 3
                for i in 0..<n / 2 {
                    let a = x + i * sample, b = x + (n - 1 - i) * sample
                    for row in box.top..<box.bottom {
                        let offset = (row * w + box.left) * 3
                        for k in 0..<rowLength { swap(&a[offset + k], &b[offset + k]) }
                    }
                }
            } else if lam != 1 {
                for i in 0..<n / 2 {
                    let a = x + i * sample, b = x + (n - 1 - i) * sample
                    for k in 0..<sample {
                        let u = a[k], v = b[k]
                        a[k] = u * lam + v * (1 - lam)
                        b[k] = v * lam + u * (1 - lam)
                    }
                }
                // An odd batch's middle sample is its own mirror: unchanged.
            }
        }
        let off = labelSmoothing / Float(classes), on = 1 - labelSmoothing + off
        var targets = [Float](repeating: 0, count: n * classes)
        for i in 0..<n {
            let own = Int(batch.labels[i]), mirror = Int(batch.labels[n - 1 - i])
            for c in 0..<classes {
                let t1: Float = c == own ? on : off, t2: Float = c == mirror ? on : off
                targets[i * classes + c] = t1 * lam + t2 * (1 - lam)
            }
        }
        return targets
    }

    /// A Beta(alpha, alpha) draw: X / (X + Y) of two Gamma(alpha) draws.
    static func beta(_ alpha: Double, using random: inout SeededRandom) -> Double {
        let x = gamma(alpha, using: &random), y = gamma(alpha, using: &random)
        return x + y > 0 ? x / (x + y) : 0.5
    }

    /// A Gamma(shape, 1) draw (Marsaglia and Tsang 2000; shapes below 1 through
    /// Gamma(shape + 1) * U^(1/shape)).
    static func gamma(_ shape: Double, using random: inout SeededRandom) -> Double {
        if shape < 1 {
            let u = max(random.unit(), .leastNormalMagnitude)
            return gamma(shape + 1, using: &random) * pow(u, 1 / shape)
        }
        let d = shape - 1.0 / 3.0, c = 1 / (9 * d).squareRoot()
        while true {
            var x = 0.0, v = 0.0
            repeat {
                x = normal(using: &random)
                v = 1 + c * x
            } while v <= 0
            v = v * v * v
            let u = random.unit()
            if u < 1 - 0.0331 * x * x * x * x { return d * v }
            if log(max(u, .leastNormalMagnitude)) < 0.5 * x * x + d * (1 - v + log(v)) { return d * v }
        }
    }

    /// A standard normal draw (Box-Muller).
    static func normal(using random: inout SeededRandom) -> Double {
        let u1 = max(random.unit(), .leastNormalMagnitude), u2 = random.unit()
        return (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
    }
}
