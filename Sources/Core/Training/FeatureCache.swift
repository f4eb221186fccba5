import Foundation

/// The backbone features the head of a stage with a frozen backbone trains on: `views` augmented
/// views of every training image and one unaugmented view of every validation image kept in
/// memory, or, with `views` 0, none kept, each epoch's computed from its batches as they arrive.
///
/// View v of training image i is the image as the training loader transforms it in epoch v + 1
/// (its augmentation draws from SeededRandom(seed, epoch: v + 1, sample: i)). Epoch e trains on
/// view (e - 1) mod `views`, in that epoch's shuffled batches: up to epoch `views` that is
/// exactly what uncached training sees; after it, views repeat. Each view is computed the first
/// time an epoch needs it, so a run stopped early (patience, Ctrl-C) computes no more than it used.
///
/// With `standardizes`, every batch holds standardized features (`FeatureStandardization`),
/// the statistics taken from the sample's view-0 features before the first step — in a run
/// resumed past epoch 1 too, so that it standardizes as the uninterrupted run did.
final class FeatureCache {
    /// Training views kept; 0: none.
    let views: Int
    /// The map applied to every batch, once `prepare` has computed it; nil without `standardizes`.
    private(set) var standardization: FeatureStandardization?
    private let standardizes: Bool
    let extractor: FeatureExtractor
    /// The training images in dataset order, transformed as the training loader does.
    private let trainImages: DataLoader
    private let validationImages: DataLoader
    private let seed: UInt64
    private var tables: [FeatureTable?]
    /// The validation features, once computed; always nil without views (validation then runs
    /// the whole classifier).
    private(set) var validation: FeatureTable?

    /// What `prepare` reports per batch: which images, images done, images in all, seconds since it started.
    typealias Progress = (_ what: String, _ done: Int, _ total: Int, _ seconds: Double) -> Void

    /// - Parameters:
    ///   - model: the whole classifier; its backbone weights are copied now.
    ///   - views: training views to keep (0: none).
    ///   - train: the training loader (its dataset, transform, seed and workers are used, unshuffled).
    ///   - validation: the validation loader.
    ///   - standardizes: standardize the features (see `FeatureStandardization`).
    init(model: Model, views: Int, train: DataLoader, validation: DataLoader, standardizes: Bool = true) throws {
        precondition(views >= 0, "a feature cache cannot keep a negative number of views")
        self.views = views
        self.standardizes = standardizes
        extractor = try FeatureExtractor(classifier: model, batchSize: train.options.batchSize)
        var options = train.options
        options.shuffle = false
        options.dropLast = false
        trainImages = DataLoader(dataset: train.dataset, transform: train.transform, options: options)
        validationImages = validation
        seed = train.options.seed
        tables = Array(repeating: nil, count: views)
    }

    /// Floats the kept features take: every view of every training image plus the validation images.
    static func floats(views: Int, training: Int, validation: Int, width: Int) -> Int? {
        guard let kept = CheckedSize.product(views, training), let all = CheckedSize.sum(kept, validation) else { return nil }
        return CheckedSize.product(all, width)
    }

    /// The view epoch `epoch` (1-based, counted across stages) trains on.
    func view(epoch: Int) -> Int { (epoch - 1) % views }

    /// Computes what `epoch` needs unless it is here: the standardization, the validation
    /// features and the epoch's view (the last two only when views are kept).
    /// - Returns: false when `shouldStop` stopped the computation.
    func prepare(epoch: Int, progress: Progress, shouldStop: () -> Bool) -> Bool {
        if views > 0, validation == nil {
            let total = validationImages.dataset.count, start = Date()
            validation = extractor.table(of: validationImages, epoch: 0,
                                         progress: { progress("validation images", $0, total, Date().timeIntervalSince(start)) },
                                         shouldStop: shouldStop)
            if validation == nil { return false }
        }
        if standardizes, standardization == nil {
            let sample = FeatureStandardization.sample(images: trainImages.dataset.count, seed: seed)
            let table: FeatureTable
            if views > 0 {
                guard prepareView(0, progress: progress, shouldStop: shouldStop) else { return false }
                table = tables[0]!
            } else {
                let start = Date(), size = trainImages.options.batchSize
                let plan = stride(from: 0, to: sample.count, by: size).map { Array(sample[$0..<min($0 + size, sample.count)]) }
                guard let computed = extractor.table(
                    of: trainImages, epoch: 1, plan: plan,
                    progress: { progress("training images for the standardization", $0, sample.count, Date().timeIntervalSince(start)) },
                    shouldStop: shouldStop) else { return false }
                table = computed
            }
            let s = FeatureStandardization(of: table, rows: sample)
            if views > 0 {
                s.apply(to: tables[0]!)
                s.apply(to: validation!)
            }
            standardization = s
        }
        return views == 0 || prepareView(view(epoch: epoch), progress: progress, shouldStop: shouldStop)
    }

    /// Computes training view `v` unless it is here (standardized when the map is known).
    private func prepareView(_ v: Int, progress: Progress, shouldStop: () -> Bool) -> Bool {
        guard tables[v] == nil else { return true }
        let total = trainImages.dataset.count, start = Date()
        guard let table = extractor.table(of: trainImages, epoch: v + 1,
                                          progress: { progress("training images, view \(v + 1) of \(views)", $0, total,
                                                               Date().timeIntervalSince(start)) },
                                          shouldStop: shouldStop) else { return false }
        standardization?.apply(to: table)
        tables[v] = table
        return true
    }

    /// The feature batches of `epoch`, in the order and batches `loader` gives that epoch
    /// (unreadable images left out), a count of the images left out so far, and, where images
    /// are read, what the loader could supply (`DataLoader.Epoch.imagesPerSecond`). Kept views
    /// are gathered from their table; without views each batch of images runs through the
    /// backbone as it arrives, while the loader's workers decode the next. Call `prepare` first.
    func trainingBatches(epoch: Int, loader: DataLoader)
        -> (batches: AnySequence<Batch>, skipped: () -> Int, imagesPerSecond: (() -> Double?)?) {
        guard views > 0 else {
            let images = loader.epoch(epoch)
            let standardization = standardization
            return (AnySequence(images.lazy.map { [extractor] batch in
                var features = extractor.features(of: batch)
                standardization?.apply(to: &features)
                return features
            }), { images.skipped }, { images.imagesPerSecond })
        }
        guard let table = tables[view(epoch: epoch)] else { preconditionFailure("view of epoch \(epoch) not prepared") }
        let batches = loader.plan(epoch: epoch).map(table.batch).filter { $0.count > 0 }
        return (AnySequence(batches), { table.skipped }, nil)
    }
}
