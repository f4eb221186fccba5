import Foundation

/// A small synthetic image-folder dataset for the demo and the end-to-end tests: three visually
/// distinct classes (disks, stripes, checkers) in random colours, sizes and positions, with
/// noise, saved as real JPEG and PNG files under `root/train/<class>/` and `root/val/<class>/`.
public enum DemoDataset {
    public static let classes = ["checkers", "disks", "stripes"]

    /// Writes `perClass` training and `perClass / 4` validation images per class, plus
    /// `heldOut` unlabelled images per class under `root/holdout/` (for predict); returns the count written.
    @discardableResult
    public static func write(to root: String, perClass: Int = 100, heldOut: Int = 2, seed: UInt64 = 7) throws -> Int {
        var rng = SplitMix64(seed: seed)
        var written = 0
        let fm = FileManager.default
        let splits = [("train", perClass), ("val", max(1, perClass / 4)), ("holdout", heldOut)]
        for (split, count) in splits {
            for (c, name) in classes.enumerated() {
                let dir = split == "holdout" ? "\(root)/holdout" : "\(root)/\(split)/\(name)"
                try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
                for i in 0..<count {
                    let image = draw(kind: c, rng: &rng)
                    let png = i % 3 == 0
                    let bytes = png ? try ImageEncoder.png(image) : try ImageEncoder.jpeg(image, quality: 85)
                    let file = split == "holdout" ? "\(name)-\(i)" : "\(i)"
                    try Data(bytes).write(to: URL(fileURLWithPath: "\(dir)/\(file).\(png ? "png" : "jpg")"))
                    written += 1
                }
            }
        }
        return written
    }

    /// One RGB image of class `kind` (0 checkers, 1 disks, 2 stripes).
    static func draw(kind: Int, rng: inout SplitMix64) -> Image {
        let w = 80 + Int(rng.next() % 49), h = 80 + Int(rng.next() % 49)
        func color() -> (Float, Float, Float) { (rng.nextFloat() * 255, rng.nextFloat() * 255, rng.nextFloat() * 255) }
        let fg = color(), bg = color()
        let period = Float(8 + rng.next() % 12), angle = rng.nextFloat() * .pi
        let cx = Float(w) * (0.3 + 0.4 * rng.nextFloat()), cy = Float(h) * (0.3 + 0.4 * rng.nextFloat())
        let radius = Float(min(w, h)) * (0.2 + 0.15 * rng.nextFloat())
        var pixels = [UInt8](repeating: 0, count: w * h * 3)
        for y in 0..<h {
            for x in 0..<w {
                let inside: Bool
                switch kind {
                case 0: inside = (Int(Float(x) / period) + Int(Float(y) / period)) % 2 == 0
                case 1:
                    let dx = Float(x) - cx, dy = Float(y) - cy
                    inside = dx * dx + dy * dy < radius * radius
                default: inside = Int((Float(x) * cosf(angle) + Float(y) * sinf(angle)) / period + 1000) % 2 == 0
                }
                let base = inside ? fg : bg
                let noise = (rng.nextFloat() - 0.5) * 40
                let o = (y * w + x) * 3
                pixels[o] = UInt8(max(0, min(255, base.0 + noise)))
                pixels[o + 1] = UInt8(max(0, min(255, base.1 + noise)))
                pixels[o + 2] = UInt8(max(0, min(255, base.2 + noise)))
            }
        }
        return Image(width: w, height: h, channels: 3, pixels: pixels)
    }
}
