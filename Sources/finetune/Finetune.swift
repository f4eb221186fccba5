import ArgumentParser
import FineTuneCore
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

@main
struct Finetune: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "finetune",
        abstract: "Fine-tune pretrained CNN image classifiers on the CPU.",
        discussion: """
        Backbones are plugins: shared libraries found in --plugin-dir folders, \
        FINETUNE_PLUGIN_PATH, the per-user folder $XDG_DATA_HOME/finetune/plugins \
        (default ~/.local/share/finetune/plugins) and the folder of this executable. \
        Never the current directory: plugins are code.
        """,
        version: FineTuneVersion.description,
        subcommands: [Backbones.self, Summary.self, Train.self, LRFind.self, Predict.self, Evaluate.self, Import.self, Export.self, Weights.self, DemoData.self, Bench.self, BenchData.self]
    )

    static func main() {
        // Line by line even into a file or pipe, so a log shows progress as it happens.
        setvbuf(stdout, nil, _IOLBF, 0)
        // Weight downloads cache nothing over HTTP; Foundation's default shared cache would make a
        // folder in $XDG_CACHE_HOME (a folder that exists is given, and nothing is stored in it).
        URLCache.shared = URLCache(memoryCapacity: 0, diskCapacity: 0, diskPath: NSTemporaryDirectory())
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            // As `exit(withError:)` does, with what an error quotes from outside (a name read
            // from a file, a folder name) made inert for the terminal.
            let code = exitCode(for: error)
            if code == .success { exit(withError: error) }
            let message = fullMessage(for: error)
            if !message.isEmpty { printError(message.terminalSafeLines) }
            Foundation.exit(code.rawValue)
        }
    }
}

/// Where to look for backbone plugins, shared by every subcommand.
struct PluginOptions: ParsableArguments {
    @Option(name: .customLong("plugin-dir"),
            help: "A folder of backbone plugins (*.so) searched first, before FINETUNE_PLUGIN_PATH, the per-user folder and the executable's folder. Repeatable.")
    var pluginDirs: [String] = []

    /// Loads the catalog and reports each broken plugin on stderr, one line each.
    func catalog() -> PluginCatalog {
        let catalog = PluginCatalog(pluginDirs: pluginDirs)
        for problem in catalog.problems {
            printError("warning: skipped plugin \(problem)")
        }
        return catalog
    }
}

func printError(_ message: String) {
    var stderr = StandardError()
    print(message, to: &stderr)
}

struct StandardError: TextOutputStream {
    mutating func write(_ string: String) {
        FileHandle.standardError.write(Data(string.utf8))
    }
}
