import Foundation

/// `--cache-features N`: in a stage whose whole backbone is frozen, the backbone's pooled
/// features are computed once per image and view (`FeatureCache`) and only the head runs in the
/// training steps and validations. The head trains in its own small model (`Graph.headOnly()`),
/// whose weights go back into the classifier before every checkpoint, so the files written are
/// the same as without the cache.
extension Trainer {
    /// The head-only model and its executors for a cached stage.
    final class CachedHead {
        let cache: FeatureCache
        /// The classifier's head, its input being the features; tensors named as in the classifier.
        let model: Model
        /// Training steps on feature batches.
        let executor: Executor
        /// Validation on feature batches.
        let evaluator: Executor

        init(classifier: Model, cache: FeatureCache, batchSize: Int) throws {
            self.cache = cache
            model = Model(graph: try classifier.graph.headOnly())
            model.copyValues(from: classifier)
            executor = Executor(model: model, batchSize: batchSize, training: true)
            evaluator = Executor(model: model, batchSize: batchSize, training: false)
        }

        /// Copies the head's weights into the classifier (before it is saved or evaluated whole).
        func store(into classifier: Model) { classifier.copyValues(from: model) }

        /// Copies the classifier's head weights into the head (after loading a checkpoint).
        func load(from classifier: Model) { model.copyValues(from: classifier) }

        /// Loss, accuracy and confusion of the head on the cached validation features; nil
        /// before they are computed (`prepareFeatures`).
        func evaluate(classes: [String]) -> Evaluation? {
            guard let validation = cache.validation else { return nil }
            var eval = Evaluation.run(evaluator, batches: validation.batches(of: evaluator.batchSize), classes: classes)
            eval.skipped = validation.skipped
            return eval
        }
    }

    /// Whether `stage` leaves every backbone layer group frozen (the head is the last group).
    func freezesWholeBackbone(_ stage: Stage) -> Bool {
        Set(0..<(graph.groups.count - 1)).isSubset(of: stage.frozenGroups)
    }

    /// The cached head for `stage`, or nil to train the whole graph: without --cache-features,
    /// or when backbone layers train in the stage (said once, here).
    func cachedHead(for stage: Stage) throws -> CachedHead? {
        guard let views = options.cacheFeatures else { return nil }
        guard freezesWholeBackbone(stage) else {
            onEvent(.info("--cache-features is ignored in stage \(stage.name): backbone layers train in it, "
                          + "so every step runs the whole network"))
            return nil
        }
        let cache = try FeatureCache(model: model, views: views, train: train, validation: validation)
        onEvent(.info("stage \(stage.name) trains the head on cached backbone features (\(cache.extractor.width) per image): "
                      + "\(views) augmented view\(views == 1 ? "" : "s") of each training image, one of each validation image"))
        return try CachedHead(classifier: model, cache: cache, batchSize: options.batchSize)
    }

    /// Computes the features `epoch` needs unless they are cached, reporting progress.
    /// - Returns: false when the run was asked to stop meanwhile.
    func prepareFeatures(_ cached: CachedHead, epoch: Int) -> Bool {
        cached.cache.prepare(epoch: epoch, progress: { what, done, total, seconds in
            let rate = Double(done) / max(seconds, 1e-9)
            onEvent(.caching(what: what, done: done, total: total, imagesPerSecond: rate,
                             eta: Double(total - done) / max(rate, 1e-9)))
        }, shouldStop: shouldStop)
    }
}
