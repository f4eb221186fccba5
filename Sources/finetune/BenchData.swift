import ArgumentParser
import FineTuneCore
import Foundation

/// `finetune bench-data`: decode + train-time augmentation throughput of the data loader.
struct BenchData: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-data",
        abstract: "Measure images/s of decoding plus training augmentation.",
        discussion: """
        Writes synthetic 500x375 JPEGs and 300x300 gray PNGs, then times the data loader with \
        RandomResizedCrop(224), a horizontal flip and ImageNet normalisation; --auto-augment and \
        --random-erasing add those augmentations, as train's options of the same names. \
        tools/bench_data.py runs this and PIL + torchvision on the same files, side by side.
        """
    )

    @Option(help: "Images of each kind to generate.")
    var count = 200

    @Option(help: "Decoding threads.")
    var threads = 2

    @Option(help: "Timed epochs (after one warm-up epoch).")
    var epochs = 3

    @Option(help: "Output side of the random resized crop.")
    var size = 224

    @Option(help: "Write the images into this folder and keep them (default: a temporary folder, removed).")
    var folder: String?

    @Option(help: ArgumentHelp("Add an automatic augmentation policy after the flip, as train's --auto-augment.",
                               valueName: "none|trivial-wide|rand-augment"))
    var autoAugment: TrainingOptions.AutoAugment = .none

    @Option(help: ArgumentHelp("Random erasing probability after normalisation, as train's --random-erasing.", valueName: "P"))
    var randomErasing = 0.0

    @Flag(help: "Print the results as one JSON object.")
    var json = false

    func validate() throws {
        try validateOptions {
            try InvalidOption.check(count, in: 1...100_000, "--count")
            try InvalidOption.check(threads, in: OptionRange.threads, "--threads")
            try InvalidOption.check(epochs, in: 1...1_000, "--epochs")
            try InvalidOption.check(size, in: OptionRange.imageSide, "--size", unit: "pixels")
            try InvalidOption.check(randomErasing.isFinite && (0...1).contains(randomErasing), "--random-erasing",
                                    "a probability from 0 to 1")
        }
    }

    func run() throws {
        let temporary = folder == nil
        let target = folder ?? NSTemporaryDirectory() + "finetune-bench-data-" + UUID().uuidString
        defer { if temporary { try? FileManager.default.removeItem(atPath: target) } }
        let files = try DataBenchmark.writeFiles(to: target, count: count)
        var augmentations: [any RandomTransform] = [RandomHorizontalFlip()]
        switch autoAugment {
        case .none: break
        case .trivialWide: augmentations.append(TrivialAugmentWide())
        case .randAugment: augmentations.append(RandAugment())
        }
        let transform = TrainTransform(crop: RandomResizedCrop(size: size), augmentations: augmentations,
                                       erasing: randomErasing > 0 ? RandomErasing(probability: randomErasing) : nil)
        let extras = (autoAugment == .none ? "" : " + \(autoAugment.rawValue)") + (randomErasing > 0 ? " + erasing \(randomErasing)" : "")
        let results = [
            DataBenchmark.time("jpeg 500x375", files: files.jpegs, transform: transform, threads: threads, epochs: epochs),
            DataBenchmark.time("png 300x300 gray", files: files.pngs, transform: transform, threads: threads, epochs: epochs),
        ]
        if json {
            let fields = results.map { "\"\($0.name)\": \(String(format: "%.1f", $0.imagesPerSecond))" }
            print("{\"folder\": \"\(target)\", \"threads\": \(threads), " + fields.joined(separator: ", ") + "}")
        } else {
            print("finetune data pipeline, \(threads) threads, RandomResizedCrop(\(size)) + flip\(extras) + normalise:")
            for result in results {
                let name = result.name.padding(toLength: 18, withPad: " ", startingAt: 0)
                print("  " + name + String(format: " %8.1f images/s  (%d images in %.2f s)",
                                           result.imagesPerSecond, result.images, result.seconds))
            }
        }
    }
}
