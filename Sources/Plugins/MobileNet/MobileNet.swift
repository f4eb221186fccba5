// MobileNet.swift — the mobilenet-v2 and mobilenet-v3-large backbone plugin.
//
// MobileNetV2 from Sandler, Howard, Zhu, Zhmoginov and Chen, "MobileNetV2: Inverted Residuals
// and Linear Bottlenecks", CVPR 2018 (arXiv:1801.04381), and MobileNetV3 from Howard et al.,
// "Searching for MobileNetV3", ICCV 2019 (arXiv:1905.02244), exactly as torchvision builds them
// with width_mult 1.0 (torchvision/models/mobilenetv2.py and mobilenetv3.py, blocks from
// torchvision/ops/misc.py's Conv2dNormActivation and SqueezeExcitation), without the last
// classifier layer: the host attaches it. Layers carry torchvision's state_dict names (features.N...).
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

/// MobileNetV3-Large's bneck rows (torchvision's InvertedResidualConfig at width 1.0): input,
/// kernel, expanded and output channels, squeeze-excitation, hardswish (else ReLU), stride.
private let v3LargeSetting: [(inChannels: Int32, kernel: Int32, expanded: Int32, out: Int32, se: Bool, hardswish: Bool, stride: Int32)] = [
    (16, 3, 16, 16, false, false, 1), (16, 3, 64, 24, false, false, 2), (24, 3, 72, 24, false, false, 1),
    (24, 5, 72, 40, true, false, 2), (40, 5, 120, 40, true, false, 1), (40, 5, 120, 40, true, false, 1),
    (40, 3, 240, 80, false, true, 2), (80, 3, 200, 80, false, true, 1), (80, 3, 184, 80, false, true, 1),
    (80, 3, 184, 80, false, true, 1), (80, 3, 480, 112, true, true, 1), (112, 3, 672, 112, true, true, 1),
    (112, 5, 672, 160, true, true, 2), (160, 5, 960, 160, true, true, 1), (160, 5, 960, 160, true, true, 1),
]
/// MobileNetV3's batch norm: eps 1e-3, momentum 0.01.
private let v3Eps: Float = 1e-3, v3Momentum: Float = 0.01
private let v3LastChannels: Int32 = 1280

/// MobileNetV3-Large: a hardswish stem, the bneck blocks, a 1x1 convolution to 6 x 160 with
/// hardswish, global pooling and the first classifier layer (nn.Linear 960 -> 1280, hardswish,
/// dropout 0.2), which belongs to the pretrained backbone; the host's head replaces classifier.3.
private func buildMobileNetV3Large(_ net: Net) throws {
    try net.group("stem")
    var x = try net.input(channels: 3)
    x = try net.convNormActivation("features.0", x, out: v3LargeSetting[0].inChannels, kernel: 3, stride: 2,
                                   activation: FT_ACT_HARDSWISH, eps: v3Eps, momentum: v3Momentum)
    for (i, c) in v3LargeSetting.enumerated() {
        try net.group("block\(i + 1)")
        x = try bneck(net, "features.\(i + 1)", x, c)
    }
    try net.group("head_conv")
    let last = 6 * v3LargeSetting.last!.out
    x = try net.convNormActivation("features.\(v3LargeSetting.count + 1)", x, out: last, kernel: 1,
                                   activation: FT_ACT_HARDSWISH, eps: v3Eps, momentum: v3Momentum)
    x = try net.globalAvgPool("avgpool", x)
    x = try net.linear("classifier.0", x, out: v3LastChannels)
    x = try net.activation("classifier.1", x, FT_ACT_HARDSWISH)
    try net.setFeatures(try net.dropout("classifier.2", x, p: 0.2))
}

/// MobileNetV3's InvertedResidual: 1x1 expansion (when it widens), k x k depthwise, both with the
/// row's activation; squeeze-excitation (ReLU, then hardsigmoid, squeezing to
/// _make_divisible(expanded / 4, 8)); linear 1x1 projection; the input added back when the
/// stride is 1 and the width unchanged.
private func bneck(_ net: Net, _ p: String, _ x: Int32,
                   _ c: (inChannels: Int32, kernel: Int32, expanded: Int32, out: Int32, se: Bool, hardswish: Bool, stride: Int32)) throws -> Int32 {
    let kind = c.hardswish ? FT_ACT_HARDSWISH : FT_ACT_RELU
    var y = x, m = 0
    if c.expanded != c.inChannels {
        y = try net.convNormActivation("\(p).block.\(m)", y, out: c.expanded, kernel: 1, activation: kind, eps: v3Eps, momentum: v3Momentum)
        m += 1
    }
    y = try net.convNormActivation("\(p).block.\(m)", y, out: c.expanded, kernel: c.kernel, stride: c.stride, groups: c.expanded,
                                   activation: kind, eps: v3Eps, momentum: v3Momentum)
    m += 1
    if c.se {
        y = try net.squeezeExcitation("\(p).block.\(m)", y, channels: c.expanded, squeeze: makeDivisible(Double(c.expanded / 4)),
                                      activation: FT_ACT_RELU, scaleActivation: FT_ACT_HARDSIGMOID)
        m += 1
    }
    y = try net.convNormActivation("\(p).block.\(m)", y, out: c.out, kernel: 1, activation: nil, eps: v3Eps, momentum: v3Momentum)
    return c.stride == 1 && c.inChannels == c.out ? try net.add("\(p).add", y, x) : y
}

private let descriptor = makePluginDescriptor(pluginName: "MobileNet (built-in)", [BackboneInfo(
    name: "mobilenet-v2",
    summary: "MobileNetV2 (Sandler et al. 2018): inverted residuals with linear bottlenecks, 2.2M parameters",
    weightsHint: "torchvision MobileNet_V2_Weights.IMAGENET1K_V2: mobilenet_v2-7ebf99e0.pth (V1: mobilenet_v2-b0353104.pth)",
    inFeatures: lastChannels, inputSize: 224, evalResize: 232,
    weightSets: [
        WeightSetInfo("IMAGENET1K_V2", url: "https://download.pytorch.org/models/mobilenet_v2-7ebf99e0.pth",
                      crop: 224, resize: 232, top1: 72.154),
        WeightSetInfo("IMAGENET1K_V1", url: "https://download.pytorch.org/models/mobilenet_v2-b0353104.pth",
                      crop: 224, resize: 256, top1: 71.878),
    ],
    classifierKey: "classifier.1",
    build: { host, b in runBuild(host, b, buildMobileNetV2) }),
    BackboneInfo(
        name: "mobilenet-v3-large",
        summary: "MobileNetV3-Large (Howard et al. 2019): inverted residuals with squeeze-excitation and hardswish, 4.2M parameters",
        weightsHint: "torchvision MobileNet_V3_Large_Weights.IMAGENET1K_V2: mobilenet_v3_large-5c1a4163.pth (V1: mobilenet_v3_large-8738ca79.pth)",
        inFeatures: v3LastChannels, inputSize: 224, evalResize: 232,
        weightSets: [
            WeightSetInfo("IMAGENET1K_V2", url: "https://download.pytorch.org/models/mobilenet_v3_large-5c1a4163.pth",
                          crop: 224, resize: 232, top1: 75.274),
            WeightSetInfo("IMAGENET1K_V1", url: "https://download.pytorch.org/models/mobilenet_v3_large-8738ca79.pth",
                          crop: 224, resize: 256, top1: 74.042),
        ],
        classifierKey: "classifier.3",
        build: { host, b in runBuild(host, b, buildMobileNetV3Large) }),
])

@_cdecl("finetune_plugin_entry")
public func finetunePluginEntry(_ hostMajor: UInt32, _ hostMinor: UInt32) -> UnsafePointer<ft_plugin_desc>? {
    hostMajor == FT_ABI_MAJOR ? descriptor : nil
}
