import Foundation

/// `finetune evaluate`: a model file against a labelled image folder.
public struct ModelEvaluation {
    /// The JSON `finetune evaluate --json` prints.
    public struct Report: Codable, Sendable {
        /// The labelled folder evaluated (DIR, or DIR/val) and the images found in it.
        public struct DataSummary: Codable, Sendable {
            public var folder: String
            public var images: Int
        }
        public struct PerClass: Codable, Sendable {
            public var `class`: String
            public var precision: Double
            public var recall: Double
            public var f1: Double
            public var support: Int

            /// One per class of `c`, in class order.
            static func rows(_ c: ConfusionMatrix) -> [PerClass] {
                c.classes.indices.map {
                    .init(class: c.classes[$0], precision: c.precision($0), recall: c.recall($0), f1: c.f1($0),
                          support: c.counts[$0].reduce(0, +))
                }
            }
        }
        public var model: ModelSummary
        public var data: DataSummary
        /// Images evaluated: those found less those that could not be read.
        public var images: Int
        public var skipped: Int
        public var accuracy: Double
        /// Mean recall over the classes present, and mean F1 over the classes present or predicted (see `ConfusionMatrix`).
        public var balanced_accuracy: Double
        public var macro_f1: Double
        public var loss: Double
        public var classes: [String]
        public var per_class: [PerClass]
        /// confusion_matrix[true][predicted]
        public var confusion_matrix: [[Int]]
        /// With test-time augmentation, its result on the same images; nil (omitted) without.
        public var tta: Augmented?

        /// The test-time augmented result (`FlipAugmentation`): the keys of the plain one.
        public struct Augmented: Codable, Sendable {
            public var accuracy: Double
            public var balanced_accuracy: Double
            public var macro_f1: Double
            public var loss: Double
            public var per_class: [PerClass]
            public var confusion_matrix: [[Int]]

            init(_ eval: Evaluation) {
                accuracy = eval.accuracy
                balanced_accuracy = eval.confusion.balancedAccuracy
                macro_f1 = eval.confusion.macroF1
                loss = eval.loss
                per_class = PerClass.rows(eval.confusion)
                confusion_matrix = eval.confusion.counts
            }
        }
    }

    public var report: Report
    public var confusion: ConfusionMatrix
    /// The test-time augmented result's confusion matrix, when the classifier uses it.
    public var augmentedConfusion: ConfusionMatrix?

    /// Evaluates `classifier` on DIR/<class>/... (DIR/val/... when DIR has train and val folders).
    /// With `classifier.testTimeAugmentation`, the same pass also gives the augmented result
    /// (`Report.tta`) next to the plain one. Batches are of the classifier's batch size.
    public static func run(classifier: ImageClassifier, data: String) throws -> ModelEvaluation {
        let val = (data as NSString).appendingPathComponent("val")
        let root = FileManager.default.fileExists(atPath: val)
            && FileManager.default.fileExists(atPath: (data as NSString).appendingPathComponent("train")) ? val : data
        // Labelled by the model's class order; a folder the model does not know is an error naming it.
        let dataset = try ImageDataset.folder(root, classes: classifier.classes)
        let loader = DataLoader(dataset: dataset, transform: classifier.transform,
                                options: .init(batchSize: classifier.batchSize, shuffle: false,
                                               maxPixels: classifier.maxImagePixels))
        let (eval, augmented) = classifier.workers.withWorker { worker -> (Evaluation, Evaluation?) in
            guard classifier.testTimeAugmentation else {
                return (Evaluation.run(worker.executor, loader: loader, classes: classifier.classes), nil)
            }
            return Evaluation.runWithFlip(worker.executor, loader: loader, classes: classifier.classes)
        }
        let c = eval.confusion
        let report = Report(
            model: ModelSummary(classifier, withClasses: true), data: .init(folder: root, images: dataset.count),
            images: c.total, skipped: eval.skipped, accuracy: eval.accuracy,
            balanced_accuracy: c.balancedAccuracy, macro_f1: c.macroF1, loss: eval.loss, classes: c.classes,
            per_class: Report.PerClass.rows(c), confusion_matrix: c.counts, tta: augmented.map(Report.Augmented.init))
        return ModelEvaluation(report: report, confusion: c, augmentedConfusion: augmented?.confusion)
    }
}
