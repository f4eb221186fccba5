import ArgumentParser
import FineTuneCore
import Foundation

struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Turn a whole pretrained checkpoint into a model file that predicts with its own classifier.",
        discussion: """
        The checkpoint's classifier (fc.* or classifier.1.*) becomes the model's head. Every key \
        is checked against the backbone: a missing, surplus or misshapen key is an error naming it.
        """)

    @OptionGroup var plugins: PluginOptions

    @Option(help: "The backbone the weights belong to, as `finetune backbones` lists it.")
    var backbone: String

    @Option(help: ArgumentHelp("A torchvision .pth (torch.save of a state_dict) or a .safetensors file, or a weight set the backbone declares: imagenet (its default) or a set's name (`finetune weights list`), from the caches or downloaded.", valueName: "imagenet|NAME|FILE"))
    var weights: String

    @Option(help: "The model file to write (.safetensors).")
    var output: String

    @Option(help: "Class names, one per line, in the classifier's output order (default: class0, class1, ...).")
    var classes: String?

    func run() throws {
        let backbone = try plugins.catalog().backbone(named: backbone)
        let download = DownloadProgressPrinter()
        defer { download.finishLine() }
        let (file, _) = try PretrainedWeights().resolve(weights, backbone: backbone, progress: download.show)
        let stateDict = try StateDict.load(contentsOf: file)
        let names = try classes.map { try ModelFile.readClassNames(contentsOf: URL(fileURLWithPath: $0)) }
        let model = try ModelFile.importing(stateDict, backbone: backbone, classNames: names)
        try model.write(to: URL(fileURLWithPath: output))
        let parameters = model.tensors.reduce(0) { $0 + $1.count }
        print("\(output): \(backbone.name), \(model.classes.count) classes, \(formatCount(parameters)) values")
    }
}
