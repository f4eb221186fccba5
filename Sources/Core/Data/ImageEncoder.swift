// ImageEncoder: 8-bit Image to JPEG (TurboJPEG) or PNG (libpng's simplified writer).
//
// Used to write generated benchmark data and to save augmented samples for inspection. Both
// libraries report errors by return value here, so nothing longjmps through Swift.

import CPNG
import CTurboJPEG

/// Encodes images to JPEG or PNG bytes.
public enum ImageEncoder {
    /// Baseline JPEG with 4:2:0 chroma subsampling (gray images stay gray), as cameras write.
    /// - Parameter quality: 1...100.
    public static func jpeg(_ image: Image, quality: Int = 90) throws -> [UInt8] {
        guard let handle = tjInitCompress() else { throw DataError.invalidOption("TurboJPEG: out of memory") }
        defer { tjDestroy(handle) }
        var buffer: UnsafeMutablePointer<UInt8>? = nil
        var size: UInt = 0
        let gray = image.channels == 1
        let status = image.pixels.withUnsafeBufferPointer { pixels in
            tjCompress2(handle, pixels.baseAddress, Int32(image.width), 0, Int32(image.height),
                        Int32((gray ? TJPF_GRAY : TJPF_RGB).rawValue), &buffer, &size,
                        Int32((gray ? TJSAMP_GRAY : TJSAMP_420).rawValue), Int32(quality), 0)
        }
        defer { tjFree(buffer) }
        guard status == 0, let buffer else {
            throw DataError.invalidOption("JPEG encoding failed: " + String(cString: tjGetErrorStr2(handle)))
        }
        return Array(UnsafeBufferPointer(start: buffer, count: Int(size)))
    }

    /// An 8-bit gray or RGB PNG.
    public static func png(_ image: Image) throws -> [UInt8] {
        var png = png_image()
        png.version = UInt32(PNG_IMAGE_VERSION)
        png.width = UInt32(image.width)
        png.height = UInt32(image.height)
        png.format = image.channels == 1 ? UInt32(PNG_FORMAT_GRAY) : UInt32(PNG_FORMAT_RGB)
        var size = 0
        // First call measures, second writes.
        let measured = image.pixels.withUnsafeBufferPointer { pixels in
            png_image_write_to_memory(&png, nil, &size, 0, pixels.baseAddress, 0, nil)
        }
        guard measured != 0 else { throw DataError.invalidOption("PNG encoding failed: \(message(png))") }
        var bytes = [UInt8](repeating: 0, count: size)
        let written = bytes.withUnsafeMutableBytes { out in
            image.pixels.withUnsafeBufferPointer { pixels in
                png_image_write_to_memory(&png, out.baseAddress, &size, 0, pixels.baseAddress, 0, nil)
            }
        }
        guard written != 0 else { throw DataError.invalidOption("PNG encoding failed: \(message(png))") }
        return Array(bytes.prefix(size))
    }

    private static func message(_ image: png_image) -> String {
        var text = image.message
        return withUnsafeBytes(of: &text) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }
}
