import ArgumentParser
import FineTuneCore
import Foundation

struct Backbones: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the installed backbones.",
        discussion: """
        Plugins load from --plugin-dir folders, then FINETUNE_PLUGIN_PATH (colon-separated), \
        then the per-user folder $XDG_DATA_HOME/finetune/plugins (default \
        ~/.local/share/finetune/plugins), then the folder of this executable; never from the \
        current directory. Broken plugin files are reported on stderr, one line each; the others still list. \
        Parameters are the backbone's without a head; GFLOPs are one image's forward pass at the \
        backbone's input size, a multiply-add counted as 2 (torchvision's tables count multiply-adds); \
        top-1 is the ImageNet accuracy published for the backbone's default weights, the first it \
        lists (--json gives every weight set: file name, URL, SHA-256, evaluation crop, resize and \
        interpolation, top-1; `finetune weights list` shows where each is cached, and         train --weights imagenet fetches the default).
        """)

    @OptionGroup var plugins: PluginOptions

    @Flag(help: "Print a JSON array: name, in_features, input_size, eval_resize, parameters, gflops, weight_sets, classifier_key, plugin, ...")
    var json = false

    func run() throws {
        let infos = try plugins.catalog().backbones.map(BackboneInfo.init)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(infos), as: UTF8.self))
            return
        }
        if infos.isEmpty {
            print("No backbones found. Build the built-in plugins (swift build), copy a plugin to "
                  + "\(PluginCatalog.userPluginDir() ?? "~/.local/share/finetune/plugins") or pass --plugin-dir.")
            return
        }
        let rows = [["name", "in_features", "input", "eval resize", "parameters", "GFLOPs", "top-1", "weights", "plugin"]] + infos.map {
            [$0.name.terminalSafe, String($0.in_features), String($0.input_size), String($0.eval_resize),
             formatCount($0.parameters), String(format: "%.2f", $0.gflops),
             $0.weight_sets.first.map { String(format: "%.1f", $0.top1) } ?? "-",
             $0.weight_sets.isEmpty ? "-" : $0.weight_sets.map(\.name.terminalSafe).joined(separator: ","), $0.plugin.terminalSafe]
        }
        printTable(rows)
    }
}
