// TrivialAugmentWide, RandAugment and RandomErasing: each op compared with torchvision's
// `_apply_op` on PIL images (Fixtures/augment-reference.json, written by
// tools/make_augment_fixtures.py), the policies' magnitude bins with torchvision's, and the
// random draws' properties (op, bin and sign ranges, the erasing box's bounds, scale and ratio).
//
// Tolerance: none. Every op is bit-exact with PIL, the geometric ones included: the shears and
// rotations reproduce PIL's 16.16 fixed-point affine loop, its rotation matrix (cos and sin
// rounded to 15 decimals) and its exact transposes for right angles, and translations PIL's
// axis-aligned loop. The erased floats match torchvision's to 1e-6 (the fixture keeps 6 decimals).

import Foundation
import XCTest
@testable import FineTuneCore

final class DataAutoAugmentTests: XCTestCase {
    static let reference: [String: Any] = {
        let url = Bundle.module.url(forResource: "Fixtures/augment-reference", withExtension: "json")!
        return try! JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
    }()

    static func image(_ record: Any?) -> Image {
        let r = record as! [String: Any], hex = Array((r["hex"] as! String).utf8)
        let pixels = stride(from: 0, to: hex.count, by: 2).map { UInt8(String(decoding: hex[$0..<$0 + 2], as: UTF8.self), radix: 16)! }
        return Image(width: r["width"] as! Int, height: r["height"] as! Int, channels: r["channels"] as! Int, pixels: pixels)
    }

    static func input(_ name: String) -> Image {
        image((reference["inputs"] as! [String: Any])[name])
    }

    static var cases: [(input: String, op: AutoAugmentOp, magnitude: Double, output: Image)] {
        (reference["cases"] as! [[String: Any]]).map { c in
            (c["input"] as! String, AutoAugmentOp(rawValue: c["op"] as! String)!, c["magnitude"] as! Double, image(c["output"]))
        }
    }

    // MARK: against torchvision

    func testOpListsAndMagnitudeBinsAreTorchvisionsBitForBit() {
        let spaces = DataAutoAugmentTests.reference["spaces"] as! [String: Any]
        let size = spaces["size"] as! [Int]
        for (name, space) in [("trivial-wide", AugmentationSpace.trivialAugmentWide()),
                              ("rand-augment", AugmentationSpace.randAugment(width: size[1], height: size[0]))] {
            let want = spaces[name] as! [[String: Any]]
            XCTAssertEqual(space.entries.map(\.op.rawValue), want.map { $0["op"] as! String }, name)
            for (entry, w) in zip(space.entries, want) {
                XCTAssertEqual(entry.signed, w["signed"] as! Bool, "\(name) \(entry.op)")
                XCTAssertEqual(entry.bins, (w["bins"] as! [Double]).map { Float($0) }, "\(name) \(entry.op)")
            }
        }
    }

    func testEveryOpMatchesTorchvisionExactly() {
        let cases = DataAutoAugmentTests.cases
        XCTAssertGreaterThan(cases.count, 60)
        XCTAssertEqual(Set(cases.map(\.op)), Set(AutoAugmentOp.allCases))
        for c in cases {
            let got = c.op.apply(DataAutoAugmentTests.input(c.input), magnitude: c.magnitude)
            XCTAssertEqual(got, c.output, "\(c.op.rawValue) \(c.magnitude) on \(c.input): "
                           + "\(zip(got.pixels, c.output.pixels).filter { $0 != $1 }.count) bytes differ")
        }
    }

    /// The ops the policies draw change the image, so the comparisons above compare something.
    func testTheComparedOpsChangeTheImage() {
        for c in DataAutoAugmentTests.cases where c.op != .identity && c.input == "rgb" && c.magnitude != 0
            && !(c.op == .posterize && c.magnitude == 8) && !(c.op == .solarize && c.magnitude >= 255) {
            XCTAssertNotEqual(c.output, DataAutoAugmentTests.input("rgb"), "\(c.op.rawValue) \(c.magnitude)")
        }
    }

    func testRandomErasingMatchesTorchvisionsErase() {
        let e = DataAutoAugmentTests.reference["erasing"] as! [String: Any]
        let image = DataAutoAugmentTests.input("rgb")
        var floats = Normalize.imagenet(image)
        let box = Image.Box(x: e["left"] as! Int, y: e["top"] as! Int, width: e["width"] as! Int, height: e["height"] as! Int)
        floats.withUnsafeMutableBufferPointer { RandomErasing.erase(box, in: $0.baseAddress!, width: image.width) }
        let want = e["values"] as! [Double]
        XCTAssertEqual(floats.count, want.count)
        for (i, (a, b)) in zip(floats, want).enumerated() { XCTAssertEqual(Double(a), b, accuracy: 1e-6, "float \(i)") }
        XCTAssertEqual(floats.filter { $0 == 0 }.count, box.width * box.height * 3)
    }

    // MARK: draws

    func testTrivialAugmentDrawsEveryOpBinAndSign() {
        let policy = TrivialAugmentWide()
        var ops = Set<AutoAugmentOp>(), bins = Set<Int>(), negatives = 0, signedDraws = 0
        for sample in 0..<4000 {
            var random = SeededRandom(seed: 3, epoch: 0, sample: sample)
            let (entry, bin, negative) = policy.draw(using: &random)
            ops.insert(entry.op)
            XCTAssertTrue(entry.bins.isEmpty ? bin == 0 : (0..<31).contains(bin), "\(entry.op) bin \(bin)")
            if !entry.bins.isEmpty { bins.insert(bin) }
            XCTAssertFalse(negative && !entry.signed, "\(entry.op) is unsigned")
            if entry.signed { signedDraws += 1; negatives += negative ? 1 : 0 }
        }
        XCTAssertEqual(ops.count, 14)
        XCTAssertEqual(bins, Set(0..<31))
        XCTAssertEqual(Double(negatives) / Double(signedDraws), 0.5, accuracy: 0.05)
        // apply is the drawn op at the drawn magnitude.
        let image = DataAutoAugmentTests.input("rgb")
        for sample in 0..<50 {
            var a = SeededRandom(seed: 9, epoch: 1, sample: sample), b = a
            let (entry, bin, negative) = policy.draw(using: &a)
            let magnitude = entry.bins.isEmpty ? 0 : Double(entry.bins[bin]) * (negative ? -1 : 1)
            XCTAssertEqual(policy.apply(image, using: &b), entry.op.apply(image, magnitude: magnitude))
        }
    }

    func testRandAugmentAppliesItsOpsAtTheFixedBin() {
        let policy = RandAugment(ops: 2, magnitude: 9)
        let image = DataAutoAugmentTests.input("rgb")
        let space = AugmentationSpace.randAugment(width: image.width, height: image.height)
        var negatives = 0, signedDraws = 0
        for sample in 0..<400 {
            var a = SeededRandom(seed: 4, epoch: 0, sample: sample), b = a
            let drawn = policy.draw(using: &a, space: space)
            XCTAssertEqual(drawn.count, 2)
            var want = image
            for (entry, negative) in drawn {
                XCTAssertFalse(negative && !entry.signed)
                if entry.signed { signedDraws += 1; negatives += negative ? 1 : 0 }
                want = entry.op.apply(want, magnitude: entry.bins.isEmpty ? 0 : Double(entry.bins[9]) * (negative ? -1 : 1))
            }
            if sample < 60 { XCTAssertEqual(policy.apply(image, using: &b), want, "sample \(sample)") }
        }
        XCTAssertEqual(Double(negatives) / Double(signedDraws), 0.5, accuracy: 0.08)
        // RandAugment's translation is 150/331 of the side: bin 30 of a 224 px side is 101.5 px.
        let big = AugmentationSpace.randAugment(width: 224, height: 112)
        XCTAssertEqual(Double(big.entries[3].bins[30]), 150.0 / 331.0 * 224, accuracy: 1e-4)
        XCTAssertEqual(Double(big.entries[4].bins[30]), 150.0 / 331.0 * 112, accuracy: 1e-4)
    }

    func testRandomErasingBoxesStayInsideWithinScaleAndRatio() {
        let erasing = RandomErasing(probability: 0.5)
        var erased = 0
        for sample in 0..<4000 {
            var random = SeededRandom(seed: 11, epoch: 0, sample: sample)
            let (w, h) = sample % 2 == 0 ? (224, 224) : (96, 40)
            guard let box = erasing.box(width: w, height: h, using: &random) else { continue }
            erased += 1
            XCTAssertTrue(box.x >= 0 && box.y >= 0 && box.x + box.width <= w && box.y + box.height <= h, "\(box) in \(w)x\(h)")
            XCTAssertTrue(box.width < w && box.height < h, "\(box)")
            // Rounding each side to whole pixels moves area and ratio by at most half a pixel.
            let area = Double(box.width * box.height) / Double(w * h)
            let slack = (Double(box.width + box.height) * 0.5 + 0.25) / Double(w * h)
            XCTAssertTrue(area >= 0.02 - slack && area <= 0.33 + slack, "area \(area) for \(box) in \(w)x\(h)")
            if box.width > 0 && box.height > 0 {
                let ratio = Double(box.height) / Double(box.width)     // torchvision's ratio is h / w
                let ratioSlack = (0.5 / Double(box.width)) * (1 + ratio)
                XCTAssertTrue(ratio >= 0.3 - ratioSlack && ratio <= 3.3 + ratioSlack, "ratio \(ratio) for \(box)")
            }
        }
        // About half are erased (a few of the small image's tries all miss and erase nothing).
        XCTAssertEqual(Double(erased) / 4000, 0.5, accuracy: 0.05)
        var random = SeededRandom(seed: 1)
        XCTAssertNil(RandomErasing(probability: 0).box(width: 224, height: 224, using: &random))
        XCTAssertNotNil(RandomErasing(probability: 1).box(width: 224, height: 224, using: &random))
    }

    /// Erasing runs on the normalised output, after the 8-bit augmentations: the box is 0, the
    /// rest is the normalised image.
    func testTrainTransformErasesTheNormalisedSample() throws {
        let bytes = try ImageEncoder.png(DataFixtures.gradient(width: 64, height: 48))
        let plain = TrainTransform(crop: RandomResizedCrop(size: 32), augmentations: [TrivialAugmentWide()])
        var erasing = plain
        erasing.erasing = RandomErasing(probability: 1)
        var changed = 0
        for sample in 0..<20 {
            var a = SeededRandom(seed: 2, epoch: 0, sample: sample), b = a
            var without = [Float](repeating: 0, count: 32 * 32 * 3), with = without
            try plain.process(bytes, path: "x.png", decoder: ImageDecoder(), random: &a, into: &without)
            try erasing.process(bytes, path: "x.png", decoder: ImageDecoder(), random: &b, into: &with)
            for i in 0..<with.count where with[i] != without[i] {
                XCTAssertEqual(with[i], 0)
                changed += 1
            }
        }
        XCTAssertGreaterThan(changed, 0)
    }

    // MARK: options

    func testCropAndAugmentationOptionsReachTheTrainTransform() {
        var o = TrainingOptions(backbone: "b", data: "d", output: "o")
        o.cropScale = Interval(0.3, 0.6)
        o.cropRatio = Interval(0.9, 1.2)
        o.autoAugment = .randAugment
        o.randAugmentOps = 3
        o.randAugmentMagnitude = 14
        o.randomErasing = 0.25
        let t = Trainer.trainTransform(o, size: 64, normalize: .imagenet)
        XCTAssertEqual(t.crop.scale, 0.3...0.6)
        XCTAssertEqual(t.crop.ratio, 0.9...1.2)
        XCTAssertEqual([t.crop.width, t.crop.height], [64, 64])
        let rand = t.augmentations.last as? RandAugment
        XCTAssertEqual(rand.map { [$0.ops, $0.magnitude] }, [3, 14])
        XCTAssertEqual(t.erasing?.probability, 0.25)
        o.autoAugment = .trivialWide
        o.randomErasing = 0
        let trivial = Trainer.trainTransform(o, size: 64, normalize: .imagenet)
        XCTAssertTrue(trivial.augmentations.last is TrivialAugmentWide)
        XCTAssertNil(trivial.erasing)
        let defaults = Trainer.trainTransform(TrainingOptions(backbone: "b", data: "d", output: "o"), size: 64, normalize: .imagenet)
        XCTAssertEqual(defaults.crop.scale, 0.08...1)
        XCTAssertEqual(defaults.crop.ratio, (3.0 / 4.0)...(4.0 / 3.0))
        XCTAssertFalse(defaults.augmentations.contains { $0 is TrivialAugmentWide || $0 is RandAugment })
    }

    func testAugmentationOptionsAreValidatedNamingTheOption() {
        func problem(_ change: (inout TrainingOptions) -> Void) -> String? {
            var o = TrainingOptions(backbone: "b", data: "d", output: "o")
            change(&o)
            do { try o.validate(); return nil } catch { return (error as? InvalidOption)?.option ?? "\(error)" }
        }
        XCTAssertNil(problem { _ in })
        XCTAssertNil(problem { $0.cropScale = Interval(1, 1); $0.cropRatio = Interval(0.5, 0.5) })
        XCTAssertEqual(problem { $0.cropScale = Interval(0, 1) }, "--crop-scale")
        XCTAssertEqual(problem { $0.cropScale = Interval(0.5, 0.4) }, "--crop-scale")
        XCTAssertEqual(problem { $0.cropScale = Interval(0.5, 1.1) }, "--crop-scale")
        XCTAssertEqual(problem { $0.cropScale = Interval(.nan, 1) }, "--crop-scale")
        XCTAssertEqual(problem { $0.cropRatio = Interval(0, 1) }, "--crop-ratio")
        XCTAssertEqual(problem { $0.cropRatio = Interval(2, 1) }, "--crop-ratio")
        XCTAssertEqual(problem { $0.cropRatio = Interval(1, .infinity) }, "--crop-ratio")
        XCTAssertEqual(problem { $0.randomErasing = 1.5 }, "--random-erasing")
        XCTAssertEqual(problem { $0.randomErasing = -0.1 }, "--random-erasing")
        XCTAssertEqual(problem { $0.randAugmentMagnitude = 31 }, "--rand-augment-magnitude")
        XCTAssertEqual(problem { $0.randAugmentOps = 0 }, "--rand-augment-ops")
        XCTAssertEqual(Interval(parsing: "0.25, 1"), Interval(0.25, 1))
        XCTAssertNil(Interval(parsing: "0.25"))
        XCTAssertNil(Interval(parsing: "0.25,1,2"))
        XCTAssertNil(Interval(parsing: "a,1"))
    }

    func testRandAugmentSettingsApplyOnlyToRandAugment() throws {
        var o = TrainingOptions(backbone: "b", data: "d", output: "o")
        XCTAssertThrowsError(try o.checkApplicable(given: ["--rand-augment-ops"]))
        o.autoAugment = .trivialWide
        XCTAssertThrowsError(try o.checkApplicable(given: ["--rand-augment-magnitude"]))
        o.autoAugment = .randAugment
        XCTAssertNoThrow(try o.checkApplicable(given: ["--rand-augment-ops", "--rand-augment-magnitude"]))
    }

    /// A run state saved before these options existed resumes with their defaults; a saved
    /// value outside its range is refused naming the option.
    func testRunStatesWithoutTheNewOptionsReadWithDefaults() throws {
        var state = TrainingState(options: TrainingOptions(backbone: "b", data: "d", output: "o"))
        state.generation = 1
        var json = try JSONSerialization.jsonObject(with: try state.encoded()) as! [String: Any]
        var options = json["options"] as! [String: Any]
        for key in ["autoAugment", "randAugmentOps", "randAugmentMagnitude", "randomErasing", "cropScale", "cropRatio"] {
            XCTAssertNotNil(options.removeValue(forKey: key), key)
        }
        json["options"] = options
        let old = try TrainingState(data: try JSONSerialization.data(withJSONObject: json), file: "state.json")
        XCTAssertEqual(old.options, state.options)
        options["cropScale"] = ["lower": 0.9, "upper": 0.2]
        json["options"] = options
        XCTAssertThrowsError(try TrainingState(data: try JSONSerialization.data(withJSONObject: json), file: "state.json")) { error in
            XCTAssertTrue("\(error)".contains("--crop-scale"), "\(error)")
        }
    }
}
