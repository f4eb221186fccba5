// ConvNeXt.swift — the convnext-tiny backbone plugin (plugin ABI 1.1: linear, layer_norm,
// channel_scale, GELU).
//
// ConvNeXt from Liu, Mao, Wu, Feichtenhofer, Darrell and Xie, "A ConvNet for the 2020s", CVPR
// 2022 (arXiv:2201.03545), exactly as torchvision builds convnext_tiny
// (torchvision/models/convnext.py: CNBlock with a 7x7 depthwise convolution, LayerNorm, two
// nn.Linear layers around GELU and a layer scale; LayerNorm2d plus 2x2 stride-2 convolutions
// between stages), without the classifier's last layer: the host attaches it. Layers carry
// torchvision's state_dict names (features.N.M.block.K..., classifier.0).
import PluginABI
import PluginKit

/// One ConvNeXt: blocks and width per stage, stochastic depth, the layer scale's initial value.
private struct Variant {
    var stages: [(blocks: Int, width: Int32)]
    var stochasticDepth: Double
    var layerScale: Float
}
private let convnextTiny = Variant(stages: [(3, 96), (3, 192), (9, 384), (3, 768)], stochasticDepth: 0.1, layerScale: 1e-6)
/// torchvision's norm_layer: LayerNorm (LayerNorm2d between stages) with eps 1e-6.
private let eps: Float = 1e-6

private func buildConvNeXt(_ net: Net, _ v: Variant) throws {
    try net.group("stem")
    var x = try net.input(channels: 3)
    x = try net.conv("features.0.0", x, out: v.stages[0].width, kernel: 4, stride: 4, bias: true, padding: 0)
    x = try net.layerNorm("features.0.1", x, eps: eps)
    let total = v.stages.reduce(0) { $0 + $1.blocks }
    var blockID = 0, index = 1  // position in torchvision's `features` Sequential
    for (i, stage) in v.stages.enumerated() {
        try net.group("stage\(i + 1)")
        if i > 0 {  // downsampling: LayerNorm2d, then a 2x2 stride-2 convolution
            x = try net.layerNorm("features.\(index).0", x, eps: eps)
            x = try net.conv("features.\(index).1", x, out: stage.width, kernel: 2, stride: 2, bias: true, padding: 0)
            index += 1
        }
        for j in 0..<stage.blocks {
            let p = Float(v.stochasticDepth * Double(blockID) / Double(total - 1))
            x = try block(net, "features.\(index).\(j)", x, width: stage.width, layerScale: v.layerScale, stochasticDepth: p)
            blockID += 1
        }
        index += 1
    }
    x = try net.globalAvgPool("avgpool", x)
    try net.setFeatures(try net.layerNorm("classifier.0", x, eps: eps))
}

/// CNBlock: 7x7 depthwise convolution (with bias), LayerNorm, Linear to 4 x width, GELU, Linear
/// back, times the layer scale, through stochastic depth, plus the input.
private func block(_ net: Net, _ p: String, _ x: Int32, width: Int32, layerScale: Float, stochasticDepth: Float) throws -> Int32 {
    var y = try net.conv("\(p).block.0", x, out: width, kernel: 7, groups: width, bias: true)
    y = try net.layerNorm("\(p).block.2", y, eps: eps)
    y = try net.linear("\(p).block.3", y, out: 4 * width)
    y = try net.activation("\(p).block.4", y, FT_ACT_GELU)
    y = try net.linear("\(p).block.5", y, out: width)
    y = try net.channelScale("\(p).layer_scale", y, initial: layerScale)
    y = try net.stochasticDepth("\(p).stochastic_depth", y, p: stochasticDepth)
    return try net.add("\(p).add", y, x)
}

private let descriptor = makePluginDescriptor(pluginName: "ConvNeXt (built-in)", [
    BackboneInfo(
        name: "convnext-tiny",
        summary: "ConvNeXt-Tiny (Liu et al. 2022): 7x7 depthwise blocks with LayerNorm, GELU and layer scale, 27.8M parameters",
        weightsHint: "torchvision ConvNeXt_Tiny_Weights.IMAGENET1K_V1: convnext_tiny-983f1562.pth",
        inFeatures: 768, inputSize: 224, evalResize: 236,
        weightSets: [
            WeightSetInfo("IMAGENET1K_V1", url: "https://download.pytorch.org/models/convnext_tiny-983f1562.pth",
                          crop: 224, resize: 236, top1: 82.52),
        ],
        classifierKey: "classifier.2",
        build: { host, b in runBuild(host, b) { try buildConvNeXt($0, convnextTiny) } }),
])

@_cdecl("finetune_plugin_entry")
public func finetunePluginEntry(_ hostMajor: UInt32, _ hostMinor: UInt32) -> UnsafePointer<ft_plugin_desc>? {
    hostMajor == FT_ABI_MAJOR ? descriptor : nil
}
