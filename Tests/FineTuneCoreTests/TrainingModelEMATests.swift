import XCTest
@testable import FineTuneCore

/// `ModelEMA` (train --ema) as timm's ModelEmaV2 updates: every tensor, parameters and batch-norm
/// statistics, becomes decay * ema + (1 - decay) * value after each step; batch counts are copied.
final class TrainingModelEMATests: XCTestCase {
    func testAverageFollowsTheWeightsAsModelEmaV2() throws {
        let model = try ExecutorFreezingTests.makeModel("mobilenet-v2", size: 32)
        let start = model.slots.map { Array(UnsafeBufferPointer(start: $0.value.pointer, count: $0.value.count)) }
        let average = try ModelEMA(copying: model, decay: 0.9)
        var expected = start.map { $0.map(Double.init) }
        var rng = FineTuneCore.SplitMix64(seed: 7)
        for step in 1...3 {
            for slot in model.slots {
                for i in 0..<slot.value.count { slot.value[i] = slot.spec.name.hasSuffix("num_batches_tracked") ? Float(step) : rng.nextFloat() - 0.5 }
            }
            average.update(from: model)
            for (k, slot) in model.slots.enumerated() {
                for i in 0..<slot.value.count {
                    expected[k][i] = slot.spec.name.hasSuffix("num_batches_tracked") ? Double(step) : 0.9 * expected[k][i] + 0.1 * Double(slot.value[i])
                }
            }
        }
        var checked = 0
        for (k, slot) in average.model.slots.enumerated() {
            for i in 0..<slot.value.count {
                XCTAssertEqual(Double(slot.value[i]), expected[k][i], accuracy: 1e-6, "\(slot.spec.name)[\(i)]")
                checked += 1
            }
        }
        XCTAssertGreaterThan(checked, 1000)
        XCTAssertTrue(average.model.slots.contains { $0.spec.name.hasSuffix("running_var") }, "batch-norm statistics are averaged too")
    }
}
