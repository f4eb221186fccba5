import ArgumentParser
import FineTuneCore
import Foundation

struct Weights: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List, download and locate the pretrained weights the backbones publish.",
        discussion: """
        A weight set (what `train --weights imagenet` or `--weights IMAGENET1K_V2` names) is looked \
        for in PyTorch's hub cache, $TORCH_HOME/hub/checkpoints (default \
        ~/.cache/torch/hub/checkpoints), then in finetune's cache, $XDG_CACHE_HOME/finetune/weights \
        (default ~/.cache/finetune/weights), where downloads go. Every file is checked against the \
        set's published SHA-256 before it is used. FINETUNE_WEIGHTS_MIRROR=URL downloads from a \
        mirror: its scheme, host and path replace the scheme and host of the declared URL. On Linux \
        the proxy variables https_proxy, http_proxy, all_proxy and no_proxy apply.
        """,
        subcommands: [List.self, Download.self, Path.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Each backbone's weight sets: name, file, ImageNet top-1, and where it is cached.")

        @OptionGroup var plugins: PluginOptions

        @Argument(help: "Backbones to list (default: every installed one).")
        var backbones: [String] = []

        @Flag(help: "Print a JSON array, one object per weight set: backbone, name, default, file_name, url (the one downloaded from), sha256, top1, cached (a path or null).")
        var json = false

        /// One weight set as `--json` prints it.
        struct Entry: Codable {
            var backbone: String
            var name: String
            var `default`: Bool
            var file_name: String
            var url: String
            var sha256: String
            var top1: Double
            /// The file in a cache folder, unchecked (`weights path` checks it).
            var cached: String?
        }

        func run() throws {
            let catalog = plugins.catalog()
            let chosen = try backbones.isEmpty ? catalog.backbones : backbones.map { try catalog.backbone(named: $0) }
            let source = PretrainedWeights()
            let entries = try chosen.flatMap { b in
                try b.weightSets.enumerated().map { i, set in
                    Entry(backbone: b.name, name: set.name, default: i == 0, file_name: set.file_name,
                          url: try source.url(of: set).absoluteString, sha256: set.sha256, top1: set.top1,
                          cached: source.cache.file(of: set)?.path)
                }
            }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                print(String(decoding: try encoder.encode(entries), as: UTF8.self))
                return
            }
            let rows = [["backbone", "weight set", "", "file", "top-1", "cached"]] + entries.map {
                [$0.backbone.terminalSafe, $0.name, $0.default ? "default" : "", $0.file_name.terminalSafe,
                 String(format: "%.3f", $0.top1), $0.cached?.terminalSafe ?? "-"]
            }
            printTable(rows)
            let without = chosen.filter { $0.weightSets.isEmpty }.map(\.name.terminalSafe)
            if !without.isEmpty { print("no published weights: \(without.joined(separator: ", "))") }
            print("searched: \(source.cache.folders.map(\.path).joined(separator: ", ")); downloads go to the last")
        }
    }

    struct Download: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Download a backbone's weight set into finetune's cache (unless a cache has it) and print its path.")

        @OptionGroup var choice: WeightSetChoice

        func run() throws {
            let (_, set) = try choice.resolve()
            let source = PretrainedWeights()
            let progress = DownloadProgressPrinter()
            defer { progress.finishLine() }
            let file = try source.file(of: set, progress: progress.show)
            progress.finishLine()
            print(file.path)
        }
    }

    struct Path: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the local file of a backbone's weight set, checked against its SHA-256; an error when no cache has it.")

        @OptionGroup var choice: WeightSetChoice

        func run() throws {
            let (backbone, set) = try choice.resolve()
            let source = PretrainedWeights()
            guard let file = try source.cachedFile(of: set) else {
                throw WeightsError.notCached(backbone: backbone.name, set: set.name, fileName: set.file_name,
                                             folders: source.cache.folders.map(\.path))
            }
            print(file.path)
        }
    }
}

/// The backbone and the weight set a `weights` subcommand names.
struct WeightSetChoice: ParsableArguments {
    @OptionGroup var plugins: PluginOptions

    @Argument(help: "The backbone, as `finetune backbones` lists it.")
    var backbone: String

    @Argument(help: "The weight set: imagenet (the backbone's default, the first it lists) or a set's name, in any case.")
    var name = WeightsArgument.defaultSetName

    func resolve() throws -> (Backbone, WeightSet) {
        let b = try plugins.catalog().backbone(named: backbone)
        return (b, try WeightsArgument.weightSet(named: name, of: b))
    }
}
