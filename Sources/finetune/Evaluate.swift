import ArgumentParser
import FineTuneCore
import Foundation

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure a model on a labelled image folder: accuracy, balanced accuracy, macro-F1, per-class precision/recall/F1, confusion matrix.",
        discussion: """
        DATA is an image folder DIR/<class>/... (or DIR/val/<class>/... when DIR has train and \
        val folders). Its class folders must be classes of the model.
        """)

    @OptionGroup var plugins: PluginOptions
    @OptionGroup var imageOptions: ImageOptions

    @Option(help: "The model file.")
    var model: String

    @Option(help: "The labelled image folder.")
    var data: String

    @Option(help: "Images per batch.")
    var batchSize = 32

    @Flag(help: "Also evaluate with test-time augmentation, in the same pass: each image as its centre crop and that crop flipped left to right, the two softmax probabilities averaged. Reported next to the plain result (with --json, as a tta object: accuracy, loss, per_class, confusion_matrix).")
    var tta = false

    @Flag(help: "Print one JSON object: model, data, images, accuracy, balanced_accuracy, macro_f1, loss, classes, per_class, confusion_matrix (and tta with --tta).")
    var json = false

    func validate() throws {
        try validateOptions { try InvalidOption.check(batchSize, in: OptionRange.batchSize, "--batch-size") }
    }

    func run() throws {
        let url = URL(fileURLWithPath: model)
        let classifier = try ImageClassifier(contentsOf: url, catalog: plugins.catalog(), batchSize: batchSize,
                                             maxImagePixels: imageOptions.pixelLimit, testTimeAugmentation: tta)
        let eval = try ModelEvaluation.run(classifier: classifier, data: data)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(eval.report), as: UTF8.self))
        } else {
            let r = eval.report
            func fixed(_ x: Double) -> String { String(format: "%.4f", x) }
            print("\(r.images) images, accuracy \(fixed(r.accuracy)), balanced accuracy \(fixed(r.balanced_accuracy)), "
                  + "macro-F1 \(fixed(r.macro_f1)), loss \(fixed(r.loss))")
            if let augmented = eval.report.tta {
                print("with TTA (centre crop + flip): accuracy \(fixed(augmented.accuracy)), balanced accuracy "
                      + "\(fixed(augmented.balanced_accuracy)), macro-F1 \(fixed(augmented.macro_f1)), loss \(fixed(augmented.loss))")
            }
            print(eval.confusion.table().terminalSafeLines)
            if let confusion = eval.augmentedConfusion {
                print("\nwith TTA (centre crop + flip)")
                print(confusion.table().terminalSafeLines)
            }
        }
    }
}
