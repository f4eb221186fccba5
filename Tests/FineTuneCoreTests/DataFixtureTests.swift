// Test fixtures for the data pipeline, generated in code: JPEGs written with libjpeg's
// compressor (any colourspace, progressive, with an EXIF segment), PNGs written with libpng
// (every colour type, 16-bit, interlaced, palette with transparency), all in a temporary folder.

import CJPEG
import CPNG
import Foundation
import XCTest
@testable import FineTuneCore

/// A temporary folder removed when the object goes away.
final class DataTempFolder {
    let path: String

    init() {
        path = NSTemporaryDirectory() + "finetune-data-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Writes `bytes` to `name` (sub-folders created) and returns the full path.
    @discardableResult
    func write(_ name: String, _ bytes: [UInt8]) -> String {
        let file = path + "/" + name
        try! FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent,
                                                 withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: file, contents: Data(bytes))
        return file
    }
}

enum DataFixtures {
    /// A deterministic pattern: pixel (x, y) channel c = (x * 7 + y * 13 + c * 51) mod 256.
    static func pattern(width: Int, height: Int, channels: Int = 3) -> Image {
        var pixels = [UInt8](repeating: 0, count: width * height * channels)
        for y in 0..<height {
            for x in 0..<width {
                for c in 0..<channels { pixels[(y * width + x) * channels + c] = UInt8((x * 7 + y * 13 + c * 51) % 256) }
            }
        }
        return Image(width: width, height: height, channels: channels, pixels: pixels)
    }

    /// A smooth ramp that JPEG keeps nearly intact: (x, y) channel c = 2x + 3y + 40c (clamped).
    static func gradient(width: Int, height: Int, channels: Int = 3) -> Image {
        var pixels = [UInt8](repeating: 0, count: width * height * channels)
        for y in 0..<height {
            for x in 0..<width {
                for c in 0..<channels { pixels[(y * width + x) * channels + c] = UInt8(min(2 * x + 3 * y + 40 * c, 255)) }
            }
        }
        return Image(width: width, height: height, channels: channels, pixels: pixels)
    }

    /// Four flat quadrants: red top-left, green top-right, blue bottom-left, white bottom-right.
    static func quadrants(width: Int, height: Int) -> Image {
        var image = Image(width: width, height: height, channels: 3)
        let colors: [[UInt8]] = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]]
        for y in 0..<height {
            for x in 0..<width {
                let color = colors[(y < height / 2 ? 0 : 2) + (x < width / 2 ? 0 : 1)]
                for c in 0..<3 { image.pixels[(y * width + x) * 3 + c] = color[c] }
            }
        }
        return image
    }

    /// Encodes interleaved samples with libjpeg.
    /// - Parameters:
    ///   - input: JCS_RGB, JCS_GRAYSCALE or JCS_CMYK, with 3, 1 or 4 components per pixel.
    ///   - stored: the colourspace written to the file (JCS_YCCK, JCS_CMYK...); libjpeg's default if nil.
    ///   - exif: the payload of an APP1 segment written after the header.
    static func jpeg(_ samples: [UInt8], width: Int, height: Int, input: J_COLOR_SPACE = JCS_RGB,
                     stored: J_COLOR_SPACE? = nil, quality: Int32 = 95, progressive: Bool = false,
                     exif: [UInt8]? = nil) -> [UInt8] {
        let components = input == JCS_GRAYSCALE ? 1 : (input == JCS_CMYK ? 4 : 3)
        precondition(samples.count == width * height * components)
        let cinfo = UnsafeMutablePointer<jpeg_compress_struct>.allocate(capacity: 1)
        let errors = UnsafeMutablePointer<jpeg_error_mgr>.allocate(capacity: 1)
        let buffer = UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>.allocate(capacity: 1)
        let size = UnsafeMutablePointer<UInt>.allocate(capacity: 1)
        defer { cinfo.deallocate(); errors.deallocate(); buffer.deallocate(); size.deallocate() }
        cinfo.initialize(to: jpeg_compress_struct())
        buffer.pointee = nil
        size.pointee = 0
        cinfo.pointee.err = jpeg_std_error(errors)
        errors.pointee.error_exit = { _ in fatalError("libjpeg failed to write a test fixture") }
        jpeg_CreateCompress(cinfo, JPEG_LIB_VERSION, MemoryLayout<jpeg_compress_struct>.size)
        jpeg_mem_dest(cinfo, buffer, size)
        cinfo.pointee.image_width = JDIMENSION(width)
        cinfo.pointee.image_height = JDIMENSION(height)
        cinfo.pointee.input_components = Int32(components)
        cinfo.pointee.in_color_space = input
        jpeg_set_defaults(cinfo)
        if let stored { jpeg_set_colorspace(cinfo, stored) }
        jpeg_set_quality(cinfo, quality, 1)
        if progressive { jpeg_simple_progression(cinfo) }
        jpeg_start_compress(cinfo, 1)
        if var exif { jpeg_write_marker(cinfo, Int32(JPEG_APP0 + 1), &exif, UInt32(exif.count)) }
        var rows = samples
        rows.withUnsafeMutableBufferPointer { pixels in
            while cinfo.pointee.next_scanline < cinfo.pointee.image_height {
                var row: JSAMPROW? = pixels.baseAddress! + Int(cinfo.pointee.next_scanline) * width * components
                _ = jpeg_write_scanlines(cinfo, &row, 1)
            }
        }
        jpeg_finish_compress(cinfo)
        let bytes = Array(UnsafeBufferPointer(start: buffer.pointee, count: Int(size.pointee)))
        free(buffer.pointee)
        jpeg_destroy_compress(cinfo)
        return bytes
    }

    static func jpeg(_ image: Image, quality: Int32 = 95, progressive: Bool = false, exif: [UInt8]? = nil) -> [UInt8] {
        jpeg(image.pixels, width: image.width, height: image.height, input: image.channels == 1 ? JCS_GRAYSCALE : JCS_RGB,
             quality: quality, progressive: progressive, exif: exif)
    }

    /// The APP1 payload "Exif\0\0" + a TIFF structure whose IFD0 holds only the orientation tag.
    static func exif(orientation: Int, bigEndian: Bool = true) -> [UInt8] {
        func u16(_ v: Int) -> [UInt8] { bigEndian ? [UInt8(v >> 8), UInt8(v & 255)] : [UInt8(v & 255), UInt8(v >> 8)] }
        func u32(_ v: Int) -> [UInt8] { bigEndian ? u16(v >> 16) + u16(v & 0xFFFF) : u16(v & 0xFFFF) + u16(v >> 16) }
        let order: [UInt8] = bigEndian ? [0x4D, 0x4D] : [0x49, 0x49]
        return Array("Exif".utf8) + [0, 0] + order + u16(42) + u32(8)
            + u16(1) + u16(0x0112) + u16(3) + u32(1) + u16(orientation) + u16(0) + u32(0)
    }

    /// Writes a PNG with libpng's full API.
    /// - Parameters:
    ///   - colorType: PNG_COLOR_TYPE_* value; `samples` holds the raw samples for it (palette
    ///     indices for type 3), 16-bit samples big-endian.
    ///   - palette: RGB triples for type 3; `transparency` their alpha values (tRNS).
    static func png(_ samples: [UInt8], width: Int, height: Int, colorType: Int32, bitDepth: Int32 = 8,
                    interlaced: Bool = false, palette: [UInt8] = [], transparency: [UInt8] = [], to path: String) {
        let channels: Int
        switch colorType {
        case PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_PALETTE: channels = 1
        case PNG_COLOR_TYPE_GRAY_ALPHA: channels = 2
        case PNG_COLOR_TYPE_RGB: channels = 3
        default: channels = 4
        }
        let rowBytes = width * channels * Int(bitDepth) / 8
        precondition(samples.count == rowBytes * height)
        guard let file = fopen(path, "wb") else { fatalError("cannot create \(path)") }
        var png: png_structp? = png_create_write_struct(PNG_LIBPNG_VER_STRING, nil, nil, nil)
        var info: png_infop? = png_create_info_struct(png)
        png_init_io(png, file)
        png_set_IHDR(png, info, png_uint_32(width), png_uint_32(height), bitDepth, colorType,
                     interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
                     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT)
        if colorType == PNG_COLOR_TYPE_PALETTE {
            var colors = stride(from: 0, to: palette.count, by: 3).map {
                png_color(red: palette[$0], green: palette[$0 + 1], blue: palette[$0 + 2])
            }
            png_set_PLTE(png, info, &colors, Int32(colors.count))
            if !transparency.isEmpty {
                var alpha = transparency
                png_set_tRNS(png, info, &alpha, Int32(alpha.count), nil)
            }
        }
        png_write_info(png, info)
        var data = samples
        data.withUnsafeMutableBufferPointer { pixels in
            var rows = (0..<height).map { Optional(pixels.baseAddress! + $0 * rowBytes) }
            png_write_image(png, &rows)
        }
        png_write_end(png, nil)
        png_destroy_write_struct(&png, &info)
        fclose(file)
    }
}

extension DataFixtures {
    /// `png` (the bytes of a PNG file) with its header claiming `width` x `height` pixels, the
    /// header's CRC recomputed so libpng reads the claim: a decompression bomb of a few bytes.
    static func claiming(width: UInt32, height: UInt32, png: [UInt8]) -> [UInt8] {
        var bytes = png
        // Signature (8), IHDR length (4), "IHDR" (4), then width and height, big-endian.
        bytes[16..<24] = ArraySlice(withUnsafeBytes(of: width.bigEndian, Array.init) + withUnsafeBytes(of: height.bigEndian, Array.init))
        let crc = crc32(bytes[12..<29])
        bytes[29..<33] = ArraySlice(withUnsafeBytes(of: crc.bigEndian, Array.init))
        return bytes
    }

    /// The CRC-32 of PNG chunks (ISO 3309, as zlib's crc32).
    static func crc32(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }
}

/// The outcome of work run with a time limit.
final class TimedResult<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Result<T, Error>?
    fileprivate func set(_ result: Result<T, Error>) { lock.lock(); value = result; lock.unlock() }
    var result: Result<T, Error>? { lock.lock(); defer { lock.unlock() }; return value }
}

extension XCTestCase {
    /// Runs `work` on a thread of its own and fails the test when it has not finished within
    /// `seconds`, so a hang (a FIFO opened for reading, a walk around a symlink loop) fails the
    /// test instead of stopping the test run. Returns the result, or nil after the time limit.
    func finishing<T>(within seconds: Double = 10, _ what: String, file: StaticString = #filePath, line: UInt = #line,
                      _ work: @escaping () throws -> T) -> Result<T, Error>? {
        let outcome = TimedResult<T>()
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            outcome.set(Result { try work() })
            done.signal()
        }
        thread.start()
        guard done.wait(timeout: .now() + seconds) == .success else {
            XCTFail("\(what) did not finish within \(seconds) s (a hang)", file: file, line: line)
            return nil
        }
        return outcome.result
    }
}

/// Checks the fixture writers themselves, so a broken fixture is not mistaken for a decoder bug.
final class DataFixtureTests: XCTestCase {
    func testJPEGWriterProducesAJPEG() {
        let bytes = DataFixtures.jpeg(DataFixtures.pattern(width: 16, height: 8))
        XCTAssertEqual(Array(bytes.prefix(3)), [0xFF, 0xD8, 0xFF])
        XCTAssertEqual(Array(bytes.suffix(2)), [0xFF, 0xD9])
    }

    func testPNGHeaderClaimKeepsAValidCRC() throws {
        let png = try ImageEncoder.png(Image(width: 3, height: 2, channels: 1, filledWith: 5))
        XCTAssertEqual(DataFixtures.crc32(ArraySlice(png[12..<29])), png[29..<33].reduce(0) { $0 << 8 | UInt32($1) })
        let claim = DataFixtures.claiming(width: 70000, height: 9, png: png)
        XCTAssertEqual(try ImageDecoder().info(claim, path: "claim.png").width, 70000)
    }

    func testPNGWriterProducesAPNG() throws {
        let folder = DataTempFolder()
        let path = folder.path + "/gray.png"
        DataFixtures.png([UInt8](repeating: 7, count: 12), width: 4, height: 3, colorType: PNG_COLOR_TYPE_GRAY, to: path)
        let bytes = try ImageDecoder.read(path)
        XCTAssertEqual(Array(bytes.prefix(4)), [0x89, 0x50, 0x4E, 0x47])
    }
}
