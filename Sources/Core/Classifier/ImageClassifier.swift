import Foundation

/// A trained model ready to classify images: the library API for Swift apps.
///
///     let classifier = try ImageClassifier(contentsOf: URL(fileURLWithPath: "runs/photos/best.safetensors"))
///     let result = try classifier.classify(imageAt: "photo.jpg")
///     print(result.top[0].class, result.top[0].probability)
///
/// It classifies files, a file's bytes in memory (`Data`, JPEG or PNG) or decoded RGB pixels
/// (`RGBPixels`), one at a time or in batches (`ImageInput`). Every image is resized so its
/// shorter side is the model's eval resize, center-cropped to its input size and normalised
/// with the model file's filter, mean and std, as in validation during training; JPEG and PNG
/// go through the tool's own decoders (a file's bytes are read as if an attacker wrote them).
///
/// Immutable and `Sendable`: calls from several threads or tasks run at once, each with
/// buffers of its own (up to `concurrency` of them; more calls wait for one), over one shared
/// copy of the weights. Each call's result is the same as if the calls had run one by one.
public final class ImageClassifier: Sendable {
    public let classes: [String]
    public let backbone: Backbone
    public let file: ModelFile
    /// Where `file` was read from.
    public let url: URL
    /// Images per forward pass.
    public let batchSize: Int
    /// Decoded images with more pixels are refused before decoding.
    public let maxImagePixels: Int
    /// Calls that run at once; each holds its own activation buffers for `batchSize` images.
    public let concurrency: Int
    /// Test-time augmentation: each image is also run flipped left to right; its probabilities
    /// are the mean of the two softmax distributions and its logits the mean of the two logit
    /// vectors (`FlipAugmentation`). Twice the compute per image.
    public let testTimeAugmentation: Bool
    let transform: EvalTransform
    let workers: ClassifierWorkers

    /// Loads a model file; its backbone plugin is looked up in `catalog` (default search path).
    /// - Parameters:
    ///   - maxImagePixels: larger images are refused before decoding (`--max-image-pixels`,
    ///     checked by `ImageDecoder.checkMaxPixels`).
    ///   - concurrency: calls that may run at once (from 1 to `OptionRange.threads`); a call's
    ///     buffers are made when it first needs them.
    ///   - testTimeAugmentation: classify each image as its centre crop and that crop's
    ///     horizontal flip, averaged (`testTimeAugmentation`).
    /// - Throws: `WeightsFileError` naming the file and the field for a model file `ModelFile`
    ///   refuses; `InvalidOption` for a batch size outside `OptionRange.batchSize` or a
    ///   concurrency outside `OptionRange.threads`; `MemoryError` when the batch at the model's
    ///   input size needs more memory than the machine has.
    public init(contentsOf url: URL, catalog: PluginCatalog = PluginCatalog(), batchSize: Int = 8,
                maxImagePixels: Int = Limits.defaultImagePixels,
                concurrency: Int = ProcessInfo.processInfo.activeProcessorCount, testTimeAugmentation: Bool = false) throws {
        try InvalidOption.check(batchSize, in: OptionRange.batchSize, "the batch size (--batch-size)")
        try InvalidOption.check(concurrency, in: OptionRange.threads, "the classifier's concurrency")
        try ImageDecoder.checkMaxPixels(maxImagePixels)
        let (file, backbone) = try ModelFile.load(contentsOf: url, catalog: catalog)
        let (graph, weights) = try file.graphAndWeights(backbone: backbone, file: url.path)
        let model = try Model(graph: graph)
        try model.load(weights)
        self.file = file
        self.url = url
        self.backbone = backbone
        classes = file.classes
        self.batchSize = batchSize
        self.maxImagePixels = maxImagePixels
        self.concurrency = concurrency
        self.testTimeAugmentation = testTimeAugmentation
        let transform = EvalTransform(resize: file.evalResize, crop: file.inputSize, normalize: Normalize(mean: file.mean, std: file.std),
                                      interpolation: file.interpolation)
        self.transform = transform
        let sample = transform.height * transform.width * 3
        workers = try ClassifierWorkers(limit: concurrency) {
            ClassifierWorker(executor: try Executor(model: model, batchSize: batchSize, training: false),
                             decoder: ImageDecoder(maxPixels: maxImagePixels),
                             input: [Float](repeating: 0, count: batchSize * sample))
        }
    }

    /// Classifies one image file.
    public func classify(imageAt path: String, topK: Int = 5) throws -> Classification {
        try classify([.file(path)], topK: topK)[0].get()
    }

    /// Classifies image files in batches; a file that cannot be read or decoded gets its error.
    public func classify(imagesAt paths: [String], topK: Int = 5) -> [Result<Classification, Error>] {
        classify(paths.map { .file($0) }, topK: topK)
    }

    /// Classifies the bytes of a JPEG or PNG file; `name` stands for them in errors and in the result.
    /// - Throws: `DataError` naming `name` for bytes that are not a whole JPEG or PNG image.
    public func classify(imageData data: Data, name: String = "image data", topK: Int = 5) throws -> Classification {
        try classify([.encoded(data, name: name)], topK: topK)[0].get()
    }

    /// Classifies decoded RGB pixels; `name` stands for them in the result.
    public func classify(pixels: RGBPixels, name: String = "pixels", topK: Int = 5) throws -> Classification {
        try classify([.pixels(pixels, name: name)], topK: topK)[0].get()
    }

    /// Classifies images of any kind in batches of `batchSize`, in order; an image that cannot be
    /// read or decoded gets its error and the others still run. A batch gives each image the
    /// result it gets alone.
    public func classify(_ inputs: [ImageInput], topK: Int = 5) -> [Result<Classification, Error>] {
        workers.withWorker { worker in
            var results: [Result<Classification, Error>] = []
            results.reserveCapacity(inputs.count)
            var start = 0
            while start < inputs.count {
                let chunk = inputs[start..<min(inputs.count, start + batchSize)]
                results += classify(chunk, topK: topK, worker: worker)
                start += chunk.count
            }
            return results
        }
    }

    /// One batch, at most `batchSize` inputs, on `worker`.
    private func classify(_ chunk: ArraySlice<ImageInput>, topK: Int, worker: ClassifierWorker) -> [Result<Classification, Error>] {
        let sample = transform.height * transform.width * 3
        var errors: [Error?] = []
        var good = 0
        worker.input.withUnsafeMutableBufferPointer { buffer in
            for input in chunk {
                do {
                    let image = try input.image(transform, decoder: worker.decoder)
                    transform.normalize.write(image, to: buffer.baseAddress! + good * sample)
                    errors.append(nil)
                    good += 1
                } catch {
                    errors.append(error)
                }
            }
        }
        var logits: [Float] = [], flipped: [Float] = []
        if good > 0, testTimeAugmentation {
            (logits, flipped) = worker.input.withUnsafeMutableBufferPointer {
                FlipAugmentation.logits(worker.executor, images: $0.baseAddress!, count: good, height: transform.height,
                                        width: transform.width, classes: classes.count)
            }
        } else if good > 0 {
            var rng = SplitMix64(seed: 0)  // inference draws nothing
            let out = worker.input.withUnsafeBufferPointer { worker.executor.forward($0.baseAddress!, count: good, rng: &rng) }
            logits = Array(UnsafeBufferPointer(start: out, count: good * classes.count))
        }
        var row = 0
        return zip(chunk, errors).map { input, error in
            if let error { return .failure(error) }
            let rows = (row * classes.count)..<((row + 1) * classes.count)
            row += 1
            guard testTimeAugmentation else {
                return .success(Classification(image: input.name, logits: Array(logits[rows]), classes: classes, topK: topK))
            }
            let (z, p) = FlipAugmentation.average(logits[rows], flipped[rows])
            return .success(Classification(image: input.name, logits: z, probabilities: p, classes: classes, topK: topK))
        }
    }
}

/// One image's result. JSON keys are a contract (DESIGN §7): `image`, `logits` (raw, in class
/// order), `probabilities` (softmax, in class order), `top` (class, probability; best first).
public struct Classification: Codable, Sendable {
    public struct Prediction: Codable, Sendable {
        public var `class`: String
        public var probability: Double

        public init(class: String, probability: Double) {
            self.class = `class`
            self.probability = probability
        }
    }
    public var image: String
    public var logits: [Float]
    public var probabilities: [Double]
    public var top: [Prediction]

    init(image: String, logits: [Float], classes: [String], topK: Int) {
        self.init(image: image, logits: logits, probabilities: softmax(logits), classes: classes, topK: topK)
    }

    /// A result whose probabilities are not the softmax of its logits (test-time augmentation).
    init(image: String, logits: [Float], probabilities: [Double], classes: [String], topK: Int) {
        self.image = image
        self.logits = logits
        self.probabilities = probabilities
        top = probabilities.enumerated().sorted { $0.element > $1.element }.prefix(max(1, topK))
            .map { Prediction(class: classes[$0.offset], probability: $0.element) }
    }
}
