import Foundation
import XCTest
@testable import FineTuneCore

/// `ImageClassifier` given a file, the file's bytes in memory and the decoded pixels of the same
/// image: the same preprocessing, so the same logits; batches give what singles give; bad bytes
/// and wrong pixel buffers are errors that say what is wrong.
final class ClassifierInputTests: XCTestCase {
    func testFileDataAndPixelsGiveTheSameProbabilities() throws {
        let classifier = try ClassifierFixture.classifier()
        XCTAssertEqual(classifier.classes, ClassifierFixture.classes)
        for path in ClassifierFixture.images {
            let fromFile = try classifier.classify(imageAt: path)
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            let fromData = try classifier.classify(imageData: data, name: "upload.bin")
            let fromPixels = try classifier.classify(pixels: ClassifierFixture.pixels(of: path), name: "camera")
            assertSameResult(fromFile, fromData, path)
            assertSameResult(fromFile, fromPixels, path)
            XCTAssertEqual(fromFile.probabilities, fromPixels.probabilities, path)
            XCTAssertEqual(fromFile.image, path)
            XCTAssertEqual(fromData.image, "upload.bin")
            XCTAssertEqual(fromPixels.image, "camera")
            XCTAssertEqual(fromFile.probabilities.reduce(0, +), 1, accuracy: 1e-9)
        }
        // The images differ, and so do their results: the comparison above can fail.
        let logits = try ClassifierFixture.images.map { try classifier.classify(imageAt: $0).logits }
        XCTAssertEqual(Set(logits.map { $0.description }).count, logits.count, "\(logits)")
    }

    /// The model file's preprocessing, not a fixed one: pixels resized and cropped by hand as the
    /// model file says (72 px shorter side, 64 px centre crop, its mean and std) give the same input.
    func testPixelsArePreprocessedAsTheModelFileSays() throws {
        let classifier = try ClassifierFixture.classifier()
        let transform = classifier.transform
        XCTAssertEqual(transform.resize.size, 72)
        XCTAssertEqual(transform.height, 64)
        XCTAssertEqual(transform.normalize.mean, classifier.file.mean)
        XCTAssertEqual(transform.interpolation, classifier.file.interpolation)
        let path = ClassifierFixture.images[2]  // 100x130
        let bytes = try ImageDecoder.read(path)
        XCTAssertEqual(transform.image(decoded: try ImageDecoder().decode(bytes, path: path)),
                       try transform.image(bytes, path: path, decoder: ImageDecoder()))
    }

    func testABatchGivesEachImageWhatItGetsAlone() throws {
        let single = try ClassifierFixture.classifier(batchSize: 1)
        let batched = try ClassifierFixture.classifier(batchSize: 3)
        let paths = ClassifierFixture.images
        var inputs: [ImageInput] = paths.map { .file($0) }
        inputs.insert(.encoded(Data("not an image".utf8), name: "notes.txt"), at: 2)
        inputs += try paths.map { .pixels(try ClassifierFixture.pixels(of: $0), name: $0 + " (pixels)") }
        inputs += try paths.map { .encoded(try Data(contentsOf: URL(fileURLWithPath: $0)), name: $0 + " (data)") }
        let results = batched.classify(inputs, topK: 2)
        XCTAssertEqual(results.count, inputs.count)
        for (input, result) in zip(inputs, results) {
            if input.name == "notes.txt" {
                XCTAssertThrowsError(try result.get()) { XCTAssertTrue("\($0)".contains("notes.txt: not a JPEG or PNG"), "\($0)") }
                continue
            }
            let alone = try single.classify([input], topK: 2)[0].get()
            let got = try result.get()
            assertSameResult(got, alone, accuracy: 1e-5, input.name)
            XCTAssertEqual(got.image, input.name)
            XCTAssertEqual(got.top.count, 2)
        }
        // The file API in batches, as predict uses it.
        let files = batched.classify(imagesAt: paths)
        for (path, result) in zip(paths, files) {
            assertSameResult(try result.get(), try single.classify(imageAt: path), accuracy: 1e-5, path)
        }
        XCTAssertTrue(batched.classify([]).isEmpty)
    }

    /// Hostile bytes in memory: each refused with a `DataError` that names the data as given.
    func testBadImageDataIsAClearError() throws {
        let classifier = try ClassifierFixture.classifier()
        let png = try Data(contentsOf: URL(fileURLWithPath: ClassifierFixture.images[0]))
        let jpeg = try Data(contentsOf: URL(fileURLWithPath: ClassifierFixture.images.first { $0.hasSuffix(".jpg") }!))
        let bomb = Data(DataFixtures.claiming(width: 100_000, height: 100_000, png: [UInt8](png)))
        let cases: [(Data, [String])] = [
            (Data(), ["empty"]),
            (Data("hello, this is text".utf8), ["not a JPEG or PNG", "text"]),
            (Data("GIF89a".utf8) + Data(count: 20), ["GIF"]),
            (png.prefix(40), ["cannot decode this PNG"]),
            (jpeg.prefix(jpeg.count / 2), ["JPEG"]),
            (Data([0xFF, 0xD8, 0xFF]) + Data(repeating: 0x41, count: 100), ["JPEG"]),
            (bomb, ["100000x100000", "over the limit"]),
        ]
        for (data, mentions) in cases {
            XCTAssertThrowsError(try classifier.classify(imageData: data, name: "upload-7")) { error in
                XCTAssertTrue(error is DataError, "\(type(of: error)): \(error)")
                let message = "\(error)"
                XCTAssertTrue(message.hasPrefix("upload-7: "), message)
                for m in mentions { XCTAssertTrue(message.contains(m), "'\(m)' in \(message)") }
            }
        }
        // A truncated JPEG may decode with its missing rows gray, as a file does, or be refused; either way as the file is.
        let cut = jpeg.prefix(jpeg.count - 40)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("finetune-cut-\(UUID().uuidString).jpg")
        defer { try? FileManager.default.removeItem(at: path) }
        try cut.write(to: path)
        switch (Result { try classifier.classify(imageAt: path.path) }, Result { try classifier.classify(imageData: cut) }) {
        case (.success(let a), .success(let b)): assertSameResult(a, b)
        case (.failure, .failure): break
        case let (a, b): XCTFail("file \(a), data \(b)")
        }
    }

    func testWrongPixelBufferSizesAreClearErrors() throws {
        func refusal(_ make: @autoclosure () throws -> RGBPixels) -> String {
            do { _ = try make(); return "accepted" } catch { return "\(error)" }
        }
        XCTAssertNoThrow(try RGBPixels(width: 4, height: 3, bytes: [UInt8](repeating: 0, count: 36)))
        let short = refusal(try RGBPixels(width: 4, height: 3, bytes: [UInt8](repeating: 0, count: 35)))
        XCTAssertTrue(short.contains("4x3 RGB needs 36 bytes") && short.contains("got 35"), short)
        let rgba = refusal(try RGBPixels(width: 4, height: 3, data: Data(count: 48)))
        XCTAssertTrue(rgba.contains("needs 36 bytes") && rgba.contains("got 48"), rgba)
        for (w, h) in [(0, 3), (3, 0), (-1, -1), (Int.min, 1)] {
            let message = refusal(try RGBPixels(width: w, height: h, bytes: []))
            XCTAssertTrue(message.contains("at least 1"), message)
        }
        for (w, h) in [(Int.max, 2), (1 << 31, 1 << 31), (1 << 16, 1 << 15)] {
            let message = refusal(try RGBPixels(width: w, height: h, bytes: [1, 2, 3]))
            XCTAssertTrue(message.contains("over the limit of \(Limits.maxImagePixels) pixels"), message)
        }
        XCTAssertTrue(refusal(try RGBPixels(width: 1, height: 1, bytes: [1, 2, 3])) == "accepted")
        // Tiny and extreme shapes are resized and cropped like files, never refused later.
        let classifier = try ClassifierFixture.classifier()
        for (w, h) in [(1, 1), (1, 500), (700, 2)] {
            let pixels = try RGBPixels(width: w, height: h, bytes: [UInt8](repeating: 128, count: w * h * 3))
            XCTAssertEqual(try classifier.classify(pixels: pixels).probabilities.count, 3)
        }
    }
}
