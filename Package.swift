// swift-tools-version:6.0
import PackageDescription

/// Built-in backbones: each is a dynamic library loaded at run time through the plugin ABI.
let builtInPlugins = ["ResNet", "MobileNet", "EfficientNet", "ShuffleNetV2", "RegNet", "DenseNet", "ConvNeXt"]

let package = Package(
    name: "finetune",
    products: [
        .executable(name: "finetune", targets: ["finetune"]),
        .library(name: "FineTuneCore", targets: ["FineTuneCore"]),
    ] + builtInPlugins.map { .library(name: $0, type: .dynamic, targets: [$0]) },
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.28.0"),
    ],
    targets: [
        .target(name: "PluginABI", path: "Sources/PluginABI"),
        // What a backbone plugin written in Swift builds on (the builder table's Swift face).
        .target(name: "PluginKit", dependencies: ["PluginABI"]),
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CJPEG", path: "Sources/CJPEG", pkgConfig: "libjpeg",
                       providers: [.apt(["libjpeg-dev"])]),
        .systemLibrary(name: "CTurboJPEG", path: "Sources/CTurboJPEG", pkgConfig: "libturbojpeg",
                       providers: [.apt(["libturbojpeg0-dev"])]),
        .systemLibrary(name: "CPNG", path: "Sources/CPNG", pkgConfig: "libpng",
                       providers: [.apt(["libpng-dev"])]),
        .target(
            name: "FineTuneCore",
            dependencies: ["PluginABI", "CBLAS", "CJPEG", "CTurboJPEG", "CPNG"],
            path: "Sources/Core"
        ),
        // ONNX's protobuf messages, generated from onnx.proto by tools/generate_onnx_proto.sh.
        .target(name: "ONNXProto", dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")],
                exclude: ["onnx.proto"]),
        // `finetune export`: a model file as ONNX, or as a torchvision-keyed backbone.
        .target(name: "FineTuneExport", dependencies: ["FineTuneCore", "ONNXProto"], path: "Sources/Export"),
        .executableTarget(
            name: "finetune",
            dependencies: ["FineTuneCore", "FineTuneExport", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .testTarget(name: "FineTuneCoreTests", dependencies: ["FineTuneCore", "FineTuneExport", "ONNXProto"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "finetuneTests", dependencies: ["FineTuneCore", "PluginABI", "ONNXProto"]),
    ] + builtInPlugins.map { .target(name: $0, dependencies: ["PluginABI", "PluginKit"], path: "Sources/Plugins/\($0)") },
    swiftLanguageModes: [.v5]
)
