/// The backbone half of a classifier (input to pooled features), run in inference mode with BN
/// folded into the convolutions, on a copy of the classifier's backbone weights.
///
/// Used where the whole backbone is frozen: its features of an image depend only on the image,
/// so they are computed once (`FeatureTable`) and the head trains on them.
final class FeatureExtractor {
    /// The backbone-only model: `Graph.backboneOnly()` of the classifier's graph.
    let model: Model
    let executor: Executor
    /// Features per image (`in_features`).
    let width: Int

    /// - Parameters:
    ///   - classifier: the whole model; its backbone tensors are copied (later changes to it are not seen).
    ///   - batchSize: the largest batch `table` will run.
    init(classifier: Model, batchSize: Int) throws {
        let graph = try classifier.graph.backboneOnly()
        model = try Model(graph: graph)
        model.copyValues(from: classifier)
        executor = try Executor(model: model, batchSize: batchSize, training: false)
        width = graph.nodes[graph.output].outputShape.count
    }

    /// The features of every image `loader` yields in `epoch` (each image transformed as the
    /// loader does in that epoch), by dataset index.
    /// - Parameters:
    ///   - plan: the images to run, in batches; nil: every image, in the loader's order.
    ///   - progress: called after each batch with the number of images done.
    ///   - shouldStop: polled before each batch; true abandons the table.
    /// - Returns: nil when stopped.
    func table(of loader: DataLoader, epoch: Int, plan: [[Int]]? = nil, progress: (Int) -> Void,
               shouldStop: () -> Bool) -> FeatureTable? {
        let table = FeatureTable(labels: loader.dataset.samples.map(\.label), width: width)
        var done = 0
        let batches = loader.epoch(epoch, plan: plan)
        for batch in batches {
            if shouldStop() { return nil }
            let features = self.features(of: batch)
            for (row, index) in batch.indices.enumerated() {
                features.images.withUnsafeBufferPointer { table.set(index, from: $0.baseAddress! + row * width) }
            }
            done += batch.count
            progress(done)
        }
        table.skipped = batches.skipped
        return table
    }

    /// The batch with its images replaced by their features: (count, 1, 1, width), as the head
    /// graph takes them.
    func features(of batch: Batch) -> Batch {
        var rng = SplitMix64(seed: 0)  // inference draws nothing
        let features = batch.images.withUnsafeBufferPointer { executor.forward($0.baseAddress!, count: batch.count, rng: &rng) }
        return Batch(images: Array(UnsafeBufferPointer(start: features, count: batch.count * width)), labels: batch.labels,
                     indices: batch.indices, count: batch.count, height: 1, width: 1)
    }
}
