import ArgumentParser
import FineTuneCore
import FineTuneExport
import Foundation

/// What `finetune export` writes.
enum ExportFormat: String, CaseIterable, ExpressibleByArgument {
    case onnx
    case safetensorsBackbone = "safetensors-backbone"
}

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a model file as ONNX, or as a torchvision state_dict.",
        discussion: """
        onnx: the backbone and head in inference form (batch norm folded, dropout removed), opset \
        \(ONNXExport.opset), input `input` (batch, 3, H, W) float NCHW RGB normalised with the model's \
        mean and std, output `logits` (batch, classes). Its metadata_props hold the class names and \
        the preprocessing (resize, crop, interpolation, mean, std). With --with-preprocessing the \
        input is RGB in [0, 1], normalised by the graph, and a softmax output `probabilities` is added.

        safetensors-backbone: the tensors under torchvision's keys, the linear head under the \
        backbone's classifier key, for torchvision.models.NAME(num_classes=K).load_state_dict(). \
        An MLP head is left out.
        """)

    @OptionGroup var plugins: PluginOptions

    @Option(help: "The model file (from `finetune train` or `finetune import`).")
    var model: String

    @Option(help: "The file to write.")
    var output: String

    @Option(help: "onnx or safetensors-backbone.")
    var format: ExportFormat = .onnx

    @Flag(help: "ONNX only: normalisation as the graph's first nodes and a softmax output.")
    var withPreprocessing = false

    func validate() throws {
        if withPreprocessing && format != .onnx {
            throw ValidationError("--with-preprocessing applies to --format onnx only")
        }
    }

    func run() throws {
        let (file, backbone) = try ModelFile.load(contentsOf: URL(fileURLWithPath: model), catalog: plugins.catalog())
        let url = URL(fileURLWithPath: output)
        switch format {
        case .onnx:
            let onnx = try ONNXExport.model(file, backbone: backbone, file: model, withPreprocessing: withPreprocessing)
            try ONNXExport.write(onnx, to: url)
            let nodes = onnx.graph.node.count, values = file.tensors.reduce(0) { $0 + $1.count }
            print("\(output): ONNX opset \(ONNXExport.opset), \(backbone.name), \(nodes) nodes, "
                  + "\(file.classes.count) classes, \(formatCount(values)) values")
        case .safetensorsBackbone:
            let result = try TorchvisionExport.write(file, backbone: backbone, file: model, to: url)
            let head = result.classifierKey.map { "head as \($0)" }
                ?? (file.headSpec.hidden.isEmpty ? "head left out (the backbone declares no classifier key)"
                                                 : "head left out (an MLP head has no torchvision counterpart)")
            print("\(output): \(backbone.name), \(result.tensors.count) tensors under torchvision's keys, \(head)")
        }
    }
}
