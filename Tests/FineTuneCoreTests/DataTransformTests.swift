// Transforms: compared with PIL + torchvision outputs (Fixtures/data-reference.json, written by
// tools/data_reference.py), plus the properties issue 5 lists: crop scale and ratio bounds,
// exact flips, centre-crop offsets, identity resizes, and determinism.

import Foundation
import XCTest
@testable import FineTuneCore

final class DataTransformTests: XCTestCase {
    /// The reference outputs, by case name.
    static let reference: [String: Any] = {
        let url = Bundle.module.url(forResource: "Fixtures/data-reference", withExtension: "json")!
        return try! JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
    }()

    func expected(_ name: String) -> Image {
        let record = DataTransformTests.reference[name] as! [String: Any]
        return Image(width: record["width"] as! Int, height: record["height"] as! Int,
                     channels: record["channels"] as! Int, pixels: (record["pixels"] as! [Int]).map { UInt8($0) })
    }

    let rgb = DataFixtures.pattern(width: 29, height: 21)
    let small = DataFixtures.pattern(width: 12, height: 9)

    // MARK: against PIL + torchvision

    func testResizeIsBitExactWithPIL() {
        XCTAssertEqual(rgb.resized(width: 12, height: 9), expected("resize_down"))
        XCTAssertEqual(DataFixtures.pattern(width: 13, height: 9).resized(width: 20, height: 15), expected("resize_up"))
        XCTAssertEqual(rgb.resized(width: 9, height: 7, from: .init(x: 5, y: 3, width: 15, height: 12)), expected("resize_crop"))
        XCTAssertEqual(DataFixtures.pattern(width: 29, height: 21, channels: 1).resized(width: 8, height: 14), expected("resize_gray"))
    }

    /// Bicubic (torchvision's EfficientNet evaluation): Pillow's Keys cubic, a = -0.5, whose
    /// negative lobes overshoot and are clamped to 0...255.
    func testBicubicResizeIsBitExactWithPIL() {
        XCTAssertEqual(rgb.resized(width: 12, height: 9, interpolation: .bicubic), expected("bicubic_down"))
        XCTAssertEqual(DataFixtures.pattern(width: 13, height: 9).resized(width: 20, height: 15, interpolation: .bicubic), expected("bicubic_up"))
        XCTAssertEqual(rgb.resized(width: 9, height: 7, from: .init(x: 5, y: 3, width: 15, height: 12), interpolation: .bicubic),
                       expected("bicubic_crop"))
        XCTAssertEqual(DataFixtures.pattern(width: 29, height: 21, channels: 1).resized(width: 8, height: 14, interpolation: .bicubic),
                       expected("bicubic_gray"))
        XCTAssertEqual(Resize(size: 12).apply(rgb), expected("resize_shorter_12"))
    }

    func testCenterCropMatchesTorchvision() {
        XCTAssertEqual(CenterCrop(size: 12).apply(rgb), expected("center_crop_12"))
        XCTAssertEqual(CenterCrop(size: 8).apply(DataFixtures.pattern(width: 7, height: 4)), expected("center_crop_pad_8"))
        // torchvision: int(round((h - th) / 2.0)), Python rounding half to even.
        XCTAssertEqual(CenterCrop.offset(length: 256, crop: 224), 16)
        XCTAssertEqual(CenterCrop.offset(length: 5, crop: 2), 2)     // round(1.5) = 2
        XCTAssertEqual(CenterCrop.offset(length: 7, crop: 2), 2)     // round(2.5) = 2
        XCTAssertEqual(CenterCrop.offset(length: 9, crop: 2), 4)     // round(3.5) = 4
    }

    func testColorAdjustmentsMatchPIL() {
        XCTAssertEqual(ColorJitter.adjustBrightness(small, factor: 1.3), expected("brightness_1.3"))
        XCTAssertEqual(ColorJitter.adjustContrast(small, factor: 0.6), expected("contrast_0.6"))
        XCTAssertEqual(ColorJitter.adjustSaturation(small, factor: 1.7), expected("saturation_1.7"))
    }

    func testRotationAndShearMatchPIL() {
        // Exact: PIL's rotation matrix and its 16.16 fixed-point affine loop (Image+Affine.swift).
        XCTAssertEqual(small.rotated(degrees: 30), expected("rotate_30"))
        XCTAssertEqual(small.warped(AffineMatrix.inverse(width: 12, height: 9, angle: 0, shearX: 20)), expected("shear_20"))
        var random = SeededRandom(seed: 1)
        XCTAssertEqual(RandomRotation(degrees: 0).apply(small, using: &random), small)
        XCTAssertEqual(RandomShear(degrees: 0).apply(small, using: &random), small)
    }

    func testNormalizeMatchesToTensorThenNormalize() {
        let want = DataTransformTests.reference["normalize"] as! [Double]
        let got = Normalize.imagenet(DataFixtures.pattern(width: 4, height: 3))
        XCTAssertEqual(got.count, want.count)
        for (a, b) in zip(got, want) { XCTAssertEqual(Double(a), b, accuracy: 1e-6) }
        // Gray becomes three equal-valued channels, normalised per channel.
        let gray = Normalize.imagenet(Image(width: 1, height: 1, channels: 1, pixels: [128]))
        XCTAssertEqual(gray, Normalize.imagenet(Image(width: 1, height: 1, channels: 3, pixels: [128, 128, 128])))
    }

    // MARK: properties

    func testRandomResizedCropStaysWithinScaleAndRatioBounds() {
        let crop = RandomResizedCrop(size: 224, scale: 0.25...0.9, ratio: 0.6...1.5)
        for sample in 0..<2000 {
            var random = SeededRandom(seed: 7, epoch: 0, sample: sample)
            let (w, h) = sample % 2 == 0 ? (500, 375) : (120, 400)
            let box = crop.box(width: w, height: h, using: &random)
            XCTAssertTrue(box.x >= 0 && box.y >= 0 && box.x + box.width <= w && box.y + box.height <= h, "\(box)")
            // Rounding to whole pixels moves area and ratio by at most half a pixel per side.
            let area = Double(box.width * box.height) / Double(w * h)
            let slack = (Double(box.width + box.height) * 0.5 + 0.25) / Double(w * h)
            let ratio = Double(box.width) / Double(box.height)
            let ratioSlack = (0.5 / Double(box.height)) * (1 + ratio)
            // (The 120x400 image often falls back to the central 120x200 crop: area 0.5, ratio 0.6.)
            XCTAssertTrue(area >= 0.25 - slack && area <= 0.9 + slack, "area \(area) for \(box) in \(w)x\(h)")
            XCTAssertTrue(ratio >= 0.6 - ratioSlack && ratio <= 1.5 + ratioSlack, "ratio \(ratio) for \(box)")
        }
        var random = SeededRandom(seed: 3)
        let out = crop.apply(DataFixtures.pattern(width: 300, height: 200), using: &random)
        XCTAssertEqual([out.width, out.height, out.channels], [224, 224, 3])
    }

    func testFlipsAreExact() {
        let image = DataFixtures.pattern(width: 5, height: 3)
        let h = image.flippedHorizontally(), v = image.flippedVertically()
        for y in 0..<3 {
            for x in 0..<5 {
                XCTAssertEqual(h[x, y], image[4 - x, y])
                XCTAssertEqual(v[x, y], image[x, 2 - y])
            }
        }
        XCTAssertEqual(h.flippedHorizontally(), image)
        var random = SeededRandom(seed: 0)
        XCTAssertEqual(RandomHorizontalFlip(probability: 1).apply(image, using: &random), h)
        XCTAssertEqual(RandomVerticalFlip(probability: 1).apply(image, using: &random), v)
        XCTAssertEqual(RandomHorizontalFlip(probability: 0).apply(image, using: &random), image)
    }

    func testResizingToTheSameSizeIsTheIdentity() {
        for channels in [1, 3] {
            let image = DataFixtures.pattern(width: 31, height: 17, channels: channels)
            XCTAssertEqual(image.resized(width: 31, height: 17), image)
            XCTAssertEqual(Resize(size: 17).apply(image), image)
            XCTAssertEqual(CenterCrop(width: 31, height: 17).apply(image), image)
        }
        // Evaluation of an image already at the crop size is plain normalisation.
        let image = DataFixtures.pattern(width: 32, height: 32)
        let bytes = try! ImageEncoder.png(image)
        var out = [Float](repeating: 0, count: 32 * 32 * 3)
        var random = SeededRandom(seed: 0)
        try! EvalTransform(resize: 32, crop: 32).process(bytes, path: "same.png", decoder: ImageDecoder(),
                                                        random: &random, into: &out)
        XCTAssertEqual(out, Normalize.imagenet(image))
    }

    func testAWindowOfAResizeIsExactlyThatCropOfTheWholeResize() {
        // What lets evaluation resize a 65500x1 image: any window, computed alone, equals the
        // same crop of the whole result, upscaling or downscaling, with or without a source box.
        var random = SeededRandom(seed: 7)
        for trial in 0..<300 {
            let channels = trial % 2 == 0 ? 3 : 1
            let image = DataFixtures.pattern(width: random.integer(1, 40), height: random.integer(1, 40), channels: channels)
            let bx = random.integer(0, image.width - 1), by = random.integer(0, image.height - 1)
            let box = Image.Box(x: bx, y: by, width: random.integer(1, image.width - bx), height: random.integer(1, image.height - by))
            let w = random.integer(1, 60), h = random.integer(1, 60)
            let wx = random.integer(0, w - 1), wy = random.integer(0, h - 1)
            let window = Image.Box(x: wx, y: wy, width: random.integer(1, w - wx), height: random.integer(1, h - wy))
            let filter: Interpolation = trial % 3 == 0 ? .bicubic : .bilinear
            XCTAssertEqual(image.resized(width: w, height: h, from: box, window: window, interpolation: filter),
                           image.resized(width: w, height: h, from: box, interpolation: filter)
                               .cropped(x: wx, y: wy, width: window.width, height: window.height),
                           "\(image.width)x\(image.height) box \(box) -> \(w)x\(h) window \(window) \(filter)")
        }
    }

    func testEvaluationIsResizeThenCenterCropBitForBit() throws {
        // EvalTransform resizes only the crop's window; the result is torchvision's Resize then
        // CenterCrop, also when the crop is larger than the resize (zero padding) on either side.
        for (width, height, resize, crop) in [(29, 21, 12, 10), (21, 29, 16, 16), (200, 3, 12, 8), (3, 200, 12, 8),
                                              (29, 21, 8, 12), (40, 9, 6, 10), (17, 17, 17, 17)] {
            let image = DataFixtures.pattern(width: width, height: height)
            var transform = EvalTransform(resize: resize, crop: crop)
            transform.dctScaling = false
            XCTAssertEqual(try transform.image(ImageEncoder.png(image), path: "p.png", decoder: ImageDecoder()),
                           CenterCrop(size: crop).apply(Resize(size: resize).apply(image)), "\(width)x\(height) \(resize) \(crop)")
        }
    }

    func testAugmentationIsDeterministicPerSeedEpochAndSample() throws {
        let bytes = try ImageEncoder.jpeg(DataFixtures.gradient(width: 120, height: 90), quality: 90)
        let transform = TrainTransform(
            crop: RandomResizedCrop(size: 48),
            augmentations: [RandomHorizontalFlip(), RandomVerticalFlip(), RandomRotation(degrees: 20),
                            RandomShear(degrees: 10), ColorJitter(brightness: 0.4, contrast: 0.4, saturation: 0.4)])
        func run(seed: UInt64, epoch: Int, sample: Int) throws -> [Float] {
            var out = [Float](repeating: 0, count: 48 * 48 * 3)
            var random = SeededRandom(seed: seed, epoch: epoch, sample: sample)
            try transform.process(bytes, path: "x.jpg", decoder: ImageDecoder(), random: &random, into: &out)
            return out
        }
        XCTAssertEqual(try run(seed: 5, epoch: 2, sample: 9), try run(seed: 5, epoch: 2, sample: 9))
        XCTAssertNotEqual(try run(seed: 5, epoch: 2, sample: 9), try run(seed: 5, epoch: 3, sample: 9))
        XCTAssertNotEqual(try run(seed: 5, epoch: 2, sample: 9), try run(seed: 6, epoch: 2, sample: 9))
        XCTAssertNotEqual(try run(seed: 5, epoch: 2, sample: 9), try run(seed: 5, epoch: 2, sample: 10))
    }

    func testDCTDownscaledTrainingCropIsCloseToFullDecode() throws {
        // A crop needing a quarter of the image's resolution decodes at 1/2 or less, with little change.
        let photo = DataFixtures.gradient(width: 800, height: 600)
        let bytes = try ImageEncoder.jpeg(photo, quality: 95)
        let crop = RandomResizedCrop(size: 100, scale: 0.9...1.0)
        var transform = TrainTransform(crop: crop, augmentations: [])
        var a = SeededRandom(seed: 1), b = SeededRandom(seed: 1), c = SeededRandom(seed: 1)
        let fast = try transform.image(bytes, path: "p.jpg", decoder: ImageDecoder(), random: &a)
        let full = crop.apply(try ImageDecoder().decode(bytes, path: "p.jpg"), using: &b)
        XCTAssertNotEqual(fast, full, "the fast path decoded at a smaller scale")
        let worst = zip(fast.pixels, full.pixels).map { abs(Int($0) - Int($1)) }.max()!
        XCTAssertLessThanOrEqual(worst, 6)
        transform.dctScaling = false
        XCTAssertEqual(try transform.image(bytes, path: "p.jpg", decoder: ImageDecoder(), random: &c), full)
    }
}
