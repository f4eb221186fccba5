// PNGDecoder: PNG to 8-bit gray or RGB through libpng's simplified API.
//
// The simplified API (`png_image_begin_read_from_memory` / `png_image_finish_read`, libpng
// 1.6) reports errors in `png_image.message` and returns 0, with libpng's longjmp kept inside
// C, so Swift never sees it. It expands every colour type: gray and gray+alpha stay gray (one
// channel); palette, RGB and RGBA become RGB; 16-bit samples are scaled to 8 bits (the file is
// taken as sRGB-encoded, PNG_IMAGE_FLAG_16BIT_sRGB, since most 16-bit files in the wild are);
// interlaced files are de-interlaced.
//
// Alpha is dropped, not composited: the colour values are kept as stored, as PIL's
// `convert("RGB")` (torchvision's ImageFolder loader) does. One difference from PIL: libpng
// honours a gAMA chunk far from sRGB and converts to sRGB; PIL ignores gAMA.

import CPNG

/// Decodes PNG bytes. Stateless: safe to use from any thread.
enum PNGDecoder {
    /// Width, height and the channel count of the decoded image (1 gray, 3 RGB).
    struct Header {
        var width: Int
        var height: Int
        var channels: Int
        var hasAlpha: Bool
    }

    /// Reads the header of `bytes` (no pixel decoding). Throws `.corrupt` naming `path`.
    static func header(_ bytes: UnsafeBufferPointer<UInt8>, path: String) throws -> Header {
        var image = png_image()
        try begin(&image, bytes, path: path)
        defer { png_image_free(&image) }
        return header(of: image)
    }

    /// Decodes `bytes` to 8-bit gray or RGB. The size is checked against `maxPixels`, and every
    /// buffer size (with alpha) with overflow checks, before the pixels are allocated.
    static func decode(_ bytes: UnsafeBufferPointer<UInt8>, maxPixels: Int, path: String) throws -> Image {
        var image = png_image()
        try begin(&image, bytes, path: path)
        let info = header(of: image)
        // Read with alpha when the file has it, then drop it (no compositing), as PIL does.
        let readChannels = info.channels + (info.hasAlpha ? 1 : 0)
        let rowBytes = CheckedSize.product(info.width, readChannels)
        let byteCount = CheckedSize.product(of: [info.width, info.height, readChannels])
        do {
            try ImageDecoder.checkSize(width: info.width, height: info.height, maxPixels: maxPixels, path: path)
            guard let byteCount, let rowBytes, let stride = Int32(exactly: rowBytes) else {
                throw DataError.corrupt(path: path, format: "PNG", reason: "\(info.width)x\(info.height) pixels is too large to address")
            }
            image.format = (info.channels == 3 ? UInt32(PNG_FORMAT_FLAG_COLOR) : 0)
                | (info.hasAlpha ? UInt32(PNG_FORMAT_FLAG_ALPHA) : 0)
            var pixels = [UInt8](repeating: 0, count: byteCount)
            let ok = pixels.withUnsafeMutableBufferPointer { out in
                png_image_finish_read(&image, nil, out.baseAddress, stride, nil)
            }
            // finish_read frees the image's internal state whether it succeeds or not.
            guard ok != 0, image.warning_or_error & 0x03 <= 1 else {
                throw DataError.corrupt(path: path, format: "PNG", reason: message(of: image))
            }
            if info.hasAlpha { pixels = dropAlpha(pixels, channels: info.channels) }
            return Image(width: info.width, height: info.height, channels: info.channels, pixels: pixels)
        } catch {
            png_image_free(&image)   // a no-op once finish_read has run
            throw error
        }
    }

    private static func begin(_ image: inout png_image, _ bytes: UnsafeBufferPointer<UInt8>, path: String) throws {
        image.version = UInt32(PNG_IMAGE_VERSION)
        image.opaque = nil
        guard png_image_begin_read_from_memory(&image, bytes.baseAddress, bytes.count) != 0 else {
            let reason = message(of: image)
            png_image_free(&image)
            throw DataError.corrupt(path: path, format: "PNG", reason: reason)
        }
        image.flags |= UInt32(PNG_IMAGE_FLAG_16BIT_sRGB)
    }

    private static func header(of image: png_image) -> Header {
        Header(width: Int(image.width), height: Int(image.height),
               channels: image.format & UInt32(PNG_FORMAT_FLAG_COLOR) != 0 ? 3 : 1,
               hasAlpha: image.format & UInt32(PNG_FORMAT_FLAG_ALPHA) != 0)
    }

    private static func message(of image: png_image) -> String {
        var message = image.message
        let text = withUnsafeBytes(of: &message) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        return text.isEmpty ? "libpng reported an error" : text
    }

    /// Keeps the first `channels` of every `channels + 1` bytes.
    private static func dropAlpha(_ pixels: [UInt8], channels: Int) -> [UInt8] {
        let count = pixels.count / (channels + 1)
        var out = [UInt8](repeating: 0, count: count * channels)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for i in 0..<count {
                    for c in 0..<channels { dst[i * channels + c] = src[i * (channels + 1) + c] }
                }
            }
        }
        return out
    }
}
