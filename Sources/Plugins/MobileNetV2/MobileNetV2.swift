// MobileNetV2.swift — the mobilenet-v2 backbone plugin.
//
// MobileNetV2 from Sandler, Howard, Zhu, Zhmoginov and Chen, "MobileNetV2: Inverted Residuals
// and Linear Bottlenecks", CVPR 2018 (arXiv:1801.04381), exactly as torchvision builds it with
// width_mult 1.0 (torchvision/models/mobilenetv2.py, blocks from torchvision/ops/misc.py's
// Conv2dNormActivation), without the classifier: the host attaches it. Layers carry torchvision's
// state_dict names (features.N...).
import PluginABI
import PluginKit

/// torchvision's inverted_residual_setting: expansion t, output channels c, repeats n, stride s
/// of the row's first block. Row k is layer group "stage<k>". (At width 1.0 every c is already a
/// multiple of 8, so torchvision's _make_divisible leaves it unchanged.)
private let invertedResidualSetting: [(t: Int32, c: Int32, n: Int, s: Int32)] = [
    (1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1),
]
private let stemChannels: Int32 = 32
private let lastChannels: Int32 = 1280

private func buildMobileNetV2(_ net: Net) throws {
    try net.group("stem")
    var x = try net.input(channels: 3)
    x = try net.convNormActivation("features.0", x, out: stemChannels, kernel: 3, stride: 2, activation: FT_ACT_RELU6)
    var channels = stemChannels
    var index = 1  // position in torchvision's `features` Sequential
    for (row, r) in invertedResidualSetting.enumerated() {
        try net.group("stage\(row + 1)")
        for i in 0..<r.n {
            x = try invertedResidual(net, "features.\(index)", x, in: channels, out: r.c,
                                     stride: i == 0 ? r.s : 1, expandRatio: r.t)
            channels = r.c
            index += 1
        }
    }
    try net.group("head_conv")
    x = try net.convNormActivation("features.\(index)", x, out: lastChannels, kernel: 1, activation: FT_ACT_RELU6)
    try net.setFeatures(try net.globalAvgPool("avgpool", x))
}

/// InvertedResidual: 1x1 expansion (skipped when t == 1), 3x3 depthwise, both with ReLU6, then a
/// linear 1x1 projection; the input is added back when stride is 1 and the width is unchanged.
/// torchvision's `conv` Sequential numbers them conv.0, conv.1, ..., the projection being a bare
/// conv and batch norm.
private func invertedResidual(_ net: Net, _ p: String, _ x: Int32, in inChannels: Int32, out: Int32,
                              stride: Int32, expandRatio t: Int32) throws -> Int32 {
    let hidden = inChannels * t
    var y = x
    var m = 0
    if t != 1 {
        y = try net.convNormActivation("\(p).conv.\(m)", y, out: hidden, kernel: 1, activation: FT_ACT_RELU6)
        m += 1
    }
    y = try net.convNormActivation("\(p).conv.\(m)", y, out: hidden, kernel: 3, stride: stride, groups: hidden,
                                   activation: FT_ACT_RELU6)
    y = try net.conv("\(p).conv.\(m + 1)", y, out: out, kernel: 1)
    y = try net.batchNorm("\(p).conv.\(m + 2)", y)
    return stride == 1 && inChannels == out ? try net.add("\(p).add", x, y) : y
}

private let descriptor = makePluginDescriptor(pluginName: "MobileNetV2 (built-in)", [BackboneInfo(
    name: "mobilenet-v2",
    summary: "MobileNetV2 (Sandler et al. 2018): inverted residuals with linear bottlenecks, 2.2M parameters",
    weightsHint: "torchvision MobileNet_V2_Weights.IMAGENET1K_V1: mobilenet_v2-b0353104.pth",
    inFeatures: lastChannels, inputSize: 224, evalResize: 256,
    build: { host, b in runBuild(host, b, buildMobileNetV2) })])

@_cdecl("finetune_plugin_entry")
public func finetunePluginEntry(_ hostMajor: UInt32, _ hostMinor: UInt32) -> UnsafePointer<ft_plugin_desc>? {
    hostMajor == FT_ABI_MAJOR ? descriptor : nil
}
