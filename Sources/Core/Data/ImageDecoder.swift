// ImageDecoder: the one entry point from a file to an upright 8-bit Image.
//
// It reads the file, recognises the format by its magic bytes (never by its extension, so a
// text file named .jpg is reported as text), checks the pixel count against a limit before
// anything is allocated (a 100-byte PNG can claim 100000x100000 pixels), and hands the bytes
// to JPEGDecoder or PNGDecoder. Every error names the file.

import Foundation

/// Decodes JPEG and PNG files to upright 8-bit images. Not thread-safe: one per thread.
public final class ImageDecoder {
    /// The formats understood.
    public enum Format: String, Sendable {
        case jpeg = "JPEG"
        case png = "PNG"
    }

    /// What a file holds, from its header only.
    public struct Info: Equatable, Sendable {
        public var format: Format
        /// Displayed size: after the EXIF orientation, as the decoded image will be.
        public var width: Int
        public var height: Int
        /// 1 for gray, 3 for colour.
        public var channels: Int
    }

    /// Pillow's `MAX_IMAGE_PIXELS` (see `Limits.defaultImagePixels`).
    public static let defaultMaxPixels = Limits.defaultImagePixels
    /// The pixel limits a decoder accepts: `--max-image-pixels` is checked against it.
    public static let maxPixelsRange = 1...Limits.maxImagePixels

    /// Images with more pixels than this are refused before allocating.
    public let maxPixels: Int
    private let jpeg = JPEGDecoder()

    /// - Parameter maxPixels: in `maxPixelsRange`; callers check a value from a flag with
    ///   `checkMaxPixels` first.
    public init(maxPixels: Int = ImageDecoder.defaultMaxPixels) {
        precondition(ImageDecoder.maxPixelsRange.contains(maxPixels), "maxPixels \(maxPixels) outside \(ImageDecoder.maxPixelsRange)")
        self.maxPixels = maxPixels
    }

    /// Throws `.invalidOption` naming `--max-image-pixels` unless `value` is in `maxPixelsRange`.
    public static func checkMaxPixels(_ value: Int) throws {
        guard maxPixelsRange.contains(value) else {
            throw DataError.invalidOption("--max-image-pixels must be an integer from 1 to \(Limits.maxImagePixels), got \(value)")
        }
    }

    /// Reads and decodes the file at `path`.
    public func decode(file path: String) throws -> Image {
        try decode(ImageDecoder.read(path), path: path)
    }

    /// The format and displayed size of `bytes`, from the header only.
    /// - Parameter path: the file name used in errors.
    public func info(_ bytes: [UInt8], path: String) throws -> Info {
        try bytes.withUnsafeBufferPointer { buffer in
            switch try ImageDecoder.format(of: buffer, path: path) {
            case .jpeg:
                let header = try jpeg.header(buffer, path: path)
                let swap = header.orientation.swapsDimensions
                return Info(format: .jpeg, width: swap ? header.height : header.width,
                            height: swap ? header.width : header.height, channels: header.channels)
            case .png:
                let header = try PNGDecoder.header(buffer, path: path)
                return Info(format: .png, width: header.width, height: header.height, channels: header.channels)
            }
        }
    }

    /// Decodes `bytes` to an upright image.
    /// - Parameters:
    ///   - path: the file name used in errors.
    ///   - atLeast: the displayed size the caller needs. A JPEG at least twice that size in both
    ///     dimensions is decoded smaller in the DCT domain, never below it. Other formats ignore it.
    public func decode(_ bytes: [UInt8], path: String, atLeast needed: (width: Int, height: Int)? = nil) throws -> Image {
        try bytes.withUnsafeBufferPointer { buffer in
            switch try ImageDecoder.format(of: buffer, path: path) {
            case .jpeg:
                let header = try jpeg.header(buffer, path: path)
                try checkSize(width: header.width, height: header.height, path: path)
                var scale = JPEGDecoder.Scale.one
                if let needed {
                    let swap = header.orientation.swapsDimensions
                    scale = JPEGDecoder.scale(width: header.width, height: header.height,
                                              neededWidth: swap ? needed.height : needed.width,
                                              neededHeight: swap ? needed.width : needed.height)
                }
                return try jpeg.decode(buffer, header: header, scale: scale, path: path)
            case .png:
                return try PNGDecoder.decode(buffer, maxPixels: maxPixels, path: path)
            }
        }
    }

    /// Refuses a size over the pixel limit, from the header, before the crop arithmetic or any
    /// allocation (a decompression bomb). The decoders and the transforms call it first.
    func checkSize(width: Int, height: Int, path: String) throws {
        try ImageDecoder.checkSize(width: width, height: height, maxPixels: maxPixels, path: path)
    }

    /// Throws `.tooLarge` unless `width * height` (overflow-checked) is at most `maxPixels`.
    static func checkSize(width: Int, height: Int, maxPixels: Int, path: String) throws {
        guard let pixels = CheckedSize.product(width, height), pixels <= maxPixels else {
            throw DataError.tooLarge(path: path, width: width, height: height, limit: maxPixels)
        }
    }

    /// The format named by the first bytes, or `.unsupportedFormat` saying what the file looks like.
    static func format(of bytes: UnsafeBufferPointer<UInt8>, path: String) throws -> Format {
        let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        if bytes.count >= 3, bytes[0] == 0xFF, bytes[1] == 0xD8, bytes[2] == 0xFF { return .jpeg }
        if bytes.count >= 8, (0..<8).allSatisfy({ bytes[$0] == png[$0] }) { return .png }
        throw DataError.unsupportedFormat(path: path, detail: describe(bytes))
    }

    /// A short description of unrecognised bytes for an error message.
    private static func describe(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        if bytes.isEmpty { return "the file is empty" }
        let head = Array(bytes.prefix(12))
        func starts(_ text: String) -> Bool { head.starts(with: Array(text.utf8)) }
        if starts("GIF8") { return "it is a GIF" }
        if starts("BM") { return "it is a BMP" }
        if starts("RIFF"), head.count >= 12, Array(head[8..<12]) == Array("WEBP".utf8) { return "it is a WebP" }
        if starts("II*\0") || starts("MM\0*") { return "it is a TIFF" }
        if head.count >= 2, head[0] == 0xFF, head[1] == 0xD8 { return "a JPEG cut off after its first marker" }
        if head.allSatisfy({ (0x20...0x7E).contains($0) || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) {
            return "it looks like text"
        }
        return "it starts with bytes " + head.prefix(4).map { String(format: "%02x", $0) }.joined(separator: " ")
    }

    /// The whole file at `path`, which must be a regular file of at most `Limits.imageFileBytes`,
    /// or `.unreadable` naming it (see `RegularFile`).
    public static func read(_ path: String) throws -> [UInt8] {
        try RegularFile.read(path, limit: Limits.imageFileBytes)
    }
}
