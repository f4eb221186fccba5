import ArgumentParser
import FineTuneCore

struct DemoData: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo-data",
        abstract: "Write a small synthetic image-folder dataset (3 classes, JPEG and PNG) for trying finetune out.")

    @Argument(help: "The folder to create: FOLDER/train/<class>, FOLDER/val/<class>, FOLDER/holdout.")
    var folder: String

    @Option(help: "Training images per class (validation gets a quarter as many).")
    var perClass = 100

    @Option(help: "Seed of the generated images.")
    var seed: UInt64 = 7

    func validate() throws {
        try validateOptions { try InvalidOption.check(perClass, in: 1...10_000, "--per-class") }
    }

    func run() throws {
        let n = try DemoDataset.write(to: folder, perClass: perClass, seed: seed)
        print("wrote \(n) images of \(DemoDataset.classes.joined(separator: ", ")) to \(folder)")
        print("fine-tune on them from ImageNet weights (from PyTorch's cache, or downloaded once) with:\n"
              + "  finetune train --backbone resnet18 --data \(folder) --weights imagenet --output runs/demo")
    }
}
