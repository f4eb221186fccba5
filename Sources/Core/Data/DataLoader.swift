// DataLoader: worker threads that read, decode and transform batches ahead of the compute.
//
// Each epoch has a fixed plan: the sample order (shuffled from (seed, epoch) or dataset order)
// cut into batches. Worker threads take the next batch number from the plan and build the
// whole batch; the consumer receives batches strictly in plan order. At most `prefetch` batches
// are being built or waiting beyond the one the consumer holds, so memory is bounded by
// (prefetch + 1) batches whatever the dataset size. Every sample's augmentation draws from
// SeededRandom(seed, epoch, dataset index), so batches are identical whatever the number of
// workers or their timing.
//
// A file that cannot be read or decoded is left out of its batch (the batch is smaller), with
// one warning naming it the first time; the epoch's count of skipped files is reported when the
// epoch ends.

import Foundation

/// One batch of samples, ready for the network.
///
/// Layout: `images` is (count, height, width, 3) NHWC Float32, contiguous, normalised with the
/// transform's mean/std; `labels[i]` is the class index of image i. A batch of cached backbone
/// features (`FeatureTable`) holds (count, 1, 1, in_features) instead.
public struct Batch: Sendable {
    /// (count, height, width, 3) floats.
    public var images: [Float]
    /// `count` class indices.
    public var labels: [Int32]
    /// Dataset index of each sample (useful to cache per-sample features).
    public var indices: [Int]
    /// Images in this batch: the batch size, or fewer at the end of an epoch or after skips.
    public var count: Int
    public var height: Int
    public var width: Int
}

/// Produces shuffled, augmented batches of a dataset on background threads.
public final class DataLoader: @unchecked Sendable {
    /// How batches are formed and produced.
    public struct Options: Sendable {
        public var batchSize: Int
        /// Reshuffle the order each epoch (from the seed); false keeps dataset order (validation).
        public var shuffle: Bool
        /// How a shuffled epoch draws its samples.
        public var sampler: Sampler
        /// Leave out the last batch when it would be smaller than `batchSize`.
        public var dropLast: Bool
        public var seed: UInt64
        /// Decoding threads.
        public var workers: Int
        /// Batches built ahead of the consumer.
        public var prefetch: Int
        /// Images with more pixels are refused (skipped) before decoding.
        public var maxPixels: Int

        public init(batchSize: Int, shuffle: Bool = true, sampler: Sampler = .shuffle, dropLast: Bool = false, seed: UInt64 = 0,
                    workers: Int = 2, prefetch: Int = 2, maxPixels: Int = ImageDecoder.defaultMaxPixels) {
            self.batchSize = batchSize
            self.shuffle = shuffle
            self.sampler = sampler
            self.dropLast = dropLast
            self.seed = seed
            self.workers = workers
            self.prefetch = prefetch
            self.maxPixels = maxPixels
        }
    }

    public let dataset: ImageDataset
    public let transform: any SampleTransform
    public let options: Options
    private let warn: @Sendable (String) -> Void
    private let warned = WarnedSet()

    /// - Parameters:
    ///   - transform: decodes and transforms one file into (H, W, 3) floats.
    ///   - warn: receives the skip warnings and the end-of-epoch count; stderr by default.
    public init(dataset: ImageDataset, transform: any SampleTransform, options: Options,
                warn: @escaping @Sendable (String) -> Void = DataLoader.printWarning) {
        precondition(options.batchSize > 0, "batch size must be positive")
        precondition(options.workers > 0, "the loader needs at least one worker")
        precondition(options.prefetch > 0, "prefetch must be at least one batch")
        self.dataset = dataset
        self.transform = transform
        self.options = options
        self.warn = warn
    }

    /// The default warning sink: "warning: ..." on stderr.
    public static let printWarning: @Sendable (String) -> Void = { message in
        FileHandle.standardError.write(Data(("warning: " + message + "\n").utf8))
    }

    /// Batches per epoch.
    public var batchCount: Int {
        options.dropLast ? dataset.count / options.batchSize
            : (dataset.count + options.batchSize - 1) / options.batchSize
    }

    /// The order samples are visited in `epoch` (dataset indices).
    public func order(epoch: Int) -> [Int] {
        guard options.shuffle else { return Array(0..<dataset.count) }
        return options.sampler.order(labels: dataset.samples.map(\.label), seed: options.seed, epoch: epoch)
    }

    /// The dataset indices of each batch of `epoch`, before unreadable files are left out.
    public func plan(epoch: Int) -> [[Int]] {
        let order = order(epoch: epoch)
        let size = options.batchSize
        return (0..<batchCount).map { b in Array(order[(b * size)..<min((b + 1) * size, order.count)]) }
    }

    /// Starts producing the batches of `epoch`; iterate the result. Dropping it stops the workers.
    /// - Parameter plan: the dataset indices of each batch; nil: `plan(epoch:)`. Each sample is
    ///   transformed as in `epoch` whatever batch it is in.
    public func epoch(_ epoch: Int, plan: [[Int]]? = nil) -> Epoch {
        let plan = plan ?? self.plan(epoch: epoch)
        let state = EpochState(plan: plan, prefetch: options.prefetch)
        for _ in 0..<min(options.workers, max(plan.count, 1)) {
            let thread = Thread { [self] in self.work(state, epoch: epoch) }
            thread.name = "finetune.data"
            thread.start()
        }
        return Epoch(state: state, epoch: epoch, workers: min(options.workers, max(plan.count, 1)), warn: warn)
    }

    /// A worker: builds batches until the plan is done or the epoch is dropped.
    private func work(_ state: EpochState, epoch: Int) {
        let decoder = ImageDecoder(maxPixels: options.maxPixels)
        while let number = state.claim() {
            let start = threadCPUSeconds()
            let batch = build(state.plan[number], epoch: epoch, decoder: decoder, state: state)
            state.deliver(batch, number: number, seconds: threadCPUSeconds() - start)
        }
    }

    private func build(_ indices: [Int], epoch: Int, decoder: ImageDecoder, state: EpochState) -> Batch {
        let h = transform.height, w = transform.width, size = h * w * 3
        var labels: [Int32] = [], kept: [Int] = []
        // Every kept sample writes all of its floats, so the buffer needs no zero-filling.
        let images = [Float](unsafeUninitializedCapacity: indices.count * size) { out, initialized in
            for index in indices {
                let sample = dataset.samples[index]
                var random = SeededRandom(seed: options.seed, epoch: epoch, sample: index)
                do {
                    let bytes = try ImageDecoder.read(sample.path)
                    try transform.process(bytes, path: sample.path, decoder: decoder, random: &random,
                                          into: out.baseAddress! + kept.count * size)
                    labels.append(sample.label)
                    kept.append(index)
                } catch {
                    state.skip()
                    if warned.insert(sample.path) { warn("skipped \(error)") }
                }
            }
            initialized = kept.count * size
        }
        return Batch(images: images, labels: labels, indices: kept, count: kept.count, height: h, width: w)
    }

    /// The batches of one epoch, in plan order. Iterating to the end reports the skipped count.
    public final class Epoch: Sequence, IteratorProtocol {
        private let state: EpochState
        private let epoch: Int
        private let workers: Int
        private let warn: @Sendable (String) -> Void
        private var reported = false

        fileprivate init(state: EpochState, epoch: Int, workers: Int, warn: @escaping @Sendable (String) -> Void) {
            self.state = state
            self.epoch = epoch
            self.workers = workers
            self.warn = warn
        }

        deinit { state.cancel() }

        /// Files left out so far in this epoch.
        public var skipped: Int { state.skippedCount }

        /// What the workers could supply on cores of their own: images per second of their CPU
        /// time, times their number; nil before a batch is built.
        public var imagesPerSecond: Double? { state.imagesPerCPUSecond.map { $0 * Double(workers) } }

        /// The next batch, waiting for a worker if needed; nil after the last. A batch whose
        /// files were all unreadable is passed over, so every batch returned has `count > 0`.
        public func next() -> Batch? {
            while let batch = state.take() {
                if batch.count > 0 { return batch }
            }
            if !reported {
                reported = true
                if skipped > 0 { warn("epoch \(epoch): skipped \(skipped) unreadable image(s)") }
            }
            return nil
        }
    }
}

/// The shared state of one epoch: plan, progress, finished batches. Guarded by `condition`.
private final class EpochState: @unchecked Sendable {
    let plan: [[Int]]
    private let prefetch: Int
    private let condition = NSCondition()
    private var nextToBuild = 0
    private var nextToDeliver = 0
    private var ready: [Int: Batch] = [:]
    private var cancelled = false
    private var skipped = 0
    private var builtImages = 0
    private var buildSeconds = 0.0

    init(plan: [[Int]], prefetch: Int) {
        self.plan = plan
        self.prefetch = prefetch
    }

    /// The next batch number to build, waiting while `prefetch` batches are already ahead; nil
    /// when the plan is done or the epoch was dropped.
    func claim() -> Int? {
        condition.lock()
        defer { condition.unlock() }
        while !cancelled && nextToBuild < plan.count && nextToBuild >= nextToDeliver + prefetch {
            condition.wait()
        }
        guard !cancelled && nextToBuild < plan.count else { return nil }
        nextToBuild += 1
        return nextToBuild - 1
    }

    /// Hands over batch `number`, built in `seconds` of a worker's CPU time.
    func deliver(_ batch: Batch, number: Int, seconds: Double) {
        condition.lock()
        ready[number] = batch
        builtImages += plan[number].count
        buildSeconds += seconds
        condition.broadcast()
        condition.unlock()
    }

    /// The next batch in plan order, waiting for it; nil when all were taken.
    func take() -> Batch? {
        condition.lock()
        defer { condition.unlock() }
        guard nextToDeliver < plan.count else { return nil }
        while ready[nextToDeliver] == nil { condition.wait() }
        let batch = ready.removeValue(forKey: nextToDeliver)
        nextToDeliver += 1
        condition.broadcast()
        return batch
    }

    func skip() {
        condition.lock()
        skipped += 1
        condition.unlock()
    }

    /// Images built (read or skipped) per second of the workers' CPU time; nil before any.
    var imagesPerCPUSecond: Double? {
        condition.lock()
        defer { condition.unlock() }
        return builtImages > 0 && buildSeconds > 0 ? Double(builtImages) / buildSeconds : nil
    }

    var skippedCount: Int {
        condition.lock()
        defer { condition.unlock() }
        return skipped
    }

    func cancel() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        condition.unlock()
    }
}

/// Paths already warned about, so each bad file is named once per loader.
private final class WarnedSet: @unchecked Sendable {
    private let lock = NSLock()
    private var paths: Set<String> = []

    /// True the first time `path` is inserted.
    func insert(_ path: String) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        return paths.insert(path).inserted
    }
}

/// CPU time of the calling thread, in seconds.
private func threadCPUSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}
