import Foundation
import XCTest
@testable import FineTuneCore

/// Sizes each within its limit that together need more memory than any machine has: refused
/// with an error before the allocation Swift would abort on.
final class EngineMemoryTests: XCTestCase {
    /// A batch of 65536 inputs of 2048x2048 pixels needs terabytes of activations.
    func testAnExecutorTooLargeForTheMachineIsRefusedBeforeAllocating() throws {
        let b = GraphBuilder(inputHeight: Limits.imageSide, inputWidth: Limits.imageSide)
        var x = try b.input(channels: 3)
        x = try b.conv2d("conv1", x, Conv2DParams(outChannels: 8, kernel: 3))
        _ = try b.setFeatures(try b.globalAvgPool(nil, x))
        var graph = b.graph
        try graph.attachLinearHead(classes: 2)
        let model = try Model(graph: graph)
        for training in [false, true] {
            assertIOError(try Executor(model: model, batchSize: Limits.batchSize, training: training),
                          mentioning: ["not enough memory for", "on batches of 65536 inputs of 2048x2048x3 values: it needs", "free for it",
                                       "lower --batch-size or --input-size"])
        }
        assertIOError(try Executor(model: model, batchSize: 0, training: false), mentioning: ["batch size", "from 1 to 65536"])
        XCTAssertNoThrow(try Executor(model: model, batchSize: 1, training: false))
    }

    /// Sixteen hidden layers of 65536 x 32768 weights (each within `Limits.parameterElements`)
    /// with their gradients: 275 GB.
    func testAModelTooLargeForTheMachineIsRefusedBeforeAllocating() throws {
        var graph = try IOFixture.tinyGraph()
        try graph.attachHead(HeadSpec(hidden: Array(repeating: [65_536, 32_768], count: 8).flatMap { $0 }), classes: 2)
        assertIOError(try Model(graph: graph), mentioning: ["not enough memory for the model's weights and their gradients: it needs", "--head"])
    }

    func testHeadWidthsAndLayerSizesAreBounded() throws {
        assertIOError(try HeadSpec(parsing: "mlp:1000000000"), mentioning: ["hidden width 1000000000", "1 to 65536"])
        assertIOError(try HeadSpec(parsing: "mlp:128,0"), mentioning: ["hidden width 0"])
        assertIOError(try HeadSpec(parsing: "mlp:128,,64"), mentioning: ["'mlp:128,,64' is not"])
        assertIOError(try HeadSpec(parsing: "mlp:\u{1B}[31m"), mentioning: ["'mlp:\\u{1B}[31m'"])
        XCTAssertEqual(try HeadSpec(parsing: "mlp:65536,1").hidden, [65_536, 1])
        var graph = try IOFixture.tinyGraph()
        assertIOError(try graph.attachHead(HeadSpec(hidden: [65_536, 65_536]), classes: 2),
                      mentioning: ["head.1", "more than 2147483648 weights"])
        assertIOError(try graph.attachHead(.linear, classes: 0), mentioning: ["0 classes"])
        assertIOError(try graph.attachHead(.linear, classes: Limits.classes + 1), mentioning: ["100001 classes"])
    }

    func testTrainingOptionsNameTheOptionAndItsRange() throws {
        var options = TrainingOptions(backbone: "b", data: "d", weights: nil, output: "o")
        XCTAssertNoThrow(try options.validate())
        options.head = "mlp:1000000000"
        assertIOError(try options.validate(), mentioning: ["--head", "1 to 65536"])
        options.head = "linear"
        options.inputSize = 100_000
        XCTAssertThrowsError(try options.validate()) { error in
            XCTAssertEqual(error as? TrainingOptions.Invalid,
                           InvalidOption(option: "--input-size", accepted: "an integer from 16 to 2048 pixels"))
        }
    }
}
