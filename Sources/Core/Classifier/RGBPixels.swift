import Foundation

/// An image an app has already decoded: 8-bit RGB, (height, width, 3) row-major, channels
/// interleaved (R, G, B), no row padding, so pixel (x, y) channel c is `bytes[(y * width + x) * 3 + c]`.
///
/// The sizes are checked when it is made (overflow-checked), so a buffer that does not match its
/// width and height is an error here, never a read outside it later.
public struct RGBPixels: Sendable, Equatable {
    public let width: Int
    public let height: Int
    /// `width * height * 3` bytes.
    public let bytes: [UInt8]

    /// - Parameters:
    ///   - width: pixels per row, at least 1.
    ///   - height: rows, at least 1; `width * height` at most `Limits.maxImagePixels`.
    ///   - bytes: exactly `width * height * 3` bytes, (H, W, 3) interleaved RGB.
    /// - Throws: `DataError.badPixels` saying which size is wrong and what it should be.
    public init(width: Int, height: Int, bytes: [UInt8]) throws {
        try Self.check(width: width, height: height, count: bytes.count)
        self.width = width
        self.height = height
        self.bytes = bytes
    }

    /// The same from `Data`, copied once its size is checked.
    public init(width: Int, height: Int, data: Data) throws {
        try Self.check(width: width, height: height, count: data.count)
        self.width = width
        self.height = height
        bytes = [UInt8](data)
    }

    /// Throws unless `width` x `height` RGB is a size this accepts and takes exactly `count` bytes.
    static func check(width: Int, height: Int, count: Int) throws {
        guard width >= 1, height >= 1 else {
            throw DataError.badPixels(reason: "width and height must be at least 1, got \(width)x\(height)")
        }
        guard let pixels = CheckedSize.product(width, height), pixels <= Limits.maxImagePixels else {
            throw DataError.badPixels(reason: "\(width)x\(height) is over the limit of \(Limits.maxImagePixels) pixels")
        }
        let needed = pixels * 3  // at most 3 * 2^30: no overflow
        guard count == needed else {
            throw DataError.badPixels(reason: "\(width)x\(height) RGB needs \(needed) bytes (width x height x 3, "
                                      + "rows without padding), got \(count)")
        }
    }

    /// The pixels as the transforms' image type.
    var image: Image { Image(width: width, height: height, channels: 3, pixels: bytes) }
}
