// RegNet.swift — the regnet-y-800mf backbone plugin.
//
// RegNetY from Radosavovic, Kosaraju, Girshick, He and Dollár, "Designing Network Design
// Spaces", CVPR 2020 (arXiv:2003.13678), exactly as torchvision builds regnet_y_800mf
// (torchvision/models/regnet.py: ResBottleneckBlock with grouped 3x3 convolutions and
// squeeze-excitation), without the classifier `fc`: the host attaches it. Layers carry
// torchvision's state_dict names (stem, trunk_output.blockK.blockK-J...).
import PluginABI
import PluginKit

/// One RegNet: its stages' widths and depths as torchvision's BlockParams.from_init_params derives
/// them (depth 14, w_0 56, w_a 38.84, w_m 2.4 for Y-800MF; every stage's first block has stride 2),
/// the group width of the 3x3 convolutions and the squeeze-excitation ratio (of the block's input width).
private struct Variant {
    var stages: [(width: Int32, depth: Int)]
    var groupWidth: Int32
    var seRatio: Double
}
private let regnetY800MF = Variant(stages: [(64, 1), (144, 3), (320, 8), (784, 2)], groupWidth: 16, seRatio: 0.25)
private let stemWidth: Int32 = 32

private func buildRegNet(_ net: Net, _ v: Variant) throws {
    try net.group("stem")
    var x = try net.input(channels: 3)
    x = try net.convNormActivation("stem", x, out: stemWidth, kernel: 3, stride: 2, activation: FT_ACT_RELU)
    var channels = stemWidth
    for (i, stage) in v.stages.enumerated() {
        let name = "block\(i + 1)"
        try net.group(name)
        for j in 0..<stage.depth {
            x = try block(net, "trunk_output.\(name).\(name)-\(j)", x, in: channels, out: stage.width,
                          stride: j == 0 ? 2 : 1, groupWidth: v.groupWidth, seRatio: v.seRatio)
            channels = stage.width
        }
    }
    try net.setFeatures(try net.globalAvgPool("avgpool", x))
}

/// ResBottleneckBlock (bottleneck multiplier 1): the shortcut `proj` (1x1 conv-BN, when the
/// stride or width changes), then f: a (1x1 conv-BN-ReLU), b (3x3 grouped conv-BN-ReLU, the
/// stride), se (squeeze-excitation with ReLU), c (1x1 conv-BN); their sum, then ReLU.
private func block(_ net: Net, _ p: String, _ x: Int32, in inChannels: Int32, out: Int32, stride: Int32,
                   groupWidth: Int32, seRatio: Double) throws -> Int32 {
    var shortcut = x
    if inChannels != out || stride != 1 {
        shortcut = try net.convNormActivation("\(p).proj", x, out: out, kernel: 1, stride: stride, activation: nil)
    }
    var y = try net.convNormActivation("\(p).f.a", x, out: out, kernel: 1, activation: FT_ACT_RELU)
    y = try net.convNormActivation("\(p).f.b", y, out: out, kernel: 3, stride: stride, groups: out / groupWidth,
                                   activation: FT_ACT_RELU)
    y = try net.squeezeExcitation("\(p).f.se", y, channels: out, squeeze: Int32((seRatio * Double(inChannels)).rounded()),
                                  activation: FT_ACT_RELU)
    y = try net.convNormActivation("\(p).f.c", y, out: out, kernel: 1, activation: nil)
    return try net.activation("\(p).activation", try net.add("\(p).add", shortcut, y), FT_ACT_RELU)
}

private let descriptor = makePluginDescriptor(pluginName: "RegNet (built-in)", [
    BackboneInfo(
        name: "regnet-y-800mf",
        summary: "RegNetY-800MF (Radosavovic et al. 2020): grouped bottlenecks with squeeze-excitation, 5.6M parameters",
        weightsHint: "torchvision RegNet_Y_800MF_Weights.IMAGENET1K_V2: regnet_y_800mf-58fc7688.pth (V1: regnet_y_800mf-1b27b58c.pth)",
        inFeatures: 784, inputSize: 224, evalResize: 232,
        weightSets: [
            WeightSetInfo("IMAGENET1K_V2", url: "https://download.pytorch.org/models/regnet_y_800mf-58fc7688.pth",
                          crop: 224, resize: 232, top1: 78.828),
            WeightSetInfo("IMAGENET1K_V1", url: "https://download.pytorch.org/models/regnet_y_800mf-1b27b58c.pth",
                          crop: 224, resize: 256, top1: 76.42),
        ],
        classifierKey: "fc",
        build: { host, b in runBuild(host, b) { try buildRegNet($0, regnetY800MF) } }),
])

@_cdecl("finetune_plugin_entry")
public func finetunePluginEntry(_ hostMajor: UInt32, _ hostMinor: UInt32) -> UnsafePointer<ft_plugin_desc>? {
    hostMajor == FT_ABI_MAJOR ? descriptor : nil
}
