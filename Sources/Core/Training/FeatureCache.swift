import Foundation

/// Backbone features kept in memory for a stage whose whole backbone is frozen: `views`
/// augmented views of every training image and one unaugmented view of every validation image.
///
/// View v of training image i is the image as the training loader transforms it in epoch v + 1
/// (its augmentation draws from SeededRandom(seed, epoch: v + 1, sample: i)). Epoch e trains on
/// view (e - 1) mod `views`, in that epoch's shuffled batches: up to epoch `views` that is
/// exactly what uncached training sees; after it, views repeat. Each view is computed the first
/// time an epoch needs it, so a run stopped early (patience, Ctrl-C) computes no more than it used.
///
/// With `standardizes`, every table holds standardized features (`FeatureStandardization`),
/// their statistics taken from view 0, which is therefore computed first — in a run resumed
/// past epoch 1 too, so that it standardizes as the uninterrupted run did.
final class FeatureCache {
    let views: Int
    /// The map applied to every table, once view 0 is computed; nil without `standardizes`.
    private(set) var standardization: FeatureStandardization?
    private let standardizes: Bool
    let extractor: FeatureExtractor
    /// The training images in dataset order, transformed as the training loader does.
    private let trainImages: DataLoader
    private let validationImages: DataLoader
    private var tables: [FeatureTable?]
    private(set) var validation: FeatureTable?

    /// What `prepare` reports per batch: which table, images done, images in it, seconds since it started.
    typealias Progress = (_ what: String, _ done: Int, _ total: Int, _ seconds: Double) -> Void

    /// - Parameters:
    ///   - model: the whole classifier; its backbone weights are copied now.
    ///   - train: the training loader (its dataset, transform, seed and workers are used, unshuffled).
    ///   - validation: the validation loader.
    ///   - standardizes: standardize the features (see `FeatureStandardization`).
    init(model: Model, views: Int, train: DataLoader, validation: DataLoader, standardizes: Bool = true) throws {
        precondition(views >= 1, "a feature cache needs at least one view")
        self.views = views
        self.standardizes = standardizes
        extractor = try FeatureExtractor(classifier: model, batchSize: train.options.batchSize)
        var options = train.options
        options.shuffle = false
        options.dropLast = false
        trainImages = DataLoader(dataset: train.dataset, transform: train.transform, options: options)
        validationImages = validation
        tables = Array(repeating: nil, count: views)
    }

    /// The view epoch `epoch` (1-based, counted across stages) trains on.
    func view(epoch: Int) -> Int { (epoch - 1) % views }

    /// Computes the validation features and the view of `epoch` unless they are already here.
    /// - Returns: false when `shouldStop` stopped the computation.
    func prepare(epoch: Int, progress: Progress, shouldStop: () -> Bool) -> Bool {
        if validation == nil {
            let total = validationImages.dataset.count, start = Date()
            validation = extractor.table(of: validationImages, epoch: 0,
                                         progress: { progress("validation images", $0, total, Date().timeIntervalSince(start)) },
                                         shouldStop: shouldStop)
            if validation == nil { return false }
        }
        if standardizes, standardization == nil {
            guard prepareView(0, progress: progress, shouldStop: shouldStop) else { return false }
            let s = FeatureStandardization(of: tables[0]!)
            s.apply(to: tables[0]!)
            s.apply(to: validation!)
            standardization = s
        }
        return prepareView(view(epoch: epoch), progress: progress, shouldStop: shouldStop)
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

    /// The batches of `epoch`: the training loader's plan for that epoch (same order, same
    /// batches, unreadable images left out) over view `view(epoch:)`. Call `prepare` first.
    func trainingBatches(epoch: Int, plan: [[Int]]) -> [Batch] {
        guard let table = tables[view(epoch: epoch)] else { preconditionFailure("view of epoch \(epoch) not prepared") }
        return plan.map(table.batch).filter { $0.count > 0 }
    }

    /// Training images that could not be read (the same files in every view).
    var trainingSkipped: Int { tables.compactMap { $0?.skipped }.first ?? 0 }
}
