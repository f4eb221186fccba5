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

    func testSizesBeyondTheLimitsNameTheLayer() throws {
        let b = GraphBuilder(inputHeight: 8, inputWidth: 8)
        XCTAssertThrowsError(try b.input(channels: Int(Int32.max))) {
            XCTAssertTrue("\($0)".contains("channels 2147483647 is not in 1...65536"), "\($0)")
        }
        let x = try b.input(channels: Limits.channels)
        XCTAssertThrowsError(try b.conv2d("wide", x, Conv2DParams(outChannels: Int(Int32.max), kernel: 1))) {
            XCTAssertTrue("\($0)".contains("layer 'wide': out_channels 2147483647"), "\($0)")
        }
        // 65536 x 65536 x 3 x 3 elements: each size in range, the tensor not.
        XCTAssertThrowsError(try b.conv2d("heavy", x, Conv2DParams(outChannels: Limits.channels, kernel: 3))) {
            XCTAssertTrue("\($0)".contains("layer 'heavy': tensor 'heavy.weight' of shape [65536, 65536, 3, 3] has more than 2147483648"), "\($0)")
        }
        XCTAssertThrowsError(try b.conv2d("far", x, Conv2DParams(outChannels: 4, kernel: 3, stride: Int(Int32.max), padding: 1))) {
            XCTAssertTrue("\($0)".contains("layer 'far': kernel, stride and dilation must be in 1...2048"), "\($0)")
        }
        XCTAssertThrowsError(try b.conv2d("padded", x, Conv2DParams(outChannels: 4, kernel: 3, padding: Limits.imageSide + 1))) {
            XCTAssertTrue("\($0)".contains("layer 'padded': padding must be in 0...2048"), "\($0)")
        }
        // 8x8 input padded by 2048 on each side: a 4104x4104x64 output, over a gigabyte per image.
        XCTAssertThrowsError(try b.conv2d("grown", x, Conv2DParams(outChannels: 64, kernel: 1, padding: Limits.imageSide))) {
            XCTAssertTrue("\($0)".contains("layer 'grown': its output 4104x4104x64 has more than"), "\($0)")
        }
        XCTAssertThrowsError(try b.batchNorm("bn", x, eps: .infinity, momentum: 0.1))
        XCTAssertEqual(b.graph.nodes.count, 1, "no refused layer is recorded")

        // Every tensor within its bound, the network not: 2 x 2^30 + 2^30 parameters.
        let c = GraphBuilder(inputHeight: 1, inputWidth: 1)
        let y = try c.input(channels: Limits.channels)
        let big = Conv2DParams(outChannels: Limits.channels / 4, kernel: 1)  // 2^30 weights
        let first = try c.conv2d("a", y, big)
        _ = try c.conv2d("b", y, big)
        XCTAssertThrowsError(try c.conv2d("c", y, Conv2DParams(outChannels: Limits.channels / 2, kernel: 1))) {
            XCTAssertTrue("\($0)".contains("layer 'c': the network would have more than 2147483648 parameters"), "\($0)")
        }
        XCTAssertEqual(c.graph.nodes[first].parameterCount, 1 << 30)
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
