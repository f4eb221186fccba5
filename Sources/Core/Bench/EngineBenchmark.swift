import Foundation

/// Throughput of one backbone with a linear head, as `finetune bench` reports it: inference
/// (everything frozen, BN folded) and full training steps (forward, backward, SGD update).
public struct EngineBenchmark: Codable, Sendable {
    public var backbone: String
    public var input_size: Int
    public var batch: Int
    public var threads: Int
    public var inference_images_per_second: Double
    public var inference_gflops_per_second: Double
    public var training_images_per_second: Double
    public var training_gflops_per_second: Double
    /// Forward FLOPs of one image (convolutions and linear layers).
    public var forward_gflops_per_image: Double

    /// Times `steps` batches of each kind after one warm-up batch.
    public static func run(_ backbone: Backbone, inputSize: Int? = nil, batch: Int = 32, classes: Int = 1000,
                           steps: Int = 3, threads: Int = 2) throws -> EngineBenchmark {
        ComputeThreads.set(threads)
        let size = inputSize ?? backbone.inputSize
        let model = Model(graph: try backbone.makeClassifier(classes: classes, inputSize: size))
        model.initialize(seed: 0)
        var rng = SplitMix64(seed: 1)
        let input = FloatBuffer((0..<batch * size * size * 3).map { _ in rng.nextFloat() * 2 - 1 })
        let flops = Double(model.graph.forwardFLOPsPerSample)

        let inference = Executor(model: model, batchSize: batch, training: false)
        let inferenceSeconds = time(steps) { inference.forward(input.pointer, count: batch, rng: &rng) }

        let train = Executor(model: model, batchSize: batch, training: true)
        let sgd = SGD(momentum: 0.9)
        let labels = (0..<batch).map { Int32($0 % classes) }
        var dLogits = [Float](repeating: 0, count: batch * classes)
        let parameters = model.parameters
        let trainingSeconds = time(steps) {
            model.zeroGradients()
            let logits = train.forward(input.pointer, count: batch, rng: &rng)
            _ = SoftmaxCrossEntropy.forwardBackward(logits: logits, labels: labels, n: batch, classes: classes, dLogits: &dLogits)
            train.backward(dLogits)
            sgd.step(parameters, lr: 1e-3)
        }
        let inferenceRate = Double(batch) / inferenceSeconds, trainingRate = Double(batch) / trainingSeconds
        return EngineBenchmark(
            backbone: backbone.name, input_size: size, batch: batch, threads: threads,
            inference_images_per_second: inferenceRate,
            inference_gflops_per_second: inferenceRate * flops / 1e9,
            training_images_per_second: trainingRate,
            // Backward does about twice the forward's multiply-adds.
            training_gflops_per_second: trainingRate * 3 * flops / 1e9,
            forward_gflops_per_image: flops / 1e9)
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
