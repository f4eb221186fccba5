// Dataset+Manifest: a dataset listed in a text file, one `path label` per line.
//
// Format: the label is the last field, separated by a comma when the line has one (so paths may
// contain spaces), otherwise by white space. Paths are relative to the manifest's folder unless
// absolute. Blank lines and lines starting with '#' are skipped, as is a first line
// `path,label` / `path label` (a CSV header). Classes are the sorted distinct labels.

import Foundation

extension ImageDataset {
    /// The samples listed in the manifest at `path`.
    /// - Parameter classes: the class list to label with (a validation manifest uses training's);
    ///   `nil` takes the manifest's own sorted labels. A label not in `classes` is an error.
    public static func manifest(_ path: String, classes: [String]? = nil) throws -> ImageDataset {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DataError.unreadable(path: path, reason: "manifest not found or not readable")
        }
        let text = String(decoding: data, as: UTF8.self)
        let folder = (path as NSString).deletingLastPathComponent
        var entries: [(path: String, label: String)] = []
        for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let (file, label) = parseLine(line) else {
                throw DataError.badManifestLine(path: path, line: number + 1, text: line)
            }
            if entries.isEmpty && file.lowercased() == "path" && label.lowercased() == "label" { continue }
            let resolved = file.hasPrefix("/") || folder.isEmpty ? file : join(folder, file)
            guard FileManager.default.fileExists(atPath: resolved) else {
                throw DataError.unreadable(path: resolved, reason: "listed on line \(number + 1) of \(path) but missing")
            }
            entries.append((resolved, label))
        }
        let names = classes ?? Set(entries.map(\.label)).sorted(by: codePointOrder)
        guard !names.isEmpty else { throw DataError.noClasses(path: path) }
        let index = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, Int32($0)) })
        let samples = try entries.map { entry -> Sample in
            guard let label = index[entry.label] else {
                throw DataError.unknownLabel(label: entry.label, source: path, known: names)
            }
            return Sample(path: entry.path, label: label)
        }
        return ImageDataset(classes: names, samples: samples, root: folder)
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
