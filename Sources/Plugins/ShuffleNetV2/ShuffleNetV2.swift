// ShuffleNetV2.swift — the shufflenet-v2-x1.0 backbone plugin (plugin ABI 1.1).
//
// ShuffleNet V2 from Ma, Zhang, Zheng and Sun, "ShuffleNet V2: Practical Guidelines for Efficient
// CNN Architecture Design", ECCV 2018 (arXiv:1807.11164), exactly as torchvision builds
// shufflenet_v2_x1_0 (torchvision/models/shufflenetv2.py), without the classifier `fc`: the host
// attaches it. Layers carry torchvision's state_dict names (conv1, stage2.0.branch1.0, ...).
import PluginABI
import PluginKit

/// torchvision's stages_repeats and stages_out_channels for width 1.0: stages 2 to 4, each a
/// stride-2 block then repeats - 1 stride-1 ones; conv1 has 24 channels and conv5 1024.
private let stages: [(repeats: Int, channels: Int32)] = [(4, 116), (8, 232), (4, 464)]
private let stemChannels: Int32 = 24
private let lastChannels: Int32 = 1024

private func buildShuffleNetV2(_ net: Net) throws {
    try net.group("stem")
    var x = try net.input(channels: 3)
    x = try net.convNormActivation("conv1", x, out: stemChannels, kernel: 3, stride: 2, activation: FT_ACT_RELU)
    x = try net.maxPool("maxpool", x, kernel: 3, stride: 2, padding: 1)
    var channels = stemChannels
    for (k, stage) in stages.enumerated() {
        let name = "stage\(k + 2)"
        try net.group(name)
        for i in 0..<stage.repeats {
            x = try invertedResidual(net, "\(name).\(i)", x, in: channels, out: stage.channels, stride: i == 0 ? 2 : 1)
            channels = stage.channels
        }
    }
    try net.group("conv5")
    x = try net.convNormActivation("conv5", x, out: lastChannels, kernel: 1, activation: FT_ACT_RELU)
    try net.setFeatures(try net.globalAvgPool("globalpool", x))
}

/// ShuffleNetV2's InvertedResidual. Stride 2: both branches read the whole input (branch1: a
/// 3x3 depthwise conv and BN, then a 1x1 conv, BN, ReLU). Stride 1: the input splits into halves
/// (chunk(2, dim=1)), the first passes through. branch2: 1x1 conv, BN, ReLU, 3x3 depthwise conv,
/// BN, 1x1 conv, BN, ReLU. The two are concatenated and shuffled in 2 groups.
private func invertedResidual(_ net: Net, _ p: String, _ x: Int32, in inChannels: Int32, out: Int32, stride: Int32) throws -> Int32 {
    let half = out / 2
    let left: Int32, right: Int32
    if stride > 1 {
        var b1 = try net.conv("\(p).branch1.0", x, out: inChannels, kernel: 3, stride: stride, groups: inChannels)
        b1 = try net.batchNorm("\(p).branch1.1", b1)
        b1 = try net.conv("\(p).branch1.2", b1, out: half, kernel: 1)
        b1 = try net.batchNorm("\(p).branch1.3", b1)
        left = try net.activation("\(p).branch1.4", b1, FT_ACT_RELU)
        right = x
    } else {
        left = try net.narrow("\(p).chunk0", x, start: 0, length: inChannels / 2)
        right = try net.narrow("\(p).chunk1", x, start: inChannels / 2, length: inChannels / 2)
    }
    var b2 = try net.conv("\(p).branch2.0", right, out: half, kernel: 1)
    b2 = try net.batchNorm("\(p).branch2.1", b2)
    b2 = try net.activation("\(p).branch2.2", b2, FT_ACT_RELU)
    b2 = try net.conv("\(p).branch2.3", b2, out: half, kernel: 3, stride: stride, groups: half)
    b2 = try net.batchNorm("\(p).branch2.4", b2)
    b2 = try net.conv("\(p).branch2.5", b2, out: half, kernel: 1)
    b2 = try net.batchNorm("\(p).branch2.6", b2)
    b2 = try net.activation("\(p).branch2.7", b2, FT_ACT_RELU)
    return try net.channelShuffle("\(p).shuffle", try net.concat("\(p).cat", [left, b2]), groups: 2)
}

private let descriptor = makePluginDescriptor(pluginName: "ShuffleNetV2 (built-in)", [BackboneInfo(
    name: "shufflenet-v2-x1.0",
    summary: "ShuffleNet V2 x1.0 (Ma et al. 2018): channel split, depthwise branches and channel shuffle, 1.3M parameters",
    weightsHint: "torchvision ShuffleNet_V2_X1_0_Weights.IMAGENET1K_V1: shufflenetv2_x1-5666bf0f80.pth",
    inFeatures: lastChannels, inputSize: 224, evalResize: 256,
    weightSets: [
        WeightSetInfo("IMAGENET1K_V1", url: "https://download.pytorch.org/models/shufflenetv2_x1-5666bf0f80.pth",
                      crop: 224, resize: 256, top1: 69.362),
    ],
    classifierKey: "fc",
    build: { host, b in runBuild(host, b, buildShuffleNetV2) })])

@_cdecl("finetune_plugin_entry")
public func finetunePluginEntry(_ hostMajor: UInt32, _ hostMinor: UInt32) -> UnsafePointer<ft_plugin_desc>? {
    hostMajor == FT_ABI_MAJOR ? descriptor : nil
}
