// EfficientNet.swift — the efficientnet-b0, efficientnet-b3 and efficientnet-v2-s backbone plugin.
//
// EfficientNet from Tan and Le, "EfficientNet: Rethinking Model Scaling for Convolutional
// Neural Networks", ICML 2019 (arXiv:1905.11946), and EfficientNetV2 from Tan and Le,
// "EfficientNetV2: Smaller Models and Faster Training", ICML 2021 (arXiv:2104.00298), exactly as
// torchvision builds them (torchvision/models/efficientnet.py: MBConv blocks with
// squeeze-excitation from torchvision/ops/misc.py, and V2's FusedMBConv), without the classifier:
// the host attaches it. Layers carry torchvision's state_dict names (features.N.M.block.K...).
// Batch norm: torchvision passes no norm_layer for B0-B4, so it is plain nn.BatchNorm2d (eps
// 1e-5, momentum 0.1); B5-B7 and the V2 models use eps 1e-3.
import PluginABI
import PluginKit

/// One stage (torchvision's MBConvConfig / FusedMBConvConfig row): block kind, expansion ratio,
/// kernel, stride of the first block, input and output channels, blocks. Stage k is features.k.
private typealias Stage = (fused: Bool, expand: Int, kernel: Int32, stride: Int32, inChannels: Int32, outChannels: Int32, layers: Int)

/// One EfficientNet: its stages, the width of the last 1x1 convolution and batch norm's eps.
private struct Variant {
    var stages: [Stage]
    var lastChannels: Int32
    var eps: Float
}

/// EfficientNet-B0's MBConv stages (torchvision's bneck_conf rows).
private let b0Stages: [(expand: Int, kernel: Int32, stride: Int32, inChannels: Int, outChannels: Int, layers: Int)] = [
    (1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2), (6, 3, 2, 40, 80, 3),
    (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4), (6, 3, 1, 192, 320, 1),
]
/// torchvision's stochastic_depth_prob, the same for every B model and V2-S.
private let stochasticDepthProb = 0.2

/// A B model: B0's table scaled by width and depth (channels by MBConvConfig.adjust_channels,
/// blocks by ceil(n * depth)); the last convolution is 4 times the last stage's width.
private func bModel(width: Double, depth: Double) -> Variant {
    let stages = b0Stages.map { s in
        (fused: false, expand: s.expand, kernel: s.kernel, stride: s.stride,
         inChannels: makeDivisible(Double(s.inChannels) * width), outChannels: makeDivisible(Double(s.outChannels) * width),
         layers: Int((Double(s.layers) * depth).rounded(.up)))
    }
    return Variant(stages: stages, lastChannels: 4 * stages.last!.outChannels, eps: 1e-5)
}
private let b0 = bModel(width: 1.0, depth: 1.0)
private let b3 = bModel(width: 1.2, depth: 1.4)
/// torchvision's efficientnet_v2_s table: three FusedMBConv stages, then MBConv.
private let v2s = Variant(stages: [
    (true, 1, 3, 1, 24, 24, 2), (true, 4, 3, 2, 24, 48, 4), (true, 4, 3, 2, 48, 64, 4),
    (false, 4, 3, 2, 64, 128, 6), (false, 6, 3, 1, 128, 160, 9), (false, 6, 3, 2, 160, 256, 15),
], lastChannels: 1280, eps: 1e-3)

private func buildEfficientNet(_ net: Net, _ v: Variant) throws {
    try net.group("stem")
    var x = try net.input(channels: 3)
    x = try net.convNormActivation("features.0", x, out: v.stages[0].inChannels, kernel: 3, stride: 2,
                                   activation: FT_ACT_SILU, eps: v.eps)
    let totalBlocks = v.stages.reduce(0) { $0 + $1.layers }  // 16 for B0, 26 for B3, 40 for V2-S
    var blockID = 0
    for (i, s) in v.stages.enumerated() {
        try net.group("stage\(i + 1)")
        for j in 0..<s.layers {
            let p = "features.\(i + 1).\(j)", inChannels = j == 0 ? s.inChannels : s.outChannels, stride = j == 0 ? s.stride : 1
            let dropProbability = Float(stochasticDepthProb * Double(blockID) / Double(totalBlocks))
            x = s.fused
                ? try fusedMBConv(net, p, x, in: inChannels, out: s.outChannels, expandRatio: s.expand, kernel: s.kernel,
                                  stride: stride, stochasticDepth: dropProbability, eps: v.eps)
                : try mbConv(net, p, x, in: inChannels, out: s.outChannels, expandRatio: s.expand, kernel: s.kernel,
                             stride: stride, stochasticDepth: dropProbability, eps: v.eps)
            blockID += 1
        }
    }
    try net.group("head_conv")
    x = try net.convNormActivation("features.\(v.stages.count + 1)", x, out: v.lastChannels, kernel: 1,
                                   activation: FT_ACT_SILU, eps: v.eps)
    try net.setFeatures(try net.globalAvgPool("avgpool", x))
}

/// MBConv: 1x1 expansion (skipped when it would not change the width), depthwise k x k, both
/// with SiLU; squeeze-excitation; linear 1x1 projection.
private func mbConv(_ net: Net, _ p: String, _ x: Int32, in inChannels: Int32, out: Int32, expandRatio: Int,
                    kernel: Int32, stride: Int32, stochasticDepth: Float, eps: Float) throws -> Int32 {
    let expanded = makeDivisible(Double(inChannels) * Double(expandRatio))
    var y = x
    var m = 0  // position in torchvision's `block` Sequential
    if expanded != inChannels {
        y = try net.convNormActivation("\(p).block.\(m)", y, out: expanded, kernel: 1, activation: FT_ACT_SILU, eps: eps)
        m += 1
    }
    y = try net.convNormActivation("\(p).block.\(m)", y, out: expanded, kernel: kernel, stride: stride,
                                   groups: expanded, activation: FT_ACT_SILU, eps: eps)
    y = try net.squeezeExcitation("\(p).block.\(m + 1)", y, channels: expanded, squeeze: max(1, inChannels / 4), activation: FT_ACT_SILU)
    y = try net.convNormActivation("\(p).block.\(m + 2)", y, out: out, kernel: 1, activation: nil, eps: eps)
    return try residual(net, p, y, x, in: inChannels, out: out, stride: stride, stochasticDepth: stochasticDepth)
}

/// FusedMBConv (V2): the expansion and depthwise convolution fused into one k x k convolution with
/// SiLU, then a linear 1x1 projection; without expansion the k x k convolution alone (with SiLU).
private func fusedMBConv(_ net: Net, _ p: String, _ x: Int32, in inChannels: Int32, out: Int32, expandRatio: Int,
                         kernel: Int32, stride: Int32, stochasticDepth: Float, eps: Float) throws -> Int32 {
    let expanded = makeDivisible(Double(inChannels) * Double(expandRatio))
    var y: Int32
    if expanded != inChannels {
        y = try net.convNormActivation("\(p).block.0", x, out: expanded, kernel: kernel, stride: stride, activation: FT_ACT_SILU, eps: eps)
        y = try net.convNormActivation("\(p).block.1", y, out: out, kernel: 1, activation: nil, eps: eps)
    } else {
        y = try net.convNormActivation("\(p).block.0", x, out: out, kernel: kernel, stride: stride, activation: FT_ACT_SILU, eps: eps)
    }
    return try residual(net, p, y, x, in: inChannels, out: out, stride: stride, stochasticDepth: stochasticDepth)
}

/// With a residual (stride 1, same width) the block's branch `y` goes through stochastic depth
/// before the input is added back; otherwise `y` is the block's output.
private func residual(_ net: Net, _ p: String, _ y: Int32, _ x: Int32, in inChannels: Int32, out: Int32, stride: Int32,
                      stochasticDepth: Float) throws -> Int32 {
    guard stride == 1 && inChannels == out else { return y }
    return try net.add("\(p).add", try net.stochasticDepth("\(p).stochastic_depth", y, p: stochasticDepth), x)
}

private let descriptor = makePluginDescriptor(pluginName: "EfficientNet (built-in)", [
    BackboneInfo(
        name: "efficientnet-b0",
        summary: "EfficientNet-B0 (Tan & Le 2019): MBConv blocks with squeeze-excitation, 4.0M parameters",
        weightsHint: "torchvision EfficientNet_B0_Weights.IMAGENET1K_V1: efficientnet_b0_rwightman-7f5810bc.pth",
        inFeatures: 1280, inputSize: 224, evalResize: 256,
        weightSets: [
            WeightSetInfo("IMAGENET1K_V1", url: "https://download.pytorch.org/models/efficientnet_b0_rwightman-7f5810bc.pth",
                          crop: 224, resize: 256, bicubic: true, top1: 77.692),
        ],
        classifierKey: "classifier.1",
        build: { host, b in runBuild(host, b) { try buildEfficientNet($0, b0) } }),
    BackboneInfo(
        name: "efficientnet-b3",
        summary: "EfficientNet-B3 (Tan & Le 2019): compound-scaled MBConv blocks with squeeze-excitation, 10.7M parameters",
        weightsHint: "torchvision EfficientNet_B3_Weights.IMAGENET1K_V1: efficientnet_b3_rwightman-b3899882.pth",
        inFeatures: 1536, inputSize: 300, evalResize: 320,
        weightSets: [
            WeightSetInfo("IMAGENET1K_V1", url: "https://download.pytorch.org/models/efficientnet_b3_rwightman-b3899882.pth",
                          crop: 300, resize: 320, bicubic: true, top1: 82.008),
        ],
        classifierKey: "classifier.1",
        build: { host, b in runBuild(host, b) { try buildEfficientNet($0, b3) } }),
    BackboneInfo(
        name: "efficientnet-v2-s",
        summary: "EfficientNetV2-S (Tan & Le 2021): fused and depthwise MBConv blocks with squeeze-excitation, 20.2M parameters",
        weightsHint: "torchvision EfficientNet_V2_S_Weights.IMAGENET1K_V1: efficientnet_v2_s-dd5fe13b.pth",
        inFeatures: 1280, inputSize: 384, evalResize: 384,
        weightSets: [
            WeightSetInfo("IMAGENET1K_V1", url: "https://download.pytorch.org/models/efficientnet_v2_s-dd5fe13b.pth",
                          crop: 384, resize: 384, top1: 84.228),
        ],
        classifierKey: "classifier.1",
        build: { host, b in runBuild(host, b) { try buildEfficientNet($0, v2s) } }),
])

@_cdecl("finetune_plugin_entry")
public func finetunePluginEntry(_ hostMajor: UInt32, _ hostMinor: UInt32) -> UnsafePointer<ft_plugin_desc>? {
    hostMajor == FT_ABI_MAJOR ? descriptor : nil
}
