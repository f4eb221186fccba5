import Foundation

/// A stage whose whole backbone is frozen trains the head alone, in its own small model
/// (`Graph.headOnly()`), on the backbone's pooled features (`FeatureCache`): kept in memory
/// (`--cache-features N` views; by default as many as the stage has epochs, which is exactly the
/// augmentation the whole network would see) or, with `--cache-features 0`, computed from each
/// batch as it arrives. Either way the backbone runs as in inference (BN folded, passes that stay
/// in cache, no activations kept), and the head's weights go back into the classifier before every
/// checkpoint, so the files written are those of an ordinary classifier. With standardized features
/// (the default) the head model's first linear layer works on them, and is folded back to raw
/// features in the classifier.
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
        /// The head's layer on the features: its weight and bias names and its outputs.
        private let firstLayer: (weight: String, bias: String, outputs: Int)
        /// The cache's standardization once `model`'s first layer works on standardized features.
        private var standardization: FeatureStandardization?

        init(classifier: Model, cache: FeatureCache, batchSize: Int) throws {
            self.cache = cache
            model = try Model(graph: classifier.graph.headOnly())
            model.copyValues(from: classifier)
            executor = try Executor(model: model, batchSize: batchSize, training: true)
            evaluator = try Executor(model: model, batchSize: batchSize, training: false)
            guard let first = model.graph.nodes.first(where: { $0.inputs == [0] }), case .linear(let outputs, true) = first.operation
            else { throw GraphError.badInput(layer: "head", reason: "does not start with a linear layer with a bias") }
            firstLayer = (first.tensors[0].name, first.tensors[1].name, outputs)
        }

        /// Moves the head to standardized features once the cache has standardized them
        /// (after `FeatureCache.prepare`); does nothing after the first time or without it.
        func adoptStandardization() {
            guard standardization == nil, let s = cache.standardization else { return }
            standardization = s
            rewriteFirstLayer(of: model, with: s.unfold)
        }

        /// Copies the head's weights into the classifier (before it is saved or evaluated whole).
        func store(into classifier: Model) {
            classifier.copyValues(from: model)
            if let standardization { rewriteFirstLayer(of: classifier, with: standardization.fold) }
        }

        /// Copies the classifier's head weights into the head (after loading a checkpoint).
        func load(from classifier: Model) {
            model.copyValues(from: classifier)
            if let standardization { rewriteFirstLayer(of: model, with: standardization.unfold) }
        }

        /// Applies `map` (a fold or an unfold) to `m`'s copy of the head's first layer.
        private func rewriteFirstLayer(of m: Model, with map: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void) {
            map(m.slot(named: firstLayer.weight)!.value.pointer, m.slot(named: firstLayer.bias)!.value.pointer, firstLayer.outputs)
            m.markChanged()
        }

        /// Loss, accuracy and confusion of the head on the cached validation features (and the
        /// `mistakes` worst misclassified images); nil before they are computed (`prepareFeatures`).
        func evaluate(classes: [String], mistakes: Int = 0) -> Evaluation? {
            guard let validation = cache.validation else { return nil }
            var eval = Evaluation.run(evaluator, batches: validation.batches(of: evaluator.batchSize), classes: classes,
                                      mistakes: mistakes)
            eval.skipped = validation.skipped
            return eval
        }
    }

    /// Whether `stage` leaves every backbone layer group frozen (the head is the last group).
    func freezesWholeBackbone(_ stage: Stage) -> Bool {
        Set(0..<(graph.groups.count - 1)).isSubset(of: stage.frozenGroups)
    }

    /// The head-only model for `stage`, or nil to train the whole graph: where backbone layers
    /// train in the stage (with a notice when --cache-features was given).
    func cachedHead(for stage: Stage) throws -> CachedHead? {
        guard freezesWholeBackbone(stage) else {
            if let views = options.cacheFeatures, views > 0 {
                onEvent(.info("--cache-features is ignored in stage \(stage.name): backbone layers train in it, "
                              + "so every step runs the whole network"))
            }
            return nil
        }
        let views = try cachedViews(for: stage)
        let cache = try FeatureCache(model: model, views: views, train: train, validation: validation,
                                     standardizes: options.standardizeCachedFeatures)
        let standardized = options.standardizeCachedFeatures ? ", standardized" : ""
        if views > 0 {
            onEvent(.info("stage \(stage.name) trains the head on cached backbone features (\(cache.extractor.width) per image"
                          + standardized + "): "
                          + "\(views) augmented view\(views == 1 ? "" : "s") of each training image, one of each validation image"))
        } else {
            onEvent(.info("stage \(stage.name) trains the head on backbone features (\(cache.extractor.width) per image"
                          + standardized + ") computed batch by batch"))
        }
        return try CachedHead(classifier: model, cache: cache, batchSize: options.batchSize)
    }

    /// The views a frozen stage keeps: --cache-features, else as many as the stage has epochs
    /// when they fit in memory beside the model (else none, with a notice).
    private func cachedViews(for stage: Stage) throws -> Int {
        let width = graph.nodes[graph.features ?? graph.output].outputShape.count
        let views = options.cacheFeatures ?? stage.epochs
        guard views > 0 else { return 0 }
        let floats = FeatureCache.floats(views: views, training: train.dataset.count, validation: validation.dataset.count,
                                         width: width)
        do {
            try MemoryBudget.require(floats: floats, what: "caching \(views) view\(views == 1 ? "" : "s") of the backbone features",
                                     hint: "pass --cache-features with fewer views, or 0 to keep none")
        } catch let error as MemoryError where options.cacheFeatures == nil {
            onEvent(.info("stage \(stage.name) keeps no backbone features: \(views) view\(views == 1 ? "" : "s") would need "
                          + "\(error.needed.map(MemoryError.format) ?? "too much memory"), \(MemoryError.format(error.available)) is free"))
            return 0
        }
        return views
    }

    /// Computes the features `epoch` needs unless they are cached, reporting progress.
    /// - Returns: false when the run was asked to stop meanwhile.
    func prepareFeatures(_ cached: CachedHead, epoch: Int) -> Bool {
        let prepared = cached.cache.prepare(epoch: epoch, progress: { what, done, total, seconds in
            let rate = Double(done) / max(seconds, 1e-9)
            eta.measuredInference(images: done, seconds: seconds)
            onEvent(.caching(what: what, done: done, total: total, imagesPerSecond: rate,
                             eta: Double(total - done) / max(rate, 1e-9)))
        }, shouldStop: shouldStop)
        if prepared { cached.adoptStandardization() }
        return prepared
    }
}
