// ResNet18.swift — the resnet18 backbone plugin.
//
// ResNet-18 from He, Zhang, Ren and Sun, "Deep Residual Learning for Image Recognition",
// CVPR 2016 (arXiv:1512.03385), exactly as torchvision builds it
// (torchvision/models/resnet.py: ResNet with BasicBlock, layers [2, 2, 2, 2]), without the
// final fc layer: the host attaches the classifier. Layers carry torchvision's state_dict names.
import PluginABI
import PluginKit

/// layer1...layer4: BasicBlocks per stage, width, stride of the stage's first block.
private let stages: [(blocks: Int, width: Int32, stride: Int32)] = [
    (2, 64, 1), (2, 128, 2), (2, 256, 2), (2, 512, 2),
]

private func buildResNet18(_ net: Net) throws {
    try net.group("stem")
    var x = try net.input(channels: 3)
    x = try net.conv("conv1", x, out: 64, kernel: 7, stride: 2)
    x = try net.batchNorm("bn1", x)
    x = try net.activation("relu", x, FT_ACT_RELU)
    x = try net.maxPool("maxpool", x, kernel: 3, stride: 2, padding: 1)
    var channels: Int32 = 64
    for (i, stage) in stages.enumerated() {
        try net.group("layer\(i + 1)")
        for j in 0..<stage.blocks {
            x = try basicBlock(net, "layer\(i + 1).\(j)", x, in: channels, out: stage.width,
                               stride: j == 0 ? stage.stride : 1)
            channels = stage.width
        }
    }
    try net.setFeatures(try net.globalAvgPool("avgpool", x))
}

/// BasicBlock: 3x3 conv-BN-ReLU, 3x3 conv-BN, plus the shortcut, then ReLU. The shortcut is a
/// 1x1 conv-BN (`downsample`) when the stride or width changes; it is added after bn2 so the
/// tensors come in state_dict order.
private func basicBlock(_ net: Net, _ p: String, _ x: Int32, in inChannels: Int32, out: Int32,
                        stride: Int32) throws -> Int32 {
    var y = try net.conv("\(p).conv1", x, out: out, kernel: 3, stride: stride)
    y = try net.batchNorm("\(p).bn1", y)
    y = try net.activation("\(p).relu", y, FT_ACT_RELU)
    y = try net.conv("\(p).conv2", y, out: out, kernel: 3)
    y = try net.batchNorm("\(p).bn2", y)
    var shortcut = x
    if stride != 1 || inChannels != out {
        shortcut = try net.conv("\(p).downsample.0", x, out: out, kernel: 1, stride: stride)
        shortcut = try net.batchNorm("\(p).downsample.1", shortcut)
    }
    return try net.activation("\(p).relu", try net.add("\(p).add", y, shortcut), FT_ACT_RELU)
}

private let descriptor = makePluginDescriptor(pluginName: "ResNet18 (built-in)", BackboneInfo(
    name: "resnet18",
    summary: "ResNet-18 (He et al. 2015): 4 stages of basic residual blocks, 11.2M parameters",
    weightsHint: "torchvision ResNet18_Weights.IMAGENET1K_V1: resnet18-f37072fd.pth",
    inFeatures: 512, inputSize: 224, evalResize: 256,
    build: { host, b in runBuild(host, b, buildResNet18) }))

@_cdecl("finetune_plugin_entry")
public func finetunePluginEntry(_ hostMajor: UInt32, _ hostMinor: UInt32) -> UnsafePointer<ft_plugin_desc>? {
    hostMajor == FT_ABI_MAJOR ? descriptor : nil
}
