import Foundation
import XCTest
@testable import FineTuneCore

/// A small model file (mobilenet-v2 at 64 px, randomly initialised, 3 classes) and a few images
/// of different sizes as PNG and JPEG files, for the `ImageClassifier` tests.
enum ClassifierFixture {
    static let classes = ["red", "green", "blue"]

    /// Files: PNGs and a JPEG small enough to decode at full size (under twice the 72 px resize),
    /// so decoding it in memory gives exactly the pixels the file path resizes.
    static let folder: URL = {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("finetune-classifier-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let backbone = try! BuiltInBackboneTests.catalog.backbone(named: "mobilenet-v2")
        let model = try! Model(graph: backbone.makeClassifier(classes: classes.count, inputSize: 64))
        model.initialize(seed: 3)
        var file = ModelFile(backbone: backbone, classes: classes, provenance: Provenance(command: "train"),
                             tensors: model.namedTensors())
        file.inputSize = 64
        file.evalResize = 72
        try! file.write(to: dir.appendingPathComponent("model.safetensors"))
        for (i, (w, h)) in [(80, 60), (64, 64), (100, 130), (75, 90), (120, 70)].enumerated() {
            let image = pattern(width: w, height: h, seed: i)
            let bytes = i == 3 ? try! ImageEncoder.jpeg(image) : try! ImageEncoder.png(image)
            try! Data(bytes).write(to: dir.appendingPathComponent("image\(i).\(i == 3 ? "jpg" : "png")"))
        }
        return dir
    }()

    static var model: URL { folder.appendingPathComponent("model.safetensors") }

    /// The image files, sorted by name.
    static var images: [String] {
        try! FileManager.default.contentsOfDirectory(atPath: folder.path).filter { !$0.hasSuffix(".safetensors") }.sorted()
            .map { folder.appendingPathComponent($0).path }
    }

    static func classifier(batchSize: Int = 8, concurrency: Int = 4) throws -> ImageClassifier {
        try ImageClassifier(contentsOf: model, catalog: BuiltInBackboneTests.catalog, batchSize: batchSize, concurrency: concurrency)
    }

    /// Colour gradients and stripes that differ with `seed`, so each image gets its own logits.
    static func pattern(width: Int, height: Int, seed: Int) -> Image {
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                let i = (y * width + x) * 3
                pixels[i] = UInt8((x * 255 / width + seed * 40) % 256)
                pixels[i + 1] = UInt8((y * 255 / height) % 256)
                pixels[i + 2] = ((x / (3 + seed)) + (y / 5)) % 2 == 0 ? 230 : 20
            }
        }
        return Image(width: width, height: height, channels: 3, pixels: pixels)
    }

    /// The file's pixels as an app that decoded it would hand them over.
    static func pixels(of path: String) throws -> RGBPixels {
        let image = try ImageDecoder().decode(file: path).rgb()
        return try RGBPixels(width: image.width, height: image.height, bytes: image.pixels)
    }
}

/// Both results have the same logits (within `accuracy`) and the same best class.
func assertSameResult(_ a: Classification, _ b: Classification, accuracy: Float = 0,
                      _ message: String = "", file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.logits.count, b.logits.count, message, file: file, line: line)
    for (x, y) in zip(a.logits, b.logits) {
        XCTAssertEqual(x, y, accuracy: accuracy, "\(message): logits \(a.logits) vs \(b.logits)", file: file, line: line)
    }
    XCTAssertEqual(a.top.map(\.class), b.top.map(\.class), message, file: file, line: line)
}
