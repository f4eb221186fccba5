import XCTest
@testable import FineTuneCore

/// `--sampler`: shuffle as before, balanced as PyTorch's WeightedRandomSampler with weights
/// 1 / class count (n draws with replacement), both fixed by (seed, epoch).
final class DataSamplerTests: XCTestCase {
    let labels: [Int32] = Array(repeating: 0, count: 90) + Array(repeating: 1, count: 9) + [2]

    func testShuffleIsTheSeededPermutation() {
        var expected = Array(labels.indices)
        var random = SeededRandom(seed: 5, epoch: 3, stream: .shuffle)
        random.shuffle(&expected)
        XCTAssertEqual(Sampler.shuffle.order(labels: labels, seed: 5, epoch: 3), expected)
    }

    /// Tolerance: over 300 epochs of 100 draws, each class's share within 0.02 of 1/3 (its
    /// standard deviation is 0.0027) and each image of class 1 within 0.2 of its expected count.
    func testBalancedDrawsEveryClassEquallyOftenWithReplacement() {
        var perClass = [Double](repeating: 0, count: 3), perSample = [Double](repeating: 0, count: labels.count)
        let epochs = 300
        for epoch in 1...epochs {
            let order = Sampler.balanced.order(labels: labels, seed: 9, epoch: epoch)
            XCTAssertEqual(order.count, labels.count, "the epoch keeps its length")
            for i in order { perClass[Int(labels[i])] += 1; perSample[i] += 1 }
        }
        let draws = Double(epochs * labels.count)
        for c in 0..<3 { XCTAssertEqual(perClass[c] / draws, 1.0 / 3, accuracy: 0.02, "class \(c)") }
        let expected = draws / 3 / 9
        for i in 90..<99 { XCTAssertEqual(perSample[i] / expected, 1, accuracy: 0.2, "image \(i) of class 1") }
        XCTAssertEqual(perSample[99] / (draws / 3), 1, accuracy: 0.06, "the only image of class 2 comes a third of the time")
    }

    func testBalancedOrderIsFixedBySeedAndEpoch() {
        let order = Sampler.balanced.order(labels: labels, seed: 9, epoch: 4)
        XCTAssertEqual(Sampler.balanced.order(labels: labels, seed: 9, epoch: 4), order, "a resumed epoch draws the same")
        XCTAssertNotEqual(Sampler.balanced.order(labels: labels, seed: 9, epoch: 5), order)
        XCTAssertNotEqual(Sampler.balanced.order(labels: labels, seed: 10, epoch: 4), order)
        let samples = labels.enumerated().map { ImageDataset.Sample(path: "/d/\($0.offset).png", label: $0.element) }
        let loader = DataLoader(dataset: ImageDataset(classes: ["a", "b", "c"], samples: samples),
                                transform: EvalTransform(resize: 16, crop: 16),
                                options: .init(batchSize: 10, sampler: .balanced, seed: 9))
        XCTAssertEqual(loader.plan(epoch: 4).flatMap { $0 }, order, "the loader's batches follow the sampler")
    }
}
