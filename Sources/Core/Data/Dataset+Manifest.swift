// Dataset+Manifest: a dataset listed in a text file, one `path label` per line.
//
// Format: the label is the last field, separated by a comma when the line has one (so paths may
// contain spaces), otherwise by white space. Paths are relative to the manifest's folder unless
// absolute. Blank lines and lines starting with '#' are skipped, as is a first line
// `path,label` / `path label` (a CSV header). Classes are the sorted distinct labels.
//
// A manifest may come from anywhere, so it is read as hostile text: the file must be a regular
// file of at most `Limits.manifestBytes`, each line at most `Limits.manifestLineBytes` of UTF-8
// without NUL bytes (a NUL would cut the path short where the system reads it), and labels
// without control characters (they become class names printed on a terminal). Every listed
// path (absolute and `..` are fine) must name a regular file; the same file listed twice is
// taken once, with a warning, or refused when the two lines give it different labels.

import Foundation

extension ImageDataset {
    /// One `path label` line of a manifest, the path as written (not resolved).
    struct ManifestEntry: Equatable {
        /// 1-based line number.
        var line: Int
        var path: String
        var label: String
    }

    /// The samples listed in the manifest at `path`.
    /// - Parameters:
    ///   - classes: the class list to label with (a validation manifest uses training's); `nil`
    ///     takes the manifest's own sorted labels. A label not in `classes` is an error.
    ///   - warn: receives one line per duplicate entry skipped; stderr by default.
    public static func manifest(_ path: String, classes: [String]? = nil,
                                warn: @escaping (String) -> Void = DataLoader.printWarning) throws -> ImageDataset {
        let entries = try parseManifest(RegularFile.read(path, limit: Limits.manifestBytes), source: path)
        let folder = (path as NSString).deletingLastPathComponent
        var files: [(path: String, label: String)] = []
        var seen: [FileIdentity: ManifestEntry] = [:]
        for entry in entries {
            let resolved = entry.path.hasPrefix("/") || folder.isEmpty ? entry.path : join(folder, entry.path)
            let status: stat
            do { status = try RegularFile.status(resolved) } catch let DataError.unreadable(_, reason) {
                throw DataError.unreadable(path: resolved, reason: "listed on line \(entry.line) of \(path): \(reason)")
            }
            guard RegularFile.isRegular(status) else {
                throw DataError.unreadable(path: resolved, reason: "listed on line \(entry.line) of \(path), "
                                           + "but it is \(RegularFile.kind(status)), not a regular file")
            }
            if let first = seen[FileIdentity(status)] {
                guard first.label == entry.label else {
                    throw DataError.badManifestEntry(
                        path: path, line: entry.line,
                        reason: "lists \(resolved) with label '\(entry.label)', but line \(first.line) gave it label '\(first.label)'")
                }
                warn("\(path):\(entry.line): skipped, \(resolved) is listed already on line \(first.line)".terminalSafe)
                continue
            }
            seen[FileIdentity(status)] = entry
            files.append((resolved, entry.label))
        }
        let names = classes ?? Set(files.map(\.label)).sorted(by: codePointOrder)
        guard !names.isEmpty else { throw DataError.noClasses(path: path) }
        try checkClassNames(names, source: path)
        let index = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, Int32($0)) })
        let samples = try files.map { file -> Sample in
            guard let label = index[file.label] else {
                throw DataError.unknownLabel(label: file.label, source: path, known: names)
            }
            return Sample(path: file.path, label: label)
        }
        return ImageDataset(classes: names, samples: samples, root: folder)
    }

    /// The entries of a manifest's bytes, each line checked, no path resolved: the whole parser,
    /// free of the file system. Throws `.badManifestLine` / `.badManifestEntry` naming `source`
    /// and the line.
    static func parseManifest(_ bytes: [UInt8], source: String) throws -> [ManifestEntry] {
        var entries: [ManifestEntry] = []
        var start = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0     // a UTF-8 byte-order mark
        var number = 0
        while start <= bytes.count {
            let end = bytes[start...].firstIndex(of: 0x0A) ?? bytes.count
            number += 1
            defer { start = end + 1 }
            guard end - start <= Limits.manifestLineBytes else {
                throw DataError.badManifestEntry(path: source, line: number,
                                                 reason: "the line is over the limit of \(Limits.manifestLineBytes) bytes")
            }
            let raw = bytes[start..<end]
            guard !raw.contains(0) else {
                throw DataError.badManifestEntry(path: source, line: number, reason: "the line holds a NUL byte")
            }
            guard let text = String(validating: raw, as: UTF8.self) else {
                throw DataError.badManifestEntry(path: source, line: number, reason: "the line is not UTF-8 text")
            }
            let line = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let (file, label) = parseLine(line) else {
                throw DataError.badManifestLine(path: source, line: number, text: line)
            }
            if entries.isEmpty && file.lowercased() == "path" && label.lowercased() == "label" { continue }
            if label.hasControlCharacters {
                throw DataError.badManifestEntry(path: source, line: number,
                                                 reason: "the label '\(label)' contains control characters")
            }
            entries.append(ManifestEntry(line: number, path: file, label: label))
        }
        return entries
    }

    /// Splits a manifest line into (path, label): at the last comma if there is one, otherwise at
    /// the last run of white space. Nil when either part is empty.
    static func parseLine(_ line: String) -> (String, String)? {
        let cut: Range<String.Index>?
        if let comma = line.lastIndex(of: ",") {
            cut = comma..<line.index(after: comma)
        } else if let space = line.lastIndex(where: { $0 == " " || $0 == "\t" }) {
            var start = space
            while start > line.startIndex, line[line.index(before: start)] == " " || line[line.index(before: start)] == "\t" {
                start = line.index(before: start)
            }
            cut = start..<line.index(after: space)
        } else {
            cut = nil
        }
        guard let cut else { return nil }
        let file = line[..<cut.lowerBound].trimmingCharacters(in: .whitespaces)
        let label = line[cut.upperBound...].trimmingCharacters(in: .whitespaces)
        return file.isEmpty || label.isEmpty ? nil : (file, label)
    }
}
