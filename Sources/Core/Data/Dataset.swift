// Dataset: labelled image files from an ImageFolder tree, a train/val pair of trees, or one
// tree split by a seeded, stratified, stable validation fraction. Manifests are in
// Dataset+Manifest.swift.
//
// Layout conventions are torchvision's ImageFolder: one sub-folder per class, classes sorted by
// name, label = index in that order, images found recursively (FolderWalk: links followed, loops
// and second paths to a file skipped, only regular files taken). Only .jpg, .jpeg and .png files
// (any case) are taken; names starting with "." (files or folders) are ignored.

import Foundation

/// A list of labelled image files and the class names the labels index.
public struct ImageDataset: Sendable, Equatable {
    /// One image file and its class index.
    public struct Sample: Sendable, Equatable {
        public var path: String
        public var label: Int32
        public init(path: String, label: Int32) {
            self.path = path
            self.label = label
        }
    }

    /// Class names; label i is `classes[i]`.
    public var classes: [String]
    public var samples: [Sample]
    /// The folder paths are relative to, used to make the validation split independent of where
    /// the dataset lives.
    public var root: String

    public init(classes: [String], samples: [Sample], root: String = "") {
        self.classes = classes
        self.samples = samples
        self.root = root
    }

    public var count: Int { samples.count }

    /// Number of samples of each class, indexed by label.
    public var classCounts: [Int] {
        var counts = [Int](repeating: 0, count: classes.count)
        for sample in samples { counts[Int(sample.label)] += 1 }
        return counts
    }

    /// File extensions taken as images (lowercased).
    public static let imageExtensions: Set<String> = ["jpg", "jpeg", "png"]

    /// The ImageFolder tree `root/<class>/...`.
    /// - Parameters:
    ///   - classes: the class list to label with (a validation tree uses training's); `nil` takes
    ///     the tree's own sorted folder names. A folder not in `classes` is an error.
    ///   - warn: receives one line per entry skipped (not a regular file, a symlink loop, a
    ///     second path to a file already listed); stderr by default.
    public static func folder(_ root: String, classes: [String]? = nil,
                              warn: @escaping (String) -> Void = DataLoader.printWarning) throws -> ImageDataset {
        guard let status = try? RegularFile.status(root) else { throw DataError.missingFolder(path: root) }
        guard RegularFile.isFolder(status) else {
            throw DataError.unreadable(path: root, reason: "it is \(RegularFile.kind(status)), not a folder")
        }
        var walk = FolderWalk(warn: warn)
        let folders = try walk.subfolders(of: root)
        guard !folders.isEmpty else { throw DataError.noClasses(path: root) }
        let folderNames = folders.map { ($0 as NSString).lastPathComponent }
        let names = classes ?? folderNames
        try checkClassNames(names, source: root)
        var samples: [Sample] = []
        for (folder, name) in zip(folders, folderNames) {
            guard let label = names.firstIndex(of: name) else {
                throw DataError.unknownLabel(label: name, source: folder, known: names)
            }
            let files = try walk.imageFiles(under: folder)
            guard !files.isEmpty else { throw DataError.emptyClass(path: folder) }
            samples += files.map { Sample(path: $0, label: Int32(label)) }
        }
        return ImageDataset(classes: names, samples: samples, root: root)
    }

    /// The image files below `folder`, recursively, sorted, each regular file once (see
    /// `FolderWalk`); what is skipped is reported to `warn`.
    public static func imageFiles(under folder: String,
                                  warn: @escaping (String) -> Void = DataLoader.printWarning) throws -> [String] {
        var walk = FolderWalk(warn: warn)
        return try walk.imageFiles(under: folder)
    }

    /// Refuses class names a person could not tell apart or that would reach a terminal as
    /// control sequences, and more classes than `Limits.classes`.
    static func checkClassNames(_ names: [String], source: String) throws {
        guard names.count <= Limits.classes else {
            throw DataError.badClassName(source: source, name: names[Limits.classes],
                                         reason: "there are \(names.count) classes, over the limit of \(Limits.classes)")
        }
        var seen: Set<String> = []
        for name in names {
            if name.hasControlCharacters {
                throw DataError.badClassName(source: source, name: name, reason: "it contains control characters; rename it")
            }
            if !seen.insert(name).inserted {
                throw DataError.badClassName(source: source, name: name, reason: "it is listed twice")
            }
        }
    }

    /// The pair of trees `root/train/<class>/...` and `root/val/<class>/...`; validation uses
    /// training's classes, and a validation class that training lacks is an error.
    public static func trainValidation(_ root: String, warn: @escaping (String) -> Void = DataLoader.printWarning)
        throws -> (train: ImageDataset, validation: ImageDataset) {
        let train = try folder(join(root, "train"), warn: warn)
        let validation = try folder(join(root, "val"), classes: train.classes, warn: warn)
        return (train, validation)
    }

    /// A stratified split: in each class, `fraction` of the files (rounded, at least one, and
    /// never all) go to validation. Which ones is decided by a hash of (seed, path relative to
    /// `root`), so the split is the same on every run and machine, and adding files to one class
    /// never moves a file of another class.
    public func split(validationFraction fraction: Double, seed: UInt64) throws -> (train: ImageDataset, validation: ImageDataset) {
        guard fraction > 0 && fraction < 1 else {
            throw DataError.invalidOption("--val-split must lie strictly between 0 and 1, got \(fraction)")
        }
        var byClass = [[Int]](repeating: [], count: classes.count)
        for (index, sample) in samples.enumerated() { byClass[Int(sample.label)].append(index) }
        var inValidation = [Bool](repeating: false, count: samples.count)
        for indices in byClass where indices.count >= 2 {
            let take = min(indices.count - 1, max(1, Int((fraction * Double(indices.count)).rounded())))
            let ranked = indices.map { (key: stableHash(relativePath(samples[$0].path), seed: seed), index: $0) }
                .sorted { $0.key != $1.key ? $0.key < $1.key : samples[$0.index].path < samples[$1.index].path }
            for entry in ranked.prefix(take) { inValidation[entry.index] = true }
        }
        let train = samples.indices.filter { !inValidation[$0] }.map { samples[$0] }
        let validation = samples.indices.filter { inValidation[$0] }.map { samples[$0] }
        return (ImageDataset(classes: classes, samples: train, root: root),
                ImageDataset(classes: classes, samples: validation, root: root))
    }

    /// `path` relative to `root` when it lies inside it.
    func relativePath(_ path: String) -> String {
        let prefix = root.hasSuffix("/") ? root : root + "/"
        return !root.isEmpty && path.hasPrefix(prefix) ? String(path.dropFirst(prefix.count)) : path
    }

    static func join(_ folder: String, _ name: String) -> String {
        folder.hasSuffix("/") ? folder + name : folder + "/" + name
    }

    /// Python's string order (by Unicode code point), which torchvision sorts classes with.
    static func codePointOrder(_ a: String, _ b: String) -> Bool {
        a.unicodeScalars.lexicographicallyPrecedes(b.unicodeScalars)
    }
}
