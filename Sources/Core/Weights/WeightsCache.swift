import Foundation

/// The folders where pretrained weight files are looked for, in order, and where downloads go.
///
/// First PyTorch's hub cache, where torch.hub and torchvision keep what they download, so a
/// file a user already has is never fetched again: `$TORCH_HOME/hub/checkpoints`, TORCH_HOME
/// defaulting as in torch to `$XDG_CACHE_HOME/torch`, then `~/.cache/torch`. Then finetune's
/// own, where its downloads go: `$XDG_CACHE_HOME/finetune/weights` (default
/// `~/.cache/finetune/weights`). XDG_CACHE_HOME counts only when absolute, as the XDG base
/// directory specification says.
public struct WeightsCache: Equatable, Sendable {
    /// PyTorch's hub cache of checkpoints.
    public var hubFolder: URL
    /// finetune's own cache, where downloads are placed.
    public var ownFolder: URL

    public init(hubFolder: URL, ownFolder: URL) {
        self.hubFolder = hubFolder
        self.ownFolder = ownFolder
    }

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        let home = environment["HOME"].flatMap { $0.hasPrefix("/") ? $0 : nil } ?? NSHomeDirectory()
        let cache = environment["XDG_CACHE_HOME"].flatMap { $0.hasPrefix("/") ? $0 : nil } ?? home + "/.cache"
        let torch = environment["TORCH_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? cache + "/torch"
        hubFolder = URL(fileURLWithPath: torch).appendingPathComponent("hub/checkpoints")
        ownFolder = URL(fileURLWithPath: cache).appendingPathComponent("finetune/weights")
    }

    /// The folders searched, in order.
    public var folders: [URL] { [hubFolder, ownFolder] }

    /// The first regular file named `set.file_name` in the folders, unchecked (its hash is
    /// `PretrainedWeights.cachedFile`'s to check).
    public func file(of set: WeightSet) -> URL? {
        folders.map { $0.appendingPathComponent(set.file_name) }.first { url in
            (try? RegularFile.status(url.path)).map(RegularFile.isRegular) ?? false
        }
    }
}
