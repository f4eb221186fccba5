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
        guard numClasses >= 1 else { throw ValidationError("--num-classes must be at least 1") }
        if let inputSize, inputSize < 1 { throw ValidationError("--input-size must be positive") }
    }

    func run() throws {
        let backbone = try plugins.catalog().backbone(named: backbone)
        let graph = try backbone.makeClassifier(classes: numClasses, inputSize: inputSize)
        print("\(backbone.name) (\(backbone.pluginPath)), input \(inputSize ?? backbone.inputSize)px, \(numClasses) classes")
        print(graph.summaryTable())
    }
}
