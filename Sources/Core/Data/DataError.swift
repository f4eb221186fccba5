// DataError: everything the data pipeline reports to a person, each naming the file or folder
// and, where there is one, the fix.

/// An error from decoding images or building a dataset. The description names the file.
public enum DataError: Error, Equatable, CustomStringConvertible {
    /// The file could not be read at all (missing, permissions, a folder).
    case unreadable(path: String, reason: String)
    /// The bytes are not a JPEG or PNG (an empty file, text, another format).
    case unsupportedFormat(path: String, detail: String)
    /// The decoder refused the data: truncated, corrupt, or an unsupported variant.
    case corrupt(path: String, format: String, reason: String)
    /// The image is larger than the pixel limit: refused before allocating (a decompression bomb).
    case tooLarge(path: String, width: Int, height: Int, limit: Int)
    /// A folder the dataset needs does not exist.
    case missingFolder(path: String)
    /// A class folder without any image.
    case emptyClass(path: String)
    /// A dataset with no class at all.
    case noClasses(path: String)
    /// Validation data has a label that training does not.
    case unknownLabel(label: String, source: String, known: [String])
    /// A manifest line that is not `path label`.
    case badManifestLine(path: String, line: Int, text: String)
    /// A manifest line that is `path label` but cannot be taken as it is (too long, not text,
    /// control characters, the same file listed again with another label).
    case badManifestEntry(path: String, line: Int, reason: String)
    /// A class name that cannot be used (control characters, listed twice, too many classes).
    case badClassName(source: String, name: String, reason: String)
    /// Pixels handed over in memory whose size and byte count disagree (`RGBPixels`).
    case badPixels(reason: String)
    /// An option outside its range.
    case invalidOption(String)

    /// The message, with control characters (from file names, manifest text) shown escaped so
    /// they never reach a terminal as control sequences.
    public var description: String {
        message.terminalSafe
    }

    private var message: String {
        switch self {
        case let .unreadable(path, reason):
            return "\(path): cannot read the file (\(reason))"
        case let .unsupportedFormat(path, detail):
            return "\(path): not a JPEG or PNG image (\(detail))"
        case let .corrupt(path, format, reason):
            return "\(path): cannot decode this \(format) (\(reason))"
        case let .tooLarge(path, width, height, limit):
            return "\(path): \(width)x\(height) pixels is over the limit of \(limit) pixels; "
                + "refusing it as a possible decompression bomb (shrink the image or raise the limit)"
        case let .missingFolder(path):
            return "\(path): folder not found"
        case let .emptyClass(path):
            return "\(path): class folder has no JPEG or PNG image; add images or remove the folder"
        case let .noClasses(path):
            return "\(path): no class folders found; expected one sub-folder of images per class"
        case let .unknownLabel(label, source, known):
            return "\(source): validation label '\(label)' is not a training class (training has: "
                + known.joined(separator: ", ") + ")"
        case let .badManifestLine(path, line, text):
            return "\(path):\(line): expected 'path label' (comma or space separated), got '\(text)'"
        case let .badManifestEntry(path, line, reason):
            return "\(path):\(line): \(reason)"
        case let .badClassName(source, name, reason):
            return "\(source): cannot use '\(name)' as a class name: \(reason)"
        case let .badPixels(reason):
            return "RGB pixels: \(reason)"
        case let .invalidOption(message):
            return message
        }
    }
}
