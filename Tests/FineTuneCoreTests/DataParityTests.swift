// End to end against PIL + torchvision: a JPEG written by PIL (Fixtures/data-photo.jpg) decodes
// to PIL's pixels, and the evaluation pipeline gives torchvision's
// Resize(16) -> CenterCrop(12) -> ToTensor -> Normalize floats, bilinear and bicubic
// (tools/data_reference.py).

import Foundation
import XCTest
@testable import FineTuneCore

final class DataParityTests: XCTestCase {
    static let reference: [String: Any] = {
        let url = Bundle.module.url(forResource: "Fixtures/data-decode-reference", withExtension: "json")!
        return try! JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
    }()

    let photo = try! ImageDecoder.read(Bundle.module.url(forResource: "Fixtures/data-photo", withExtension: "jpg")!.path)

    func testJPEGDecodesToPILsPixels() throws {
        let record = DataParityTests.reference["photo"] as! [String: Any]
        let image = try ImageDecoder().decode(photo, path: "data-photo.jpg")
        XCTAssertEqual([image.width, image.height, image.channels],
                       [record["width"] as! Int, record["height"] as! Int, record["channels"] as! Int])
        XCTAssertEqual(image.pixels, (record["pixels"] as! [Int]).map { UInt8($0) })
    }

    func testEvaluationPipelineMatchesTorchvision() throws {
        for (key, filter) in [("eval_16_12", Interpolation.bilinear), ("eval_16_12_bicubic", .bicubic)] {
            let want = DataParityTests.reference[key] as! [Double]
            var transform = EvalTransform(resize: 16, crop: 12, interpolation: filter)
            transform.dctScaling = false
            var got = [Float](repeating: 0, count: 12 * 12 * 3)
            var random = SeededRandom(seed: 0)
            try transform.process(photo, path: "data-photo.jpg", decoder: ImageDecoder(), random: &random, into: &got)
            XCTAssertEqual(got.count, want.count)
            for (a, b) in zip(got, want) { XCTAssertEqual(Double(a), b, accuracy: 2e-6, key) }
        }
    }
}
