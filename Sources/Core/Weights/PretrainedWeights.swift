import Foundation

/// The local file of a backbone's published weight set: found in the caches (`WeightsCache`:
/// PyTorch's hub cache, then finetune's own) or downloaded from the declared URL (through
/// `FINETUNE_WEIGHTS_MIRROR` when set) into finetune's cache. Every file used is checked
/// against the set's SHA-256 first (`WeightSet.digestPrefixes`).
public struct PretrainedWeights: Sendable {
    public var cache: WeightsCache
    /// `FINETUNE_WEIGHTS_MIRROR` as given; checked when a URL is needed.
    public var mirror: String?
    /// The most bytes a download may bring.
    public var downloadLimit = Limits.weightsDownloadBytes

    public init(cache: WeightsCache, mirror: String? = nil) {
        self.cache = cache
        self.mirror = mirror
    }

    /// The caches and the mirror of `environment`.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.init(cache: WeightsCache(environment: environment), mirror: environment[WeightsMirror.variable])
    }

    /// Where `set` is fetched from: its declared URL, on the mirror when there is one.
    public func url(of set: WeightSet) throws -> URL {
        guard let declared = URL(string: set.url) else { throw WeightsError.badURL(set.url) }
        guard let mirror, !mirror.isEmpty else { return declared }
        return try WeightsMirror(mirror).apply(to: declared)
    }

    /// The cached file of `set`, checked against its hash; nil when no folder has it.
    /// - Throws: `WeightsError.hashMismatch` for a cached file that is not the published one.
    public func cachedFile(of set: WeightSet) throws -> URL? {
        guard let url = cache.file(of: set) else { return nil }
        try set.check(digest: try SHA256.hex(ofFileAt: url), file: url.path, kept: true)
        return url
    }

    /// The local file of `set`: the cached one, else downloaded into `cache.ownFolder`.
    /// - Parameter shouldStop: polled during a download; true stops it (`WeightsError.interrupted`),
    ///   keeping what arrived for the next call.
    public func file(of set: WeightSet, progress: @escaping (DownloadProgress) -> Void = { _ in },
                     shouldStop: @escaping () -> Bool = { false }) throws -> URL {
        if let cached = try cachedFile(of: set) { return cached }
        let destination = cache.ownFolder.appendingPathComponent(set.file_name)
        try WeightsDownload.fetch(try url(of: set), to: destination, limit: downloadLimit,
                                  verify: { digest, file in try set.check(digest: digest, file: file, kept: false) },
                                  progress: progress, shouldStop: shouldStop)
        return destination
    }

    /// The file `--weights VALUE` stands for with `backbone`: the path given, or the local file
    /// of the weight set it names (fetched if need be), with that set.
    public func resolve(_ value: String, backbone: Backbone,
                        progress: @escaping (DownloadProgress) -> Void = { _ in }) throws -> (file: URL, set: WeightSet?) {
        guard let set = try WeightsArgument(value).weightSet(of: backbone) else { return (URL(fileURLWithPath: value), nil) }
        return (try file(of: set, progress: progress), set)
    }
}
