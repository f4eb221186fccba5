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
        tools/bench_engine.py runs PyTorch on the same shapes and prints the ratios.
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

    @Flag(help: "Print one JSON object per backbone.")
    var json = false

    func validate() throws {
        guard batch >= 1, steps >= 1, threads >= 1 else { throw ValidationError("--batch, --steps and --threads must be positive") }
    }

    func run() throws {
        let catalog = plugins.catalog()
        let names = backbone.isEmpty ? catalog.backbones.map(\.name) : backbone
        if !json {
            print("backbone          size  batch  inference img/s  GFLOP/s  training img/s  GFLOP/s")
        }
        for name in names {
            let result = try EngineBenchmark.run(try catalog.backbone(named: name), inputSize: inputSize, batch: batch,
                                                 steps: steps, threads: threads)
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                print(String(decoding: try encoder.encode(result), as: UTF8.self))
            } else {
                print(String(format: "%-16@  %4d  %5d  %15.1f  %7.1f  %14.2f  %7.1f", name as NSString, result.input_size, batch,
                             result.inference_images_per_second, result.inference_gflops_per_second,
                             result.training_images_per_second, result.training_gflops_per_second))
            }
        }
    }
}
