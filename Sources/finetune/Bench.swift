import ArgumentParser
import FineTuneCore
import Foundation

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure inference and training throughput of the backbones.",
        discussion: """
        Inference runs with every layer frozen (BN folded into the convolutions); a training step \
        is forward, backward and an SGD update with every layer trainable. Random weights and \
        inputs; the median of --steps timed batches after one warm-up batch. \
        tools/bench_engine.py runs PyTorch on the same shapes and prints the ratios. \
        Beside them, what the data loader supplies at each backbone's input size: synthetic \
        500x375 JPEGs read, decoded, randomly resized and cropped, flipped and normalised by \
        --workers threads (the engine is fed when this is above its images/s).
        """)

    @OptionGroup var plugins: PluginOptions

    @Option(help: "Backbones to measure (default: all installed). Repeatable.")
    var backbone: [String] = []

    @Option(help: "Batch size.")
    var batch = 32

    @Option(help: "Square input size (default: each backbone's training size).")
    var inputSize: Int?

    @Option(help: "Timed batches per measurement.")
    var steps = 3

    @Option(help: "Compute threads (OpenBLAS and the other kernels).")
    var threads = 2

    @Option(help: "Measure only inference or only training (one mode per process shows that mode's peak memory).")
    var only: String?

    @Option(help: "Decoding threads of the data loader's measurement (default: train's default for --threads; 0 skips it).")
    var workers: Int?

    @Flag(help: "Print one JSON object per backbone.")
    var json = false

    func validate() throws {
        try validateOptions {
            try InvalidOption.check(batch, in: OptionRange.batchSize, "--batch")
            try InvalidOption.check(inputSize, in: OptionRange.imageSide, "--input-size", unit: "pixels")
            try InvalidOption.check(steps, in: 1...10_000, "--steps")
            try InvalidOption.check(threads, in: OptionRange.threads, "--threads")
            try InvalidOption.check(workers.map { $0 == 0 || OptionRange.threads.contains($0) } ?? true, "--workers",
                                    "0 or an integer in \(OptionRange.threads)")
        }
        if let only, EngineBenchmark.Mode(rawValue: only) == nil { throw ValidationError("--only must be inference or training") }
    }

    func run() throws {
        let catalog = plugins.catalog()
        let names = backbone.isEmpty ? catalog.backbones.map(\.name) : backbone
        let workers = self.workers ?? TrainingOptions.defaultWorkers(threads: threads)
        let folder = NSTemporaryDirectory() + "finetune-bench-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // Written once the first engine measurement has passed its memory checks, and bounded:
        // a batch too large for the machine is refused before any file is made.
        var jpegs: [String]?
        if !json {
            print("backbone          size  batch  inference img/s  GFLOP/s  training img/s  GFLOP/s  peak RSS"
                  + (workers > 0 ? "  data img/s (\(workers) workers)" : ""))
        }
        for name in names {
            var result = try EngineBenchmark.run(try catalog.backbone(named: name), inputSize: inputSize, batch: batch,
                                                 steps: steps, threads: threads,
                                                 modes: only.map { [EngineBenchmark.Mode(rawValue: $0)!] } ?? Set(EngineBenchmark.Mode.allCases))
            if workers > 0 {
                if jpegs == nil { jpegs = try DataBenchmark.writeFiles(to: folder, count: min(max(2 * batch, 64), 256)).jpegs }
                result.measureData(files: jpegs!, workers: workers)
            }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                print(String(decoding: try encoder.encode(result), as: UTF8.self))
            } else {
                func cell(_ v: Double?, _ width: Int, _ digits: Int) -> String {
                    let text = v.map { String(format: "%.\(digits)f", $0) } ?? "-"
                    return String(repeating: " ", count: max(0, width - text.count)) + text
                }
                print(String(format: "%-16@  %4d  %5d", name.terminalSafe as NSString, result.input_size, batch)
                      + "  " + cell(result.inference_images_per_second, 15, 1) + "  " + cell(result.inference_gflops_per_second, 7, 1)
                      + "  " + cell(result.training_images_per_second, 14, 2) + "  " + cell(result.training_gflops_per_second, 7, 1)
                      + String(format: "  %5.2f GB", Double(result.peak_rss_bytes) / 1e9)
                      + (result.data_images_per_second.map { "  " + cell($0, 10, 1) } ?? ""))
            }
        }
    }
}
