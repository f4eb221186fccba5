import XCTest
@testable import FineTuneCore

final class GraphBuilderTests: XCTestCase {
    func testShapeInferenceFollowsPyTorch() throws {
        let b = GraphBuilder(inputHeight: 224, inputWidth: 224)
        let x = try b.input(channels: 3)
        let c = try b.conv2d("conv1", x, Conv2DParams(outChannels: 64, kernel: 7, stride: 2, padding: 3))
        XCTAssertEqual(b.graph.nodes[c].outputShape, FeatureShape(height: 112, width: 112, channels: 64))
        let p = try b.pool("maxpool", c, PoolParams(kernel: 3, stride: 2, padding: 1), max: true)
        XCTAssertEqual(b.graph.nodes[p].outputShape, FeatureShape(height: 56, width: 56, channels: 64))
        let d = try b.conv2d("dw", p, Conv2DParams(outChannels: 64, kernel: 3, stride: 2, groups: 64))
        XCTAssertEqual(b.graph.nodes[d].outputShape, FeatureShape(height: 28, width: 28, channels: 64))
        XCTAssertEqual(b.graph.nodes[d].tensors.map(\.shape), [[64, 1, 3, 3]])
        let dil = try b.conv2d("dil", d, Conv2DParams(outChannels: 8, kernel: 3, dilation: 2))
        XCTAssertEqual(b.graph.nodes[dil].outputShape.height, 28)
        let ceil = try b.pool("ceil", dil, PoolParams(kernel: 3, stride: 2, ceilMode: true), max: true)
        XCTAssertEqual(b.graph.nodes[ceil].outputShape.height, 14)  // floor would give 13
    }

    func testMisfitInputsNameTheLayer() throws {
        let b = GraphBuilder(inputHeight: 8, inputWidth: 8)
        let x = try b.input(channels: 3)
        XCTAssertThrowsError(try b.conv2d("grouped", x, Conv2DParams(outChannels: 4, kernel: 3, groups: 2))) {
            XCTAssertTrue("\($0)".contains("grouped") && "\($0)".contains("groups=2"), "\($0)")
        }
        let a = try b.conv2d("a", x, Conv2DParams(outChannels: 4, kernel: 1))
        let s = try b.conv2d("s", x, Conv2DParams(outChannels: 4, kernel: 1, stride: 2))
        XCTAssertThrowsError(try b.add("layer1.0.add", a, s)) {
            XCTAssertTrue("\($0)".contains("layer1.0.add"), "\($0)")
        }
        XCTAssertThrowsError(try b.conv2d("big", x, Conv2DParams(outChannels: 4, kernel: 11, padding: 0))) {
            XCTAssertTrue("\($0)".contains("big") && "\($0)".contains("smaller than the window"), "\($0)")
        }
        XCTAssertThrowsError(try b.channelMultiply("se", a, a)) {
            XCTAssertTrue("\($0)".contains("se"), "\($0)")
        }
        XCTAssertThrowsError(try b.conv2d("a", a, Conv2DParams(outChannels: 4, kernel: 1))) {
            XCTAssertTrue("\($0)".contains("a.weight") && "\($0)".contains("twice"), "\($0)")
        }
        XCTAssertThrowsError(try b.setFeatures(a)) {
            XCTAssertTrue("\($0)".contains("1x1"), "\($0)")
        }
    }

    func testLinearHeadAddsParameters() throws {
        let b = GraphBuilder(inputHeight: 4, inputWidth: 4)
        let x = try b.input(channels: 3)
        let c = try b.conv2d("c", x, Conv2DParams(outChannels: 8, kernel: 3, bias: true))
        _ = try b.setFeatures(try b.globalAvgPool(nil, c))
        var g = b.graph
        XCTAssertEqual(g.parameterCount, 8 * 3 * 9 + 8)
        try g.attachLinearHead(classes: 5)
        XCTAssertEqual(g.parameterCount, 8 * 3 * 9 + 8 + 8 * 5 + 5)
        XCTAssertEqual(g.groups.last, "head")
    }
}
