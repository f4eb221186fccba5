import ArgumentParser
import FineTuneCore
import Foundation

struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Classify images with a trained model.",
        discussion: """
        Each argument is an image (JPEG or PNG) or a folder, searched recursively for images. \
        An unreadable image is reported on stderr and the others still run; the exit status is \
        then 1. --json prints a first line with the class list and the model, \
        {"classes":[...],"model":{"backbone":...,"file":...}}, then one object per image, in order: \
        image, logits, probabilities (rounded to 6 decimals, in class order), top; or, for an \
        image that could not be read, image and error. With --tta the header says "tta":true, \
        probabilities are the mean of the two softmax distributions and logits the mean of the \
        two logit vectors.
        """)

    @OptionGroup var plugins: PluginOptions
    @OptionGroup var imageOptions: ImageOptions

    @Option(help: "The model file (from `finetune train` or `finetune import`).")
    var model: String

    @Option(help: "How many of the most likely classes to show.")
    var topK = 3

    @Flag(help: "Test-time augmentation: classify each image as its centre crop and that crop flipped left to right, and average the two softmax probabilities (logits: the mean of the two logit vectors). Twice the compute.")
    var tta = false

    @Flag(help: "Print JSON lines: the classes and the model, then one object per image.")
    var json = false

    @Argument(help: "Images or folders of images.")
    var images: [String]

    func validate() throws {
        try validateOptions { try InvalidOption.check(topK, in: OptionRange.classes, "--top-k") }
        guard !images.isEmpty else { throw ValidationError("give at least one image or folder") }
    }

    func run() throws {
        let classifier = try ImageClassifier(contentsOf: URL(fileURLWithPath: model), catalog: plugins.catalog(),
                                             maxImagePixels: imageOptions.pixelLimit, testTimeAugmentation: tta)
        let paths = try images.flatMap(imageFiles)
        if json { print(try PredictJSON.line(PredictJSON.Header(classes: classifier.classes,
                                                                 model: ModelSummary(classifier, withClasses: false), tta: tta))) }
        var failures = 0
        for (path, result) in zip(paths, classifier.classify(imagesAt: paths, topK: min(topK, classifier.classes.count))) {
            switch result {
            case .success(let c):
                if json {
                    print(try PredictJSON.line(PredictJSON.Record(c)))
                } else {
                    print("\(c.image.terminalSafe): "
                          + c.top.map { "\($0.class.terminalSafe) \(String(format: "%.4f", $0.probability))" }.joined(separator: ", "))
                }
            case .failure(let error):
                failures += 1
                if json {
                    print(try PredictJSON.line(PredictJSON.Failure(image: path, error: "\(error)")))
                } else {
                    printError("error: \(error)")
                }
            }
        }
        if failures > 0 {
            if json { printError("error: \(failures) of \(paths.count) images could not be read (their records carry the reason)") }
            throw ExitCode(1)
        }
    }
}

/// `path` itself when it is a file; the images under it (sorted) when it is a folder.
func imageFiles(_ path: String) throws -> [String] {
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
        throw ValidationError("\(path) does not exist")
    }
    guard isDir.boolValue else { return [path] }
    // Only regular files, each once; FIFOs, symlink loops and second links are skipped with a warning.
    let files = try ImageDataset.imageFiles(under: path, warn: { printError("warning: \($0)") })
    guard !files.isEmpty else { throw ValidationError("\(path) holds no JPEG or PNG images") }
    return files
}
