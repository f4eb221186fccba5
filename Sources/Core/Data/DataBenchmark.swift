// DataBenchmark: how many images per second the loader decodes and augments.
//
// It writes synthetic photo-like files (smooth colour fields plus fine texture, so JPEG sizes
// and decode costs resemble real photos) and times whole epochs of the DataLoader with the
// training transform, after one warm-up epoch. `finetune bench-data` drives it;
// tools/bench_data.py times PIL + torchvision on the same files.

import Foundation

/// Synthetic data and timing for the data pipeline benchmark.
public enum DataBenchmark {
    /// One timed configuration.
    public struct Result: Sendable {
        public var name: String
        public var images: Int
        public var seconds: Double
        public var imagesPerSecond: Double { Double(images) / seconds }
    }

    /// A photo-like image: a sum of random smooth waves per channel plus seeded fine noise.
    public static func syntheticImage(width: Int, height: Int, channels: Int, seed: UInt64) -> Image {
        var random = SeededRandom(seed: seed)
        let waves = 6
        var pixels = [UInt8](repeating: 0, count: width * height * channels)
        for c in 0..<channels {
            var rows = [[Double]](), columns = [[Double]]()
            for _ in 0..<waves {
                let fx = random.uniform(0.002, 0.05), fy = random.uniform(0.002, 0.05)
                let px = random.uniform(0, 6.3), py = random.uniform(0, 6.3), amplitude = random.uniform(15, 45)
                columns.append((0..<width).map { amplitude * sin(fx * Double($0) + px) })
                rows.append((0..<height).map { cos(fy * Double($0) + py) })
            }
            let base = random.uniform(70, 180)
            for y in 0..<height {
                for x in 0..<width {
                    var v = base + random.uniform(-10, 10)
                    for k in 0..<waves { v += columns[k][x] * rows[k][y] }
                    pixels[(y * width + x) * channels + c] = UInt8(max(0, min(255, v)))
                }
            }
        }
        return Image(width: width, height: height, channels: channels, pixels: pixels)
    }

    /// Writes `count` 500x375 RGB JPEGs (quality 90) and `count` 300x300 gray PNGs into `folder`.
    public static func writeFiles(to folder: String, count: Int) throws -> (jpegs: [String], pngs: [String]) {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var jpegs: [String] = [], pngs: [String] = []
        for i in 0..<count {
            let jpeg = ImageDataset.join(folder, String(format: "photo-%04d.jpg", i))
            let png = ImageDataset.join(folder, String(format: "gray-%04d.png", i))
            let photo = syntheticImage(width: 500, height: 375, channels: 3, seed: UInt64(2 * i))
            let gray = syntheticImage(width: 300, height: 300, channels: 1, seed: UInt64(2 * i + 1))
            _ = FileManager.default.createFile(atPath: jpeg, contents: Data(try ImageEncoder.jpeg(photo, quality: 90)))
            _ = FileManager.default.createFile(atPath: png, contents: Data(try ImageEncoder.png(gray)))
            jpegs.append(jpeg)
            pngs.append(png)
        }
        return (jpegs, pngs)
    }

    /// Times `epochs` epochs of a DataLoader over `files` (after one warm-up epoch).
    public static func time(_ name: String, files: [String], transform: any SampleTransform, threads: Int,
                            batchSize: Int = 32, epochs: Int = 3) -> Result {
        let dataset = ImageDataset(classes: ["all"], samples: files.map { .init(path: $0, label: 0) })
        let loader = DataLoader(dataset: dataset, transform: transform,
                                options: .init(batchSize: batchSize, shuffle: true, seed: 1, workers: threads))
        var images = 0
        for batch in loader.epoch(0) { precondition(batch.count > 0) }
        let start = DispatchTime.now().uptimeNanoseconds
        for epoch in 1...epochs {
            for batch in loader.epoch(epoch) { images += batch.count }
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return Result(name: name, images: images, seconds: seconds)
    }
}
