import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A training run's output folder: the names of the files a run writes there (derived here,
/// never read from the folder), the check that `--output` does not replace another run
/// silently, and the commit that replaces the files `--resume` reads, together.
///
/// **The commit.** What a resumed run continues from is `last.safetensors` (the weights),
/// `optimizer.safetensors` (the optimiser's moments), `training-state.json` (options, counters,
/// best so far, and how many bytes of `metrics.jsonl` belong to the run) and, after an epoch
/// that improved, `best.safetensors`. They change together, once per epoch (and once on
/// Ctrl-C):
/// 1. the new files are written into the folder `.commit-staging` (each one atomically and
///    flushed to disk);
/// 2. the commit point: `.commit-staging` is renamed to `.commit`, one atomic rename;
/// 3. each file in `.commit` is renamed over its namesake, the state last, and `.commit` is
///    removed.
/// A crash before step 2 leaves the previous commit whole (the staging folder is discarded);
/// a crash after it leaves `.commit`, which `recover()` finishes by doing step 3 again. Every
/// reader of a run folder recovers first, so it never sees one file new and another old.
/// `metrics.jsonl` is appended as the run goes and cut back on resume to the length the state
/// records, so it never lists an epoch twice.
public struct RunFolder: Sendable {
    /// The files a run writes, by their fixed names.
    public enum File: String, CaseIterable, Sendable {
        case best = "best.safetensors"
        case last = "last.safetensors"
        case optimizer = "optimizer.safetensors"
        /// The weight average (`--ema`) of the stage that keeps one, as of the last commit.
        case ema = "ema.safetensors"
        case state = "training-state.json"
        case metrics = "metrics.jsonl"
        case report = "report.html"
    }

    /// The files of a commit, in the order they are moved into place: the state last.
    static let committed: [File] = [.best, .last, .optimizer, .ema, .state]
    static let stagingName = ".commit-staging"
    static let pendingName = ".commit"

    public let url: URL

    public init(_ url: URL) { self.url = url }

    public var path: String { url.path }

    public func url(_ file: File) -> URL { url.appendingPathComponent(file.rawValue) }

    var staging: URL { url.appendingPathComponent(Self.stagingName) }
    var pending: URL { url.appendingPathComponent(Self.pendingName) }

    /// The copy of the best model named with its accuracy, as the recipes name it:
    /// `resnet18.photos.0.9375.safetensors`. Characters of the backbone and dataset names outside
    /// letters, digits, `-` and `_` become `_`, so the name stays inside the folder.
    public static func bestCopyName(backbone: String, data: String, accuracy: Double) -> String {
        func clean(_ s: String) -> String {
            String(s.map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") ? $0 : "_" })
        }
        let dataset = URL(fileURLWithPath: data).standardizedFileURL.lastPathComponent
        return "\(clean(backbone)).\(clean(dataset)).\(String(format: "%.4f", accuracy)).safetensors"
    }

    // MARK: another run in the folder

    /// What marks the folder as holding a run (its state, a commit, a metrics log or a
    /// `.safetensors` file), or nil when it holds none or does not exist.
    public func runMarker() -> String? {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: path) else { return nil }
        let markers: Set<String> = [File.state.rawValue, File.metrics.rawValue, Self.stagingName, Self.pendingName]
        return names.sorted().first { markers.contains($0) || $0.hasSuffix(".safetensors") }
    }

    /// Removes what a previous run wrote here (`--overwrite`): the files of `File`, an unfinished
    /// commit, and its accuracy-named copy of the best model when its state names one. Nothing else.
    public func removePreviousRun() {
        let fm = FileManager.default
        if let previous = try? TrainingState(contentsOf: url(.state)), let accuracy = previous.bestAccuracy {
            try? fm.removeItem(at: url.appendingPathComponent(
                Self.bestCopyName(backbone: previous.options.backbone, data: previous.options.data, accuracy: accuracy)))
        }
        // The commit and the state first: once they are gone, nothing here can be resumed, so
        // an interruption in between leaves no half-removed run that looks whole.
        try? fm.removeItem(at: pending)
        try? fm.removeItem(at: staging)
        for file in [File.state] + File.allCases.filter({ $0 != .state }) { try? fm.removeItem(at: url(file)) }
    }

    /// The bytes of `url`, a regular file of at most `limit` bytes (a FIFO, a folder or a device
    /// in its place is refused without being opened for long: the open does not block).
    static func readFile(_ url: URL, limit: Int) throws -> Data {
        do { return Data(try RegularFile.bytes(url.path, limit: limit)) } catch {
            throw TrainingError.resume("\(url.path): " + (error.missing
                ? "is missing: the folder holds no run to resume (train with --output first)" : error.reason))
        }
    }

    /// The URL of `file` once it is a regular file: a FIFO or a device in its place would block
    /// the reader, or feed it without end.
    func regularFile(_ file: File) throws -> URL {
        do { close(try RegularFile.open(url(file).path).fd) } catch {
            throw TrainingError.resume("\(url(file).path): " + (error.missing
                ? "is missing; a run folder holds it after its first epoch" : error.reason))
        }
        return url(file)
    }

    // MARK: the commit

    /// Writes one commit: `stage` writes each new file at the URL it is given for it; then the
    /// files replace the committed ones together (see the type's documentation).
    func commit(_ stage: (_ stagedURL: (File) -> URL) throws -> Void) throws {
        let fm = FileManager.default
        try? fm.removeItem(at: staging)
        do {
            try fm.createDirectory(at: staging, withIntermediateDirectories: false)
        } catch {
            throw TrainingError.output("\(staging.path): cannot create (\(error.localizedDescription)); check that \(path) is writable")
        }
        try stage { staging.appendingPathComponent($0.rawValue) }
        AtomicFile.syncFolder(staging.path)
        guard rename(staging.path, pending.path) == 0 else {
            throw TrainingError.output("\(pending.path): cannot commit the run's files (\(errnoText())); "
                                       + "remove it if no finetune is running in \(path)")
        }
        AtomicFile.syncFolder(path)
        try finishPending()
    }

    /// Finishes a commit a crash interrupted after its commit point, and discards one that had
    /// not reached it. Run before anything in the folder is read.
    public func recover() throws {
        try finishPending()
        let fm = FileManager.default
        try? fm.removeItem(at: staging)
        // Temporary files of atomic writes a crash cut short (`.report.html.<pid>.<n>.tmp`).
        for name in (try? fm.contentsOfDirectory(atPath: path)) ?? []
        where name.hasSuffix(".tmp") && File.allCases.contains(where: { name.hasPrefix(".\($0.rawValue).") }) {
            try? fm.removeItem(at: url.appendingPathComponent(name))
        }
    }

    /// Step 3 of a commit: moves each committed file into place, the state last.
    private func finishPending() throws {
        var info = stat()
        guard lstat(pending.path, &info) == 0 else { return }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            throw TrainingError.resume("\(pending.path) is not a folder of committed files: remove it, then resume")
        }
        for file in Self.committed {
            let from = pending.appendingPathComponent(file.rawValue)
            guard lstat(from.path, &info) == 0 else { continue }
            guard rename(from.path, url(file).path) == 0 else {
                throw TrainingError.output("\(url(file).path): cannot move the committed file into place (\(errnoText()))")
            }
        }
        AtomicFile.syncFolder(path)
        try FileManager.default.removeItem(at: pending)
    }
}
