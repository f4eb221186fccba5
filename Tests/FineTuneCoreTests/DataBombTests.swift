// Decompression and aspect-ratio bombs: a few bytes claiming a huge image are refused from the
// header, before anything is allocated; an extreme aspect ratio (65500x1, 1000000x1) is resized
// and cropped without building the multi-gigapixel resize; `--max-image-pixels` moves the limit.
// Without the fixes each of these aborted the process on a failed allocation.

import CPNG
import XCTest
@testable import FineTuneCore

final class DataBombTests: XCTestCase {
    let eval = EvalTransform(resize: 256, crop: 224)
    let train = TrainTransform(crop: RandomResizedCrop(size: 224))

    /// Both pipelines' 8-bit outputs for `bytes`.
    func pipelines(_ bytes: [UInt8], path: String, decoder: ImageDecoder = ImageDecoder()) throws -> [Image] {
        var random = SeededRandom(seed: 3)
        return [try eval.image(bytes, path: path, decoder: decoder),
                try train.image(bytes, path: path, decoder: decoder, random: &random)]
    }

    func testAPNGClaimingHugeSidesIsRefusedFromItsHeader() throws {
        let png = try ImageEncoder.png(Image(width: 16, height: 16, channels: 3, filledWith: 40))
        // Within libpng's 1000000-pixel sides but 10^12 pixels: the pixel limit refuses it.
        let bomb = DataFixtures.claiming(width: 1_000_000, height: 1_000_000, png: png)
        XCTAssertLessThan(bomb.count, 200)
        let tooLarge = DataError.tooLarge(path: "bomb.png", width: 1_000_000, height: 1_000_000, limit: Limits.defaultImagePixels)
        XCTAssertThrowsError(try ImageDecoder().decode(bomb, path: "bomb.png")) { XCTAssertEqual($0 as? DataError, tooLarge) }
        XCTAssertThrowsError(try pipelines(bomb, path: "bomb.png")) { XCTAssertEqual($0 as? DataError, tooLarge) }
        XCTAssertTrue("\(tooLarge)".contains("raise the limit"))
        // Past libpng's own limit on a side, or PNG's 2^31 - 1: refused by libpng as corrupt.
        for side: UInt32 in [2_000_000, 0x7FFF_FFFF, 0xFFFF_FFFF] {
            XCTAssertThrowsError(try pipelines(DataFixtures.claiming(width: side, height: 1, png: png), path: "wide.png")) { error in
                guard case DataError.corrupt("wide.png", "PNG", _) = error else { return XCTFail("\(side): \(error)") }
            }
        }
        // The product is overflow-checked: sides whose product wraps around are refused, not passed.
        XCTAssertThrowsError(try ImageDecoder.checkSize(width: 1 << 32, height: 1 << 32, maxPixels: Limits.defaultImagePixels, path: "x"))
    }

    func testAOneRowPNGAMillionPixelsWideIsResizedOnlyWhereTheCropNeedsIt() throws {
        // 1000000x1 passes the pixel limit and decodes (1 MB); its 256-pixel shorter side made a
        // 256000000x256 resize (65 GB) before the crop: the process aborted.
        let folder = DataTempFolder()
        let path = folder.path + "/row.png"
        DataFixtures.png([UInt8](repeating: 77, count: 1_000_000), width: 1_000_000, height: 1, colorType: PNG_COLOR_TYPE_GRAY, to: path)
        let bytes = try ImageDecoder.read(path)
        XCTAssertLessThan(bytes.count, 2000)
        for image in try pipelines(bytes, path: path) {
            XCTAssertEqual([image.width, image.height, image.channels], [224, 224, 1])
            XCTAssertEqual(Set(image.pixels), [77])
        }
    }

    func testJPEGsOfExtremeAspectRatioGiveTheCropWithoutTheHugeResize() throws {
        for (width, height) in [(65500, 1), (1, 65500), (65500, 3)] {
            let bytes = DataFixtures.jpeg(DataFixtures.gradient(width: width, height: height))
            for image in try pipelines(bytes, path: "\(width)x\(height).jpg") {
                XCTAssertEqual([image.width, image.height], [224, 224], "\(width)x\(height)")
            }
        }
        // A 16x16 JPEG whose frame header claims 65500x1: decoded as far as the data goes, or
        // refused as corrupt; never the 16768000x256 resize.
        var claim = DataFixtures.jpeg(DataFixtures.pattern(width: 16, height: 16))
        let sof = (0..<claim.count - 1).first { claim[$0] == 0xFF && claim[$0 + 1] == 0xC0 }!
        claim[(sof + 5)...(sof + 8)] = [0x00, 0x01, 0xFF, 0xDC]
        do {
            for image in try pipelines(claim, path: "claim.jpg") { XCTAssertEqual([image.width, image.height], [224, 224]) }
        } catch let error as DataError {
            guard case .corrupt("claim.jpg", "JPEG", _) = error else { return XCTFail("\(error)") }
        }
    }

    func testMaxImagePixelsRaisesOrLowersTheLimitWithinItsRange() throws {
        let bytes = try ImageEncoder.png(Image(width: 40, height: 30, channels: 3, filledWith: 1))
        XCTAssertThrowsError(try ImageDecoder(maxPixels: 1000).decode(bytes, path: "p.png")) { error in
            XCTAssertEqual(error as? DataError, .tooLarge(path: "p.png", width: 40, height: 30, limit: 1000))
        }
        XCTAssertEqual(try ImageDecoder(maxPixels: 1200).decode(bytes, path: "p.png").width, 40)
        for bad in [0, -1, Limits.maxImagePixels + 1, Int.max] {
            XCTAssertThrowsError(try ImageDecoder.checkMaxPixels(bad)) { error in
                XCTAssertTrue("\(error)".hasPrefix("--max-image-pixels must be an integer from 1 to \(Limits.maxImagePixels)"), "\(error)")
            }
            var options = TrainingOptions(backbone: "b", data: "d", output: "o")
            options.maxImagePixels = bad
            XCTAssertThrowsError(try options.validate()) { error in
                XCTAssertEqual((error as? TrainingOptions.Invalid)?.option, "--max-image-pixels")
            }
        }
        XCTAssertNoThrow(try ImageDecoder.checkMaxPixels(Limits.maxImagePixels))
        XCTAssertEqual(ImageDecoder().maxPixels, Limits.defaultImagePixels)
        XCTAssertEqual(TrainingOptions(backbone: "b", data: "d", output: "o").maxImagePixels, Limits.defaultImagePixels)
    }
}
