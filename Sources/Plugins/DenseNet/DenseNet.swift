// DenseNet.swift — the densenet121 backbone plugin (plugin ABI 1.1: concat).
//
// DenseNet from Huang, Liu, van der Maaten and Weinberger, "Densely Connected Convolutional
// Networks", CVPR 2017 (arXiv:1608.06993), exactly as torchvision builds densenet121
// (torchvision/models/densenet.py: growth rate 32, blocks of 6, 12, 24 and 16 layers, bottleneck
// width 4 x 32, transitions halving the width), without the classifier: the host attaches it.
// Layers carry torchvision's state_dict names (features.denseblockK.denselayerJ...).
import PluginABI
import PluginKit

/// One DenseNet: layers per dense block, growth rate, bottleneck multiplier, stem width.
private struct Variant {
    var blocks: [Int]
    var growth: Int32
    var bottleneck: Int32
    var stemWidth: Int32
}
private let densenet121 = Variant(blocks: [6, 12, 24, 16], growth: 32, bottleneck: 4, stemWidth: 64)

private func buildDenseNet(_ net: Net, _ v: Variant) throws {
    try net.group("stem")
    var x = try net.input(channels: 3)
    x = try net.conv("features.conv0", x, out: v.stemWidth, kernel: 7, stride: 2)
    x = try net.batchNorm("features.norm0", x)
    x = try net.activation("features.relu0", x, FT_ACT_RELU)
    x = try net.maxPool("features.pool0", x, kernel: 3, stride: 2, padding: 1)
    var channels = v.stemWidth
    for (i, layers) in v.blocks.enumerated() {
        let block = "features.denseblock\(i + 1)"
        try net.group("denseblock\(i + 1)")  // with the transition after it
        var features = [x]
        for j in 0..<layers {
            features.append(try denseLayer(net, "\(block).denselayer\(j + 1)", features, growth: v.growth, bottleneck: v.bottleneck))
        }
        x = try net.concat("\(block).cat", features)
        channels += Int32(layers) * v.growth
        if i < v.blocks.count - 1 {
            let t = "features.transition\(i + 1)"
            x = try net.batchNorm("\(t).norm", x)
            x = try net.activation("\(t).relu", x, FT_ACT_RELU)
            x = try net.conv("\(t).conv", x, out: channels / 2, kernel: 1)
            x = try net.avgPool("\(t).pool", x, kernel: 2, stride: 2)
            channels /= 2
        }
    }
    x = try net.batchNorm("features.norm5", x)
    x = try net.activation("relu", x, FT_ACT_RELU)
    try net.setFeatures(try net.globalAvgPool("avgpool", x))
}

/// _DenseLayer: every earlier feature map of the block concatenated, then BN-ReLU-1x1 conv to
/// bottleneck x growth channels and BN-ReLU-3x3 conv to `growth` new ones.
private func denseLayer(_ net: Net, _ p: String, _ inputs: [Int32], growth: Int32, bottleneck: Int32) throws -> Int32 {
    var y = inputs.count == 1 ? inputs[0] : try net.concat("\(p).cat", inputs)
    y = try net.batchNorm("\(p).norm1", y)
    y = try net.activation("\(p).relu1", y, FT_ACT_RELU)
    y = try net.conv("\(p).conv1", y, out: bottleneck * growth, kernel: 1)
    y = try net.batchNorm("\(p).norm2", y)
    y = try net.activation("\(p).relu2", y, FT_ACT_RELU)
    return try net.conv("\(p).conv2", y, out: growth, kernel: 3)
}

private let descriptor = makePluginDescriptor(pluginName: "DenseNet (built-in)", [
    BackboneInfo(
        name: "densenet121",
        summary: "DenseNet-121 (Huang et al. 2017): dense blocks whose layers read every earlier feature map, 7.0M parameters",
        weightsHint: "torchvision DenseNet121_Weights.IMAGENET1K_V1: densenet121-a639ec97.pth",
        inFeatures: 1024, inputSize: 224, evalResize: 256,
        weightSets: [
            WeightSetInfo("IMAGENET1K_V1", url: "https://download.pytorch.org/models/densenet121-a639ec97.pth",
                          crop: 224, resize: 256, top1: 74.434),
        ],
        classifierKey: "classifier",
        build: { host, b in runBuild(host, b) { try buildDenseNet($0, densenet121) } }),
])

@_cdecl("finetune_plugin_entry")
public func finetunePluginEntry(_ hostMajor: UInt32, _ hostMinor: UInt32) -> UnsafePointer<ft_plugin_desc>? {
    hostMajor == FT_ABI_MAJOR ? descriptor : nil
}
