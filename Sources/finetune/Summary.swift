import ArgumentParser
import FineTuneCore

struct Summary: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a backbone's layers with a linear head attached.")

    @OptionGroup var plugins: PluginOptions

    @Option(help: "The backbone, as `finetune backbones` lists it.")
    var backbone: String

    @Option(help: "Classes of the linear head.")
    var numClasses = 1000

    @Option(help: "Square input size in pixels (default: the backbone's training size).")
    var inputSize: Int?

    func validate() throws {
        try validateOptions {
            try InvalidOption.check(numClasses, in: OptionRange.classes, "--num-classes")
            try InvalidOption.check(inputSize, in: OptionRange.imageSide, "--input-size", unit: "pixels")
        }
    }

    func run() throws {
        let backbone = try plugins.catalog().backbone(named: backbone)
        let graph = try backbone.makeClassifier(classes: numClasses, inputSize: inputSize)
        print("\(backbone.name.terminalSafe) (\(backbone.pluginPath.terminalSafe)), input \(inputSize ?? backbone.inputSize)px, \(numClasses) classes")
        print(graph.summaryTable().terminalSafeLines)
    }
}
