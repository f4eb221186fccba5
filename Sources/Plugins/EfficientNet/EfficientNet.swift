// EfficientNet.swift — the efficientnet-b0 and efficientnet-b3 backbone plugin.
//
// EfficientNet from Tan and Le, "EfficientNet: Rethinking Model Scaling for Convolutional
// Neural Networks", ICML 2019 (arXiv:1905.11946), exactly as torchvision builds it
// (torchvision/models/efficientnet.py: efficientnet_b0 and efficientnet_b3, MBConv blocks with
// squeeze-excitation from torchvision/ops/misc.py), without the classifier: the host attaches it.
// Layers carry torchvision's state_dict names (features.N.M.block.K...). Batch norm: torchvision
// passes no norm_layer for B0-B4, so it is plain nn.BatchNorm2d (eps 1e-5, momentum 0.1); only
// B5-B7 and the V2 models use eps 1e-3.
import PluginABI
import PluginKit

/// EfficientNet-B0's MBConv stages (torchvision's bneck_conf rows): expansion ratio, kernel,
/// stride of the first block, input and output channels, blocks. Stage k is features.k.
private let b0Stages: [(expand: Int, kernel: Int32, stride: Int32, inChannels: Int, outChannels: Int, layers: Int)] = [
    (1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2), (6, 3, 2, 40, 80, 3),
    (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4), (6, 3, 1, 192, 320, 1),
]
/// torchvision's stochastic_depth_prob, the same for every B model.
private let stochasticDepthProb = 0.2

/// torchvision's _make_divisible (from TensorFlow's MobileNet): the nearest multiple of 8, but
/// never more than 10% below `v`.
private func makeDivisible(_ v: Double, _ divisor: Int = 8) -> Int32 {
    var n = max(divisor, Int(v + Double(divisor) / 2) / divisor * divisor)
    if Double(n) < 0.9 * v { n += divisor }
    return Int32(n)
}

/// B0's table scaled by width and depth: channels by MBConvConfig.adjust_channels, blocks by
/// ceil(n * depth). B0 is (1.0, 1.0), B3 (1.2, 1.4).
private func stages(width: Double, depth: Double) -> [(expand: Int, kernel: Int32, stride: Int32, inChannels: Int32, outChannels: Int32, layers: Int)] {
    b0Stages.map { s in
        (expand: s.expand, kernel: s.kernel, stride: s.stride,
         inChannels: makeDivisible(Double(s.inChannels) * width),
         outChannels: makeDivisible(Double(s.outChannels) * width),
         layers: Int((Double(s.layers) * depth).rounded(.up)))
    }
}

private func buildEfficientNet(_ net: Net, width: Double, depth: Double) throws {
    let stages = stages(width: width, depth: depth)
    try net.group("stem")
    var x = try net.input(channels: 3)
    x = try net.convNormActivation("features.0", x, out: stages[0].inChannels, kernel: 3, stride: 2,
                                   activation: FT_ACT_SILU)
    let totalBlocks = stages.reduce(0) { $0 + $1.layers }  // 16 for B0, 26 for B3
    var blockID = 0
    for (i, s) in stages.enumerated() {
        try net.group("stage\(i + 1)")
        for j in 0..<s.layers {
            let dropProbability = stochasticDepthProb * Double(blockID) / Double(totalBlocks)
            x = try mbConv(net, "features.\(i + 1).\(j)", x, in: j == 0 ? s.inChannels : s.outChannels,
                           out: s.outChannels, expandRatio: s.expand, kernel: s.kernel,
                           stride: j == 0 ? s.stride : 1, stochasticDepth: Float(dropProbability))
            blockID += 1
        }
    }
    try net.group("head_conv")
    x = try net.convNormActivation("features.\(stages.count + 1)", x, out: 4 * stages.last!.outChannels, kernel: 1,
                                   activation: FT_ACT_SILU)
    try net.setFeatures(try net.globalAvgPool("avgpool", x))
}

/// MBConv: 1x1 expansion (skipped when it would not change the width), depthwise k x k, both
/// with SiLU; squeeze-excitation; linear 1x1 projection. With a residual (stride 1, same width)
/// the block's branch goes through stochastic depth before the input is added back.
private func mbConv(_ net: Net, _ p: String, _ x: Int32, in inChannels: Int32, out: Int32, expandRatio: Int,
                    kernel: Int32, stride: Int32, stochasticDepth: Float) throws -> Int32 {
    let expanded = makeDivisible(Double(inChannels) * Double(expandRatio))
    var y = x
    var m = 0  // position in torchvision's `block` Sequential
    if expanded != inChannels {
        y = try net.convNormActivation("\(p).block.\(m)", y, out: expanded, kernel: 1, activation: FT_ACT_SILU)
        m += 1
    }
    y = try net.convNormActivation("\(p).block.\(m)", y, out: expanded, kernel: kernel, stride: stride,
                                   groups: expanded, activation: FT_ACT_SILU)
    y = try squeezeExcitation(net, "\(p).block.\(m + 1)", y, channels: expanded, squeeze: max(1, inChannels / 4))
    y = try net.convNormActivation("\(p).block.\(m + 2)", y, out: out, kernel: 1, activation: nil)
    guard stride == 1 && inChannels == out else { return y }
    y = try net.stochasticDepth("\(p).stochastic_depth", y, p: stochasticDepth)
    return try net.add("\(p).add", y, x)
}

/// torchvision's SqueezeExcitation: global average pool, fc1 (1x1 conv with bias) + SiLU,
/// fc2 (1x1 conv with bias) + sigmoid, then the input scaled channel by channel.
private func squeezeExcitation(_ net: Net, _ p: String, _ x: Int32, channels: Int32, squeeze: Int32) throws -> Int32 {
    var scale = try net.globalAvgPool("\(p).avgpool", x)
    scale = try net.conv("\(p).fc1", scale, out: squeeze, kernel: 1, bias: true)
    scale = try net.activation("\(p).activation", scale, FT_ACT_SILU)
    scale = try net.conv("\(p).fc2", scale, out: channels, kernel: 1, bias: true)
    scale = try net.activation("\(p).scale_activation", scale, FT_ACT_SIGMOID)
    return try net.channelMultiply(p, x, scale: scale)
}

private let descriptor = makePluginDescriptor(pluginName: "EfficientNet (built-in)", [
    BackboneInfo(
        name: "efficientnet-b0",
        summary: "EfficientNet-B0 (Tan & Le 2019): MBConv blocks with squeeze-excitation, 4.0M parameters",
        weightsHint: "torchvision EfficientNet_B0_Weights.IMAGENET1K_V1: efficientnet_b0_rwightman-7f5810bc.pth",
        inFeatures: 1280, inputSize: 224, evalResize: 256,
        build: { host, b in runBuild(host, b) { try buildEfficientNet($0, width: 1.0, depth: 1.0) } }),
    BackboneInfo(
        name: "efficientnet-b3",
        summary: "EfficientNet-B3 (Tan & Le 2019): compound-scaled MBConv blocks with squeeze-excitation, 10.7M parameters",
        weightsHint: "torchvision EfficientNet_B3_Weights.IMAGENET1K_V1: efficientnet_b3_rwightman-b3899882.pth",
        inFeatures: 1536, inputSize: 300, evalResize: 320,
        build: { host, b in runBuild(host, b) { try buildEfficientNet($0, width: 1.2, depth: 1.4) } }),
])

@_cdecl("finetune_plugin_entry")
public func finetunePluginEntry(_ hostMajor: UInt32, _ hostMinor: UInt32) -> UnsafePointer<ft_plugin_desc>? {
    hostMajor == FT_ABI_MAJOR ? descriptor : nil
}
