import Foundation

/// A trained model ready to classify images: the library API for Swift apps.
///
///     let classifier = try ImageClassifier(contentsOf: URL(fileURLWithPath: "runs/photos/best.safetensors"))
///     let result = try classifier.classify(imageAt: "photo.jpg")
///     print(result.top[0].class, result.top[0].probability)
///
/// Images are decoded (JPEG or PNG), resized so the shorter side is the model's eval resize,
/// center-cropped to its input size and normalised, as in validation during training.
public final class ImageClassifier {
    public let classes: [String]
    public let backbone: Backbone
    public let file: ModelFile
    let executor: Executor
    let transform: EvalTransform
    let decoder: ImageDecoder
    /// Images per forward pass.
    public let batchSize: Int

    /// Loads a model file; its backbone plugin is looked up in `catalog` (default search path).
    /// - Parameter maxImagePixels: larger images are refused before decoding (`--max-image-pixels`,
    ///   checked by `ImageDecoder.checkMaxPixels`).
    /// - Throws: `WeightsFileError` naming the file and the field for a model file `ModelFile`
    ///   refuses; `InvalidOption` for a batch size outside `OptionRange.batchSize`; `MemoryError`
    ///   when the batch at the model's input size needs more memory than the machine has.
    public init(contentsOf url: URL, catalog: PluginCatalog = PluginCatalog(), batchSize: Int = 8,
                maxImagePixels: Int = Limits.defaultImagePixels) throws {
        try InvalidOption.check(batchSize, in: OptionRange.batchSize, "the batch size (--batch-size)")
        try ImageDecoder.checkMaxPixels(maxImagePixels)
        decoder = ImageDecoder(maxPixels: maxImagePixels)
        let (file, backbone) = try ModelFile.load(contentsOf: url, catalog: catalog)
        let (graph, weights) = try file.graphAndWeights(backbone: backbone, file: url.path)
        let model = try Model(graph: graph)
        try model.load(weights)
        self.file = file
        self.backbone = backbone
        classes = file.classes
        self.batchSize = batchSize
        executor = try Executor(model: model, batchSize: batchSize, training: false)
        transform = EvalTransform(resize: file.evalResize, crop: file.inputSize, normalize: Normalize(mean: file.mean, std: file.std),
                                  interpolation: file.interpolation)
    }

    /// Classifies one image file.
    public func classify(imageAt path: String, topK: Int = 5) throws -> Classification {
        try classify(imagesAt: [path], topK: topK)[0].get()
    }

    /// Classifies image files in batches; a file that cannot be read or decoded gets its error.
    public func classify(imagesAt paths: [String], topK: Int = 5) -> [Result<Classification, Error>] {
        var results: [Result<Classification, Error>] = []
        let sample = transform.height * transform.width * 3
        var input = [Float](repeating: 0, count: batchSize * sample)
        var start = 0
        while start < paths.count {
            let chunk = Array(paths[start..<min(paths.count, start + batchSize)])
            var decoded: [(path: String, error: Error?)] = []
            var random = SeededRandom(seed: 0)  // evaluation transforms draw nothing
            var good = 0
            input.withUnsafeMutableBufferPointer { buffer in
                for path in chunk {
                    do {
                        let bytes = try ImageDecoder.read(path)
                        try transform.process(bytes, path: path, decoder: decoder, random: &random,
                                              into: buffer.baseAddress! + good * sample)
                        decoded.append((path, nil))
                        good += 1
                    } catch {
                        decoded.append((path, error))
                    }
                }
            }
            var logits: [Float] = []
            if good > 0 {
                var rng = SplitMix64(seed: 0)
                let out = input.withUnsafeBufferPointer { executor.forward($0.baseAddress!, count: good, rng: &rng) }
                logits = Array(UnsafeBufferPointer(start: out, count: good * classes.count))
            }
            var row = 0
            for item in decoded {
                if let error = item.error {
                    results.append(.failure(error))
                } else {
                    let z = Array(logits[(row * classes.count)..<((row + 1) * classes.count)])
                    results.append(.success(Classification(image: item.path, logits: z, classes: classes, topK: topK)))
                    row += 1
                }
            }
            start += chunk.count
        }
        return results
    }
}

/// One image's result. JSON keys are a contract (DESIGN §7): `image`, `logits` (raw, in class
/// order), `probabilities` (softmax, in class order), `top` (class, probability; best first).
public struct Classification: Codable, Sendable {
    public struct Prediction: Codable, Sendable {
        public var `class`: String
        public var probability: Double
    }
    public var image: String
    public var logits: [Float]
    public var probabilities: [Double]
    public var top: [Prediction]

    init(image: String, logits: [Float], classes: [String], topK: Int) {
        self.image = image
        self.logits = logits
        let m = Double(logits.max() ?? 0)
        let e = logits.map { exp(Double($0) - m) }
        let s = e.reduce(0, +)
        probabilities = e.map { $0 / s }
        top = probabilities.enumerated().sorted { $0.element > $1.element }.prefix(max(1, topK))
            .map { Prediction(class: classes[$0.offset], probability: $0.element) }
    }
}
