import Foundation

/// Throughput of one backbone with a linear head, as `finetune bench` reports it: inference
/// (everything frozen, BN folded) and full training steps (forward, backward, SGD update).
public struct EngineBenchmark: Codable, Sendable {
    public enum Mode: String, CaseIterable, Sendable { case inference, training }

    public var backbone: String
    public var input_size: Int
    public var batch: Int
    public var threads: Int
    public var inference_images_per_second: Double?
    public var inference_gflops_per_second: Double?
    public var training_images_per_second: Double?
    public var training_gflops_per_second: Double?
    /// Forward FLOPs of one image (convolutions and linear layers).
    public var forward_gflops_per_image: Double
    /// The process's peak resident memory when the measurement ended (measure one mode per
    /// process to see that mode's peak).
    public var peak_rss_bytes: Int
    /// What the data loader supplies at this input size (`measureData`): 500x375 JPEGs read,
    /// decoded, randomly resized and cropped, flipped and normalised, images per second.
    public var data_images_per_second: Double?
    /// The loader's decoding threads for `data_images_per_second`.
    public var data_workers: Int?

    /// Times the data loader at `size` over `files` (JPEGs, e.g. `DataBenchmark.writeFiles`) with
    /// `workers` threads, as a training stage runs it, and records it beside the engine's figures.
    public mutating func measureData(files: [String], workers: Int) {
        let transform = TrainTransform(crop: RandomResizedCrop(size: input_size), augmentations: [RandomHorizontalFlip()])
        data_images_per_second = DataBenchmark.time("jpeg", files: files, transform: transform, threads: workers,
                                                    batchSize: batch, epochs: 2).imagesPerSecond
        data_workers = workers
    }

    /// Times `steps` batches of each mode after one warm-up batch.
    public static func run(_ backbone: Backbone, inputSize: Int? = nil, batch: Int = 32, classes: Int = 1000,
                           steps: Int = 3, threads: Int = 2, modes: Set<Mode> = Set(Mode.allCases)) throws -> EngineBenchmark {
        ComputeThreads.set(threads)
        let size = inputSize ?? backbone.inputSize
        let model = try Model(graph: try backbone.makeClassifier(classes: classes, inputSize: size))
        model.initialize(seed: 0)
        var rng = SplitMix64(seed: 1)
        try MemoryBudget.require(floats: CheckedSize.product(of: [batch, size, size, 3, 2]),
                                 what: "a random input batch of \(batch) images of \(size)x\(size) pixels",
                                 hint: "lower --batch or --input-size")
        let input = FloatBuffer((0..<batch * size * size * 3).map { _ in rng.nextFloat() * 2 - 1 })
        let flops = Double(model.graph.forwardFLOPsPerSample)
        var result = EngineBenchmark(backbone: backbone.name, input_size: size, batch: batch, threads: threads,
                                     forward_gflops_per_image: flops / 1e9, peak_rss_bytes: 0)

        if modes.contains(.inference) {
            let inference = try Executor(model: model, batchSize: batch, training: false)
            let rate = Double(batch) / time(steps) { inference.forward(input.pointer, count: batch, rng: &rng) }
            result.inference_images_per_second = rate
            result.inference_gflops_per_second = rate * flops / 1e9
        }
        if modes.contains(.training) {
            let train = try Executor(model: model, batchSize: batch, training: true)
            let sgd = SGD(momentum: 0.9)
            let labels = (0..<batch).map { Int32($0 % classes) }
            var dLogits = [Float](repeating: 0, count: batch * classes)
            let parameters = model.parameters
            let rate = Double(batch) / time(steps) {
                model.zeroGradients()
                let logits = train.forward(input.pointer, count: batch, rng: &rng)
                _ = SoftmaxCrossEntropy.forwardBackward(logits: logits, labels: labels, n: batch, classes: classes, dLogits: &dLogits)
                train.backward(dLogits)
                sgd.step(parameters, lr: 1e-3)
            }
            result.training_images_per_second = rate
            // Backward does about twice the forward's multiply-adds.
            result.training_gflops_per_second = rate * 3 * flops / 1e9
        }
        result.peak_rss_bytes = peakResidentBytes()
        return result
    }

    /// getrusage's maximum resident set size (kilobytes on Linux).
    static func peakResidentBytes() -> Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return usage.ru_maxrss * 1024
    }

    /// Median seconds of `steps` runs after one warm-up run.
    static func time(_ steps: Int, _ body: () -> Void) -> Double {
        body()
        var times: [Double] = []
        for _ in 0..<max(1, steps) {
            let start = DispatchTime.now().uptimeNanoseconds
            body()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        return times.sorted()[times.count / 2]
    }
}
