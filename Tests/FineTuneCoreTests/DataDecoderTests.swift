// Decoding: every JPEG and PNG variant issue 5 lists, the DCT-domain downscaling, and the
// errors (truncated, empty, text named .jpg, decompression bomb), each naming the file.

import CJPEG
import CPNG
import XCTest
@testable import FineTuneCore

final class DataDecoderTests: XCTestCase {
    let decoder = ImageDecoder()

    /// Largest per-sample difference between two equal-sized images.
    func maxDifference(_ a: Image, _ b: Image) -> Int {
        XCTAssertEqual(a.width, b.width)
        XCTAssertEqual(a.height, b.height)
        XCTAssertEqual(a.channels, b.channels)
        return zip(a.pixels, b.pixels).map { abs(Int($0) - Int($1)) }.max() ?? 0
    }

    /// The colour at the centre of each quadrant: top-left, top-right, bottom-left, bottom-right.
    func quadrantColors(_ image: Image) -> [[UInt8]] {
        let xs = [image.width / 4, 3 * image.width / 4], ys = [image.height / 4, 3 * image.height / 4]
        return ys.flatMap { y in xs.map { x in image[x, y].map { $0 > 127 ? 255 : 0 } } }
    }

    // MARK: JPEG

    func testBaselineJPEGIsCloseToTheSource() throws {
        let source = DataFixtures.gradient(width: 48, height: 32)
        let image = try decoder.decode(DataFixtures.jpeg(source, quality: 100), path: "baseline.jpg")
        XCTAssertEqual(image.channels, 3)
        XCTAssertLessThanOrEqual(maxDifference(image, source), 4)
        let flat = Image(width: 32, height: 32, channels: 3, pixels: [UInt8](repeating: 0, count: 32 * 32 * 3).enumerated().map { [200, 100, 50][$0.offset % 3] })
        XCTAssertLessThanOrEqual(maxDifference(try decoder.decode(DataFixtures.jpeg(flat), path: "flat.jpg"), flat), 2)
    }

    func testProgressiveJPEGDecodesLikeBaseline() throws {
        let source = DataFixtures.pattern(width: 40, height: 24)
        let baseline = try decoder.decode(DataFixtures.jpeg(source), path: "a.jpg")
        let progressive = try decoder.decode(DataFixtures.jpeg(source, progressive: true), path: "b.jpg")
        XCTAssertLessThanOrEqual(maxDifference(baseline, progressive), 2)
    }

    func testGrayscaleJPEGStaysOneChannel() throws {
        let source = DataFixtures.gradient(width: 24, height: 16, channels: 1)
        let image = try decoder.decode(DataFixtures.jpeg(source, quality: 100), path: "gray.jpg")
        XCTAssertEqual(image.channels, 1)
        XCTAssertLessThanOrEqual(maxDifference(image, source), 2)
        XCTAssertEqual(image.rgb().pixels.count, 24 * 16 * 3)
    }

    /// Adobe-inverted CMYK for an RGB colour: C' = 255 - C = R (with K = 0, so K' = 255).
    func invertedCMYK(_ rgb: [UInt8], count: Int) -> [UInt8] {
        Array((0..<count).map { _ in rgb + [255] }.joined())
    }

    func testCMYKAndYCCKJPEGsBecomeRGB() throws {
        for stored in [JCS_CMYK, JCS_YCCK] {
            for color: [UInt8] in [[255, 0, 0], [30, 160, 220], [255, 255, 255]] {
                let bytes = DataFixtures.jpeg(invertedCMYK(color, count: 16 * 16), width: 16, height: 16,
                                              input: JCS_CMYK, stored: stored, quality: 100)
                let image = try decoder.decode(bytes, path: "cmyk.jpg")
                XCTAssertEqual(image.channels, 3)
                for (got, want) in zip(image[8, 8], color) {
                    XCTAssertLessThanOrEqual(abs(Int(got) - Int(want)), 3, "stored \(stored) colour \(color)")
                }
            }
        }
        // Black from the K channel alone: K' = 255 - 255 = 0.
        let black = DataFixtures.jpeg(Array(repeating: [255, 255, 255, 0], count: 64).flatMap { $0 }, width: 8, height: 8,
                                      input: JCS_CMYK, stored: JCS_CMYK, quality: 100)
        XCTAssertTrue(try decoder.decode(black, path: "k.jpg").pixels.allSatisfy { $0 <= 3 })
    }

    func testEXIFOrientationIsApplied() throws {
        let source = DataFixtures.quadrants(width: 64, height: 32)
        let red: [UInt8] = [255, 0, 0], green: [UInt8] = [0, 255, 0], blue: [UInt8] = [0, 0, 255], white: [UInt8] = [255, 255, 255]
        let expected: [Int: (Int, Int, [[UInt8]])] = [
            1: (64, 32, [red, green, blue, white]),
            2: (64, 32, [green, red, white, blue]),
            3: (64, 32, [white, blue, green, red]),
            4: (64, 32, [blue, white, red, green]),
            5: (32, 64, [red, blue, green, white]),
            6: (32, 64, [blue, red, white, green]),
            7: (32, 64, [white, green, blue, red]),
            8: (32, 64, [green, white, red, blue]),
        ]
        for (orientation, (width, height, colors)) in expected.sorted(by: { $0.key < $1.key }) {
            for bigEndian in [true, false] {
                let bytes = DataFixtures.jpeg(source, quality: 100,
                                              exif: DataFixtures.exif(orientation: orientation, bigEndian: bigEndian))
                let info = try decoder.info(bytes, path: "o.jpg")
                XCTAssertEqual([info.width, info.height], [width, height], "orientation \(orientation)")
                let image = try decoder.decode(bytes, path: "o.jpg")
                XCTAssertEqual([image.width, image.height], [width, height], "orientation \(orientation)")
                XCTAssertEqual(quadrantColors(image), colors, "orientation \(orientation)")
            }
        }
    }

    func testMalformedEXIFIsIgnored() throws {
        var exif = DataFixtures.exif(orientation: 6)
        exif[10...13] = [0, 0, 0xFF, 0xFF]                       // IFD offset far outside the segment
        let image = try decoder.decode(DataFixtures.jpeg(DataFixtures.quadrants(width: 32, height: 16), exif: exif), path: "bad-exif.jpg")
        XCTAssertEqual([image.width, image.height], [32, 16])
    }

    func testDCTDownscalingWhenAtLeastTwiceTheNeededSize() throws {
        let bytes = DataFixtures.jpeg(DataFixtures.pattern(width: 400, height: 240))
        XCTAssertEqual(try decoder.decode(bytes, path: "big.jpg", atLeast: (100, 60)).width, 100)    // 1/4
        let eighth = try decoder.decode(bytes, path: "big.jpg", atLeast: (40, 20))
        XCTAssertEqual([eighth.width, eighth.height], [50, 30])                                         // 1/8
        XCTAssertEqual(try decoder.decode(bytes, path: "big.jpg", atLeast: (210, 100)).width, 400)   // < 2x: full
        let threeEighths = try decoder.decode(bytes, path: "big.jpg", atLeast: (120, 80))
        XCTAssertEqual([threeEighths.width, threeEighths.height], [150, 90])
        XCTAssertGreaterThanOrEqual(threeEighths.height, 80)
    }

    func testTruncatedJPEGIsAnErrorNamingTheFile() throws {
        let baseline = DataFixtures.jpeg(DataFixtures.pattern(width: 64, height: 64), quality: 90)
        let progressive = DataFixtures.jpeg(DataFixtures.pattern(width: 64, height: 64), quality: 90, progressive: true)
        for cut in [Array(baseline.prefix(baseline.count / 2)), Array(baseline.prefix(20)),
                    Array(progressive.prefix(progressive.count * 3 / 4))] {
            XCTAssertThrowsError(try decoder.decode(cut, path: "photos/cut.jpg")) { error in
                guard case DataError.corrupt(let path, "JPEG", _) = error else { return XCTFail("\(error)") }
                XCTAssertEqual(path, "photos/cut.jpg")
                XCTAssertTrue("\(error)".hasPrefix("photos/cut.jpg: "))
            }
        }
    }

    func testOnlyCutJPEGsAreTakenAsTruncated() throws {
        let image = DataFixtures.pattern(width: 40, height: 24)
        let files = [DataFixtures.jpeg(image), DataFixtures.jpeg(image, progressive: true),
                     DataFixtures.jpeg(image, exif: DataFixtures.exif(orientation: 3))]
        for bytes in files {
            XCTAssertTrue(bytes.withUnsafeBufferPointer(JPEGDecoder.reachesEndOfImage))
            for cut in stride(from: 2, to: bytes.count - 1, by: 5) {
                XCTAssertFalse(Array(bytes.prefix(cut)).withUnsafeBufferPointer(JPEGDecoder.reachesEndOfImage), "cut at \(cut)")
            }
        }
        // Data after the end marker (some cameras append a trailer) and stray bytes before a
        // marker (a libjpeg warning that PIL ignores too) still decode.
        let bytes = files[0]
        XCTAssertNoThrow(try decoder.decode(bytes + Array("TRAILER".utf8), path: "trailer.jpg"))
        let stray = Array(bytes.dropLast(2)) + [0x12, 0x34, 0xFF, 0xD9]
        XCTAssertEqual(try decoder.decode(stray, path: "stray.jpg"), try decoder.decode(bytes, path: "clean.jpg"))
    }

    func testEmptyAndTextFilesAreRejectedByContentNotName() throws {
        let folder = DataTempFolder()
        let empty = folder.write("empty.jpg", [])
        let text = folder.write("notes.jpg", Array("this is not an image\n".utf8))
        XCTAssertThrowsError(try decoder.decode(file: empty)) { error in
            XCTAssertEqual(error as? DataError, .unsupportedFormat(path: empty, detail: "the file is empty"))
        }
        XCTAssertThrowsError(try decoder.decode(file: text)) { error in
            XCTAssertEqual(error as? DataError, .unsupportedFormat(path: text, detail: "it looks like text"))
        }
        XCTAssertThrowsError(try decoder.decode(file: folder.path + "/missing.png")) { error in
            guard case DataError.unreadable = error else { return XCTFail("\(error)") }
            XCTAssertTrue("\(error)".contains("missing.png"))
        }
        // A PNG named .jpg is decoded as the PNG it is.
        let png = folder.path + "/really-a-png.jpg"
        DataFixtures.png([UInt8](repeating: 9, count: 6), width: 3, height: 2, colorType: PNG_COLOR_TYPE_GRAY, to: png)
        XCTAssertEqual(try decoder.decode(file: png).pixels, [UInt8](repeating: 9, count: 6))
    }

    func testDecompressionBombIsRefusedBeforeAllocating() throws {
        // A real 16x16 JPEG whose frame header claims 60000 x 60000 pixels.
        var bytes = DataFixtures.jpeg(DataFixtures.pattern(width: 16, height: 16))
        let sof = (0..<bytes.count - 1).first { bytes[$0] == 0xFF && bytes[$0 + 1] == 0xC0 }!
        bytes[(sof + 5)...(sof + 8)] = [0xEA, 0x60, 0xEA, 0x60]
        XCTAssertThrowsError(try decoder.decode(bytes, path: "bomb.jpg")) { error in
            XCTAssertEqual(error as? DataError, .tooLarge(path: "bomb.jpg", width: 60000, height: 60000,
                                                          limit: ImageDecoder.defaultMaxPixels))
        }
        let folder = DataTempFolder()
        let png = folder.path + "/wide.png"
        DataFixtures.png([UInt8](repeating: 1, count: 40 * 30), width: 40, height: 30, colorType: PNG_COLOR_TYPE_GRAY, to: png)
        XCTAssertThrowsError(try ImageDecoder(maxPixels: 1000).decode(file: png)) { error in
            XCTAssertEqual(error as? DataError, .tooLarge(path: png, width: 40, height: 30, limit: 1000))
        }
    }

    // MARK: PNG

    func testEveryPNGColorTypeBecomesEightBitGrayOrRGB() throws {
        let folder = DataTempFolder()
        let w = 5, h = 3, n = w * h
        let gray = (0..<n).map { UInt8($0 * 17) }
        let rgb = (0..<3 * n).map { UInt8(($0 * 29) % 256) }
        func decode(_ name: String, _ samples: [UInt8], _ type: Int32, depth: Int32 = 8, interlaced: Bool = false,
                    palette: [UInt8] = [], alpha: [UInt8] = []) throws -> Image {
            let path = folder.path + "/" + name
            DataFixtures.png(samples, width: w, height: h, colorType: type, bitDepth: depth, interlaced: interlaced,
                             palette: palette, transparency: alpha, to: path)
            return try decoder.decode(file: path)
        }
        XCTAssertEqual(try decode("g.png", gray, PNG_COLOR_TYPE_GRAY), Image(width: w, height: h, channels: 1, pixels: gray))
        let ga = zip(gray, gray.reversed()).flatMap { [$0, $1] }           // alpha dropped, gray kept
        XCTAssertEqual(try decode("ga.png", ga, PNG_COLOR_TYPE_GRAY_ALPHA).pixels, gray)
        XCTAssertEqual(try decode("rgb.png", rgb, PNG_COLOR_TYPE_RGB), Image(width: w, height: h, channels: 3, pixels: rgb))
        var rgba: [UInt8] = []
        for i in 0..<n { rgba += rgb[(3 * i)..<(3 * i + 3)] + [UInt8(i % 2 == 0 ? 0 : 128)] }
        XCTAssertEqual(try decode("rgba.png", rgba, PNG_COLOR_TYPE_RGB_ALPHA).pixels, rgb, "alpha dropped, colour kept")
        let palette: [UInt8] = [10, 20, 30, 200, 100, 0, 0, 255, 0]
        let indices = (0..<n).map { UInt8($0 % 3) }
        let expected = indices.flatMap { Array(palette[(3 * Int($0))..<(3 * Int($0) + 3)]) }
        XCTAssertEqual(try decode("p.png", indices, PNG_COLOR_TYPE_PALETTE, palette: palette).pixels, expected)
        XCTAssertEqual(try decode("pt.png", indices, PNG_COLOR_TYPE_PALETTE, palette: palette, alpha: [0, 255, 90]).pixels, expected)
        // 16-bit: high byte v, low byte 0x80 -> round(v * 257 + 128) / 257 = v (within 1).
        let gray16: [UInt8] = gray.flatMap { [$0, 0x80] }
        let decoded16 = try decode("g16.png", gray16, PNG_COLOR_TYPE_GRAY, depth: 16)
        XCTAssertEqual(decoded16.channels, 1)
        XCTAssertLessThanOrEqual(zip(decoded16.pixels, gray).map { abs(Int($0) - Int($1)) }.max()!, 1)
        let rgb16: [UInt8] = rgb.flatMap { [$0, $0] }                               // v * 257 exactly
        XCTAssertEqual(try decode("rgb16.png", rgb16, PNG_COLOR_TYPE_RGB, depth: 16).pixels, rgb)
        XCTAssertEqual(try decode("i.png", rgb, PNG_COLOR_TYPE_RGB, interlaced: true).pixels, rgb)
        XCTAssertEqual(try decode("gi.png", gray, PNG_COLOR_TYPE_GRAY, interlaced: true).pixels, gray)
    }

    func testTruncatedPNGIsAnErrorNamingTheFile() throws {
        let folder = DataTempFolder()
        let path = folder.path + "/full.png"
        DataFixtures.png((0..<(64 * 64 * 3)).map { UInt8(($0 * 31) % 251) }, width: 64, height: 64,
                         colorType: PNG_COLOR_TYPE_RGB, to: path)
        let bytes = try ImageDecoder.read(path)
        XCTAssertThrowsError(try decoder.decode(Array(bytes.prefix(bytes.count / 2)), path: "cut.png")) { error in
            guard case DataError.corrupt("cut.png", "PNG", _) = error else { return XCTFail("\(error)") }
        }
    }
}
