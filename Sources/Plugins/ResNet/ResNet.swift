// ResNet.swift — the resnet18, resnet34 and resnet50 backbone plugin.
//
// ResNet from He, Zhang, Ren and Sun, "Deep Residual Learning for Image Recognition", CVPR 2016
// (arXiv:1512.03385), exactly as torchvision builds it (torchvision/models/resnet.py: BasicBlock
// for 18 and 34 layers, Bottleneck with the stride on its 3x3 convolution, "ResNet V1.5", for
// 50), without the final fc layer: the host attaches the classifier. Layers carry torchvision's
// state_dict names.
import PluginABI
import PluginKit

/// One ResNet: blocks per stage (layer1...layer4) and whether they are bottlenecks. Stage k's
/// width is 64 * 2^k, its first block has stride 2 but in layer1; a bottleneck widens by 4.
private struct Variant {
    var blocks: [Int]
    var bottleneck: Bool
    var expansion: Int32 { bottleneck ? 4 : 1 }
}
private let resnet18 = Variant(blocks: [2, 2, 2, 2], bottleneck: false)
private let resnet34 = Variant(blocks: [3, 4, 6, 3], bottleneck: false)
private let resnet50 = Variant(blocks: [3, 4, 6, 3], bottleneck: true)

private func buildResNet(_ net: Net, _ v: Variant) throws {
    try net.group("stem")
    var x = try net.input(channels: 3)
    x = try net.conv("conv1", x, out: 64, kernel: 7, stride: 2)
    x = try net.batchNorm("bn1", x)
    x = try net.activation("relu", x, FT_ACT_RELU)
    x = try net.maxPool("maxpool", x, kernel: 3, stride: 2, padding: 1)
    var channels: Int32 = 64
    for (i, count) in v.blocks.enumerated() {
        try net.group("layer\(i + 1)")
        let width = Int32(64 << i)
        for j in 0..<count {
            let p = "layer\(i + 1).\(j)", stride: Int32 = j == 0 && i > 0 ? 2 : 1
            x = v.bottleneck ? try bottleneck(net, p, x, in: channels, width: width, stride: stride)
                             : try basicBlock(net, p, x, in: channels, out: width, stride: stride)
            channels = width * v.expansion
        }
    }
    try net.setFeatures(try net.globalAvgPool("avgpool", x))
}

/// BasicBlock: 3x3 conv-BN-ReLU, 3x3 conv-BN, plus the shortcut, then ReLU.
private func basicBlock(_ net: Net, _ p: String, _ x: Int32, in inChannels: Int32, out: Int32,
                        stride: Int32) throws -> Int32 {
    var y = try net.conv("\(p).conv1", x, out: out, kernel: 3, stride: stride)
    y = try net.batchNorm("\(p).bn1", y)
    y = try net.activation("\(p).relu", y, FT_ACT_RELU)
    y = try net.conv("\(p).conv2", y, out: out, kernel: 3)
    y = try net.batchNorm("\(p).bn2", y)
    return try residual(net, p, y, x, in: inChannels, out: out, stride: stride)
}

/// Bottleneck: 1x1 conv-BN-ReLU to `width`, 3x3 conv (the stride) -BN-ReLU, 1x1 conv-BN to
/// 4 * width, plus the shortcut, then ReLU.
private func bottleneck(_ net: Net, _ p: String, _ x: Int32, in inChannels: Int32, width: Int32,
                        stride: Int32) throws -> Int32 {
    var y = try net.conv("\(p).conv1", x, out: width, kernel: 1)
    y = try net.batchNorm("\(p).bn1", y)
    y = try net.activation("\(p).relu", y, FT_ACT_RELU)
    y = try net.conv("\(p).conv2", y, out: width, kernel: 3, stride: stride)
    y = try net.batchNorm("\(p).bn2", y)
    y = try net.activation("\(p).relu", y, FT_ACT_RELU)
    y = try net.conv("\(p).conv3", y, out: 4 * width, kernel: 1)
    y = try net.batchNorm("\(p).bn3", y)
    return try residual(net, p, y, x, in: inChannels, out: 4 * width, stride: stride)
}

/// The shortcut added to the block's branch `y`, then ReLU. It is a 1x1 conv-BN (`downsample`)
/// when the stride or width changes, recorded after the branch so the tensors come in
/// state_dict order.
private func residual(_ net: Net, _ p: String, _ y: Int32, _ x: Int32, in inChannels: Int32, out: Int32,
                      stride: Int32) throws -> Int32 {
    var shortcut = x
    if stride != 1 || inChannels != out {
        shortcut = try net.conv("\(p).downsample.0", x, out: out, kernel: 1, stride: stride)
        shortcut = try net.batchNorm("\(p).downsample.1", shortcut)
    }
    return try net.activation("\(p).relu", try net.add("\(p).add", y, shortcut), FT_ACT_RELU)
}

private let descriptor = makePluginDescriptor(pluginName: "ResNet (built-in)", [
    BackboneInfo(
        name: "resnet18",
        summary: "ResNet-18 (He et al. 2015): 4 stages of basic residual blocks, 11.2M parameters",
        weightsHint: "torchvision ResNet18_Weights.IMAGENET1K_V1: resnet18-f37072fd.pth",
        inFeatures: 512, inputSize: 224, evalResize: 256,
        weightSets: [
            WeightSetInfo("IMAGENET1K_V1", url: "https://download.pytorch.org/models/resnet18-f37072fd.pth",
                          crop: 224, resize: 256, top1: 69.758),
        ],
        classifierKey: "fc",
        build: { host, b in runBuild(host, b) { try buildResNet($0, resnet18) } }),
    BackboneInfo(
        name: "resnet34",
        summary: "ResNet-34 (He et al. 2015): 4 stages of basic residual blocks, 21.3M parameters",
        weightsHint: "torchvision ResNet34_Weights.IMAGENET1K_V1: resnet34-b627a593.pth",
        inFeatures: 512, inputSize: 224, evalResize: 256,
        weightSets: [
            WeightSetInfo("IMAGENET1K_V1", url: "https://download.pytorch.org/models/resnet34-b627a593.pth",
                          crop: 224, resize: 256, top1: 73.314),
        ],
        classifierKey: "fc",
        build: { host, b in runBuild(host, b) { try buildResNet($0, resnet34) } }),
    BackboneInfo(
        name: "resnet50",
        summary: "ResNet-50 (He et al. 2015): 4 stages of bottleneck residual blocks, 23.5M parameters",
        weightsHint: "torchvision ResNet50_Weights.IMAGENET1K_V2: resnet50-11ad3fa6.pth (V1: resnet50-0676ba61.pth)",
        inFeatures: 2048, inputSize: 224, evalResize: 232,
        weightSets: [
            WeightSetInfo("IMAGENET1K_V2", url: "https://download.pytorch.org/models/resnet50-11ad3fa6.pth",
                          crop: 224, resize: 232, top1: 80.858),
            WeightSetInfo("IMAGENET1K_V1", url: "https://download.pytorch.org/models/resnet50-0676ba61.pth",
                          crop: 224, resize: 256, top1: 76.13),
        ],
        classifierKey: "fc",
        build: { host, b in runBuild(host, b) { try buildResNet($0, resnet50) } }),
])

@_cdecl("finetune_plugin_entry")
public func finetunePluginEntry(_ hostMajor: UInt32, _ hostMinor: UInt32) -> UnsafePointer<ft_plugin_desc>? {
    hostMajor == FT_ABI_MAJOR ? descriptor : nil
}
