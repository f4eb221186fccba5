import XCTest
@testable import FineTuneCore

/// The fused inverted-residual block against its layers run one after another (pointwise
/// convolution, depthwise, pointwise, add), with bands of one row, a few rows and the default
/// size, stride 1 with a residual, stride 2, and no project (EfficientNet's blocks before
/// squeeze-excitation). Tolerance 1e-5 of the largest output value; and the plan finds the
/// blocks of MobileNetV2 whose expanded activations are large.
final class KernelInvertedResidualTests: XCTestCase {
    func testFusedMatchesLayerByLayer() {
        for bandFloats in [1, 3 * 12 * 24, InvertedResidual.bandFloats] {
            check(stride: 1, cin: 8, ce: 24, cout: 8, project: true, residual: true, activation: .relu6, bandFloats: bandFloats)
            check(stride: 2, cin: 8, ce: 24, cout: 12, project: true, residual: false, activation: .relu6, bandFloats: bandFloats)
            check(stride: 1, cin: 6, ce: 20, cout: 20, project: false, residual: false, activation: .silu, bandFloats: bandFloats)
            check(stride: 2, cin: 6, ce: 20, cout: 20, project: false, residual: false, activation: .silu, bandFloats: bandFloats)
        }
    }

    func testPlanFusesMobileNetV2sLargeBlocks() throws {
        let backbone = try BuiltInBackboneTests.catalog.backbone(named: "mobilenet-v2")
        let graph = try backbone.makeClassifier(classes: 10, inputSize: 224)
        let plan = ExecutionPlan(graph: graph, batchSize: 4, training: false, frozenGroups: [])
        // features.2 to .7: the blocks at 112x112, 56x56 and 28x28; .3, .5 and .6 add their input.
        XCTAssertEqual(plan.blocks.count, 6)
        XCTAssertEqual(plan.blocks.filter { $0.residual != nil }.count, 3)
        XCTAssertTrue(plan.blocks.allSatisfy { $0.project != nil })
        let training = ExecutionPlan(graph: graph, batchSize: 4, training: true, frozenGroups: [])
        XCTAssertTrue(training.blocks.isEmpty)
    }

    private func check(stride: Int, cin: Int, ce: Int, cout: Int, project hasProject: Bool, residual hasResidual: Bool,
                       activation: Activation, bandFloats: Int) {
        let n = 2, h = 11, w = 12
        let dwParams = Conv2DParams(outChannels: ce, kernel: 3, stride: stride, groups: ce, bias: true)
        let oh = (h + 2 - 3) / stride + 1, ow = (w + 2 - 3) / stride + 1
        let g = ConvGeometry(batch: n, input: FeatureShape(height: h, width: w, channels: ce),
                             output: FeatureShape(height: oh, width: ow, channels: ce), conv: dwParams)
        func pointwise(_ c: Int, _ oc: Int, _ hh: Int, _ ww: Int) -> ConvGeometry {
            ConvGeometry(batch: n, input: FeatureShape(height: hh, width: ww, channels: c),
                         output: FeatureShape(height: hh, width: ww, channels: oc), conv: Conv2DParams(outChannels: oc, kernel: 1))
        }
        var rng = SplitMix64(seed: UInt64(stride * 1000 + ce + bandFloats))
        func random(_ count: Int) -> [Float] { (0..<count).map { _ in rng.nextFloat() * 2 - 1 } }
        let x = random(n * h * w * cin)
        let we = random(ce * cin), be = random(ce), wd = random(9 * ce), bd = random(ce), wp = random(cout * ce), bp = random(cout)

        // Layer by layer.
        var expanded = [Float](repeating: 0, count: n * h * w * ce), convolved = [Float](repeating: 0, count: g.outputCount)
        var none = [Float]()
        Conv2D.forward(pointwise(cin, ce, h, w), x: x, weight: we, bias: be, activation: activation, y: &expanded, scratch: &none)
        DepthwiseConv2D.forward(g, x: expanded, weight: wd, bias: bd, activation: activation, y: &convolved)
        var expected = convolved
        if hasProject {
            expected = [Float](repeating: 0, count: n * oh * ow * cout)
            Conv2D.forward(pointwise(ce, cout, oh, ow), x: convolved, weight: wp, bias: bp, y: &expected, scratch: &none)
            if hasResidual { for i in expected.indices { expected[i] += x[i] } }
        }

        // Fused.
        var got = [Float](repeating: .nan, count: expected.count)
        var scratch = [Float](repeating: .nan, count: InvertedResidual.scratchCount(g, bandFloats: bandFloats))
        we.withUnsafeBufferPointer { we in be.withUnsafeBufferPointer { be in wp.withUnsafeBufferPointer { wp in
            bp.withUnsafeBufferPointer { bp in wd.withUnsafeBufferPointer { wd in bd.withUnsafeBufferPointer { bd in
                x.withUnsafeBufferPointer { x in
                    InvertedResidual.forward(
                        g, x: x.baseAddress!, inChannels: cin,
                        expand: .init(weight: we.baseAddress!, bias: be.baseAddress!, activation: activation, outChannels: ce),
                        depthwise: (wd.baseAddress!, bd.baseAddress!, activation),
                        project: hasProject ? .init(weight: wp.baseAddress!, bias: bp.baseAddress!, activation: nil, outChannels: cout) : nil,
                        residual: hasResidual ? x.baseAddress! : nil, y: &got, scratch: &scratch, bandFloats: bandFloats)
                }
            } } }
        } } }
        let largest = expected.map(abs).max()!
        let worst = zip(got, expected).map { abs($0 - $1) }.max()!
        XCTAssertFalse(got.contains { $0.isNaN }, "stride \(stride) band \(bandFloats): output not written")
        XCTAssertLessThanOrEqual(worst, 1e-5 * largest, "stride \(stride) project \(hasProject) band \(bandFloats)")
    }
}
