import Foundation
import XCTest
@testable import FineTuneCore

/// Test-time augmentation (`ImageClassifier.testTimeAugmentation`, `FlipAugmentation`): an image's
/// probabilities are the mean of those of the image and of its mirror image, its logits the mean
/// of their logits; `ModelEvaluation` reports the augmented result next to the plain one.
final class ClassifierTestTimeAugmentationTests: XCTestCase {
    /// The fixture's PNGs whose resized width less the 64 px crop is even (80x60 -> 96x72,
    /// 64x64 -> 72x72, 100x130 -> 72x94), so the centre crop of the mirrored file is the mirror
    /// of the file's centre crop.
    static let symmetricImages = [0, 1, 2].map { ClassifierFixture.images[$0] }

    func testAugmentedProbabilitiesAreTheMeanOfTheImageAndItsMirror() throws {
        let plain = try ClassifierFixture.classifier()
        let augmented = try ImageClassifier(contentsOf: ClassifierFixture.model, catalog: BuiltInBackboneTests.catalog,
                                            testTimeAugmentation: true)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("finetune-tta-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for path in Self.symmetricImages {
            XCTAssertTrue(path.hasSuffix(".png"), path)
            let mirrorPath = dir.appendingPathComponent("mirror.png").path
            try Data(ImageEncoder.png(Self.mirrored(try ImageDecoder().decode(file: path).rgb()))).write(to: URL(fileURLWithPath: mirrorPath))
            let image = try plain.classify(imageAt: path, topK: 3)
            let mirror = try plain.classify(imageAt: mirrorPath, topK: 3)
            let both = try augmented.classify(imageAt: path, topK: 3)
            XCTAssertNotEqual(image.top[0].probability, mirror.top[0].probability, accuracy: 1e-4, "\(path): the mirror image classifies differently")
            for c in ClassifierFixture.classes.indices {
                XCTAssertEqual(both.probabilities[c], (image.probabilities[c] + mirror.probabilities[c]) / 2, accuracy: 1e-6, path)
                XCTAssertEqual(both.logits[c], (image.logits[c] + mirror.logits[c]) / 2, accuracy: 1e-5, path)
            }
            XCTAssertEqual(both.top.map(\.probability), both.probabilities.sorted(by: >), path)
            XCTAssertEqual(both.image, path)
        }
        // Pixels in a batch go the same way: each image gets what it gets alone (within the
        // rounding of a batched forward pass, as without augmentation).
        let inputs: [ImageInput] = try Self.symmetricImages.map { .pixels(try ClassifierFixture.pixels(of: $0), name: $0) }
        for (input, result) in zip(inputs, augmented.classify(inputs)) {
            let alone = try augmented.classify(imageAt: input.name)
            for (p, q) in zip(try result.get().probabilities, alone.probabilities) { XCTAssertEqual(p, q, accuracy: 1e-5, input.name) }
        }
    }

    /// One pass gives both results: the plain one is the evaluation without augmentation, and the
    /// augmented one counts and scores what `classify` with augmentation gives each image.
    func testEvaluationReportsTheAugmentedResultNextToThePlainOne() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("finetune-tta-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        var labelled: [(path: String, truth: Int)] = []
        for (i, path) in ClassifierFixture.images.enumerated() {
            for truth in [i % 3, (i + 1) % 3] {
                let folder = dir.appendingPathComponent(ClassifierFixture.classes[truth])
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
                let copy = folder.appendingPathComponent((path as NSString).lastPathComponent).path
                try FileManager.default.copyItem(atPath: path, toPath: copy)
                labelled.append((copy, truth))
            }
        }
        let augmented = try ImageClassifier(contentsOf: ClassifierFixture.model, catalog: BuiltInBackboneTests.catalog,
                                            batchSize: 3, testTimeAugmentation: true)
        let both = try ModelEvaluation.run(classifier: augmented, data: dir.path)
        let plain = try ModelEvaluation.run(classifier: try ClassifierFixture.classifier(batchSize: 3), data: dir.path)
        XCTAssertNil(plain.report.tta)
        XCTAssertNil(plain.augmentedConfusion)
        XCTAssertEqual(both.report.accuracy, plain.report.accuracy)
        XCTAssertEqual(both.report.loss, plain.report.loss, accuracy: 1e-6)
        XCTAssertEqual(both.report.confusion_matrix, plain.report.confusion_matrix)
        let tta = try XCTUnwrap(both.report.tta)
        var counts = [[Int]](repeating: [0, 0, 0], count: 3)
        var loss = 0.0
        for (path, truth) in labelled {
            let c = try augmented.classify(imageAt: path)
            counts[truth][try XCTUnwrap(ClassifierFixture.classes.firstIndex(of: c.top[0].class))] += 1
            loss -= log(c.probabilities[truth])
        }
        XCTAssertEqual(tta.confusion_matrix, counts)
        XCTAssertEqual(both.augmentedConfusion?.counts, counts)
        XCTAssertEqual(tta.loss, loss / Double(labelled.count), accuracy: 1e-6)
        XCTAssertNotEqual(tta.loss, plain.report.loss, accuracy: 1e-6, "augmentation changes the result")
        XCTAssertEqual(tta.accuracy, Double((0..<3).map { counts[$0][$0] }.reduce(0, +)) / Double(labelled.count))
        XCTAssertEqual(tta.per_class.map(\.support), counts.map { $0.reduce(0, +) })
    }

    /// The image mirrored left to right, pixel by pixel.
    static func mirrored(_ image: Image) -> Image {
        var pixels = image.pixels
        for y in 0..<image.height {
            for x in 0..<image.width {
                for c in 0..<3 { pixels[(y * image.width + x) * 3 + c] = image.pixels[(y * image.width + image.width - 1 - x) * 3 + c] }
            }
        }
        return Image(width: image.width, height: image.height, channels: 3, pixels: pixels)
    }
}
