import Foundation
import PluginABI

/// A plugin file that could not be used, and why.
public struct PluginProblem: Sendable, CustomStringConvertible {
    public var path: String
    public var reason: String
    /// The path and the reason, with any control character in the path escaped.
    public var description: String { "\(PluginText.escaped(path)): \(reason)" }
}

/// Every backbone found in the plugin folders, and the files that failed.
///
/// Plugins are code, so they load only from folders the user chose, in this order:
/// `--plugin-dir` folders (an app's `pluginDirs`), then `FINETUNE_PLUGIN_PATH` (colon-separated),
/// then the per-user folder `$XDG_DATA_HOME/finetune/plugins` (default
/// `~/.local/share/finetune/plugins`), then the folder of the running executable: where SwiftPM
/// builds the built-in plugins, for `finetune` and for an app that depends on their products
/// (`ResNet`, `MobileNet`, ...) alike. Never the current directory: a dataset someone else
/// unpacked must not be able to run its own code.
///
/// Each `*.so` file is checked and opened by `PluginLoader`. A broken file is reported and
/// skipped; the others still load. The first file to claim a backbone name keeps it, also
/// across folders added later (`add(directory:)`).
public struct PluginCatalog: Sendable {
    public private(set) var backbones: [Backbone] = []
    public private(set) var problems: [PluginProblem] = []
    /// The folders searched, in order (those that do not exist included).
    public private(set) var directories: [String] = []
    /// Plugin files opened, with symbolic links resolved: each is loaded once.
    private var seenFiles = Set<String>()
    /// Backbone name -> the plugin file that provides it.
    private var owner: [String: String] = [:]

    /// Plugin folders in search order.
    public static func searchPath(pluginDirs: [String] = [],
                                  environment: [String: String] = ProcessInfo.processInfo.environment,
                                  executableDir: String? = Self.executableDir) -> [String] {
        var dirs = pluginDirs
        if let extra = environment["FINETUNE_PLUGIN_PATH"] {
            dirs += extra.split(separator: ":").map(String.init)
        }
        if let user = userPluginDir(environment: environment) { dirs.append(user) }
        if let executableDir { dirs.append(executableDir) }
        return dirs
    }

    /// The per-user plugin folder: `$XDG_DATA_HOME/finetune/plugins`, or
    /// `$HOME/.local/share/finetune/plugins` when XDG_DATA_HOME is unset, empty or relative
    /// (the XDG Base Directory specification ignores a relative path); nil without an absolute HOME.
    public static func userPluginDir(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        let data: String
        if let xdg = environment["XDG_DATA_HOME"], xdg.hasPrefix("/") {
            data = xdg
        } else if let home = environment["HOME"], home.hasPrefix("/") {
            data = (home as NSString).appendingPathComponent(".local/share")
        } else {
            return nil
        }
        return (data as NSString).appendingPathComponent("finetune/plugins")
    }

    /// The folder holding the running executable, `finetune` or an app (where SwiftPM builds the
    /// built-in plugins), with symbolic links resolved.
    public static var executableDir: String? {
        executableDir(processLink: try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"),
                      argument0: CommandLine.arguments.first)
    }

    /// The folder of the executable `/proc/self/exe` names, else of `argument0` when it is a path
    /// (holds a "/"); nil for a bare name, which the shell found on PATH: taking it as a file
    /// of the current directory would load plugins from there.
    static func executableDir(processLink: String?, argument0: String?) -> String? {
        let exe = processLink.flatMap { $0.hasPrefix("/") ? $0 : nil }
            ?? argument0.flatMap { $0.contains("/") ? resolved($0) : nil }
        return exe.map { URL(fileURLWithPath: $0).deletingLastPathComponent().path }
    }

    /// Loads every plugin in `directories`, in order (see `searchPath`).
    public init(directories: [String]) {
        for dir in directories { add(directory: dir) }
    }

    /// Loads the plugins found on the default search path plus `pluginDirs`, which come first
    /// (`--plugin-dir`; for an app, the folders it ships plugins in).
    public init(pluginDirs: [String] = []) {
        self.init(directories: Self.searchPath(pluginDirs: pluginDirs))
    }

    /// Loads the plugins of one more folder, after those already searched: a backbone that an
    /// earlier file provides keeps it (the later one is reported in `problems`), and a file
    /// already loaded, under any name, is skipped. A folder that does not exist adds nothing.
    public mutating func add(directory dir: String) {
        directories.append(dir)
        for path in Self.pluginFiles(in: dir) {
            guard seenFiles.insert(Self.resolved(path)).inserted else { continue }
            do {
                for backbone in try PluginLoader.load(path) {
                    if let first = owner[backbone.name] {
                        problems.append(PluginProblem(path: path, reason:
                            "backbone '\(backbone.name)' is already provided by \(PluginText.escaped(first)); this one is ignored (rename it or remove one file)"))
                        continue
                    }
                    owner[backbone.name] = path
                    backbones.append(backbone)
                }
            } catch {
                problems.append(PluginProblem(path: path, reason: "\(error)"))
            }
        }
    }

    /// The backbone called `name`: exactly, else with case, '_', '-' and '.' not told apart
    /// (`EfficientNet_B3`, torchvision's `shufflenet_v2_x1_0`). An unknown name's error suggests
    /// the closest installed one.
    public func backbone(named name: String) throws -> Backbone {
        if let b = backbones.first(where: { $0.name == name }) { return b }
        let key = Self.matchKey(name)
        let loose = backbones.filter { Self.matchKey($0.name) == key }
        if loose.count == 1 { return loose[0] }
        let known = backbones.map(\.name).joined(separator: ", ")
        if loose.count > 1 {
            throw PluginError.unknownBackbone(name: name, known: known, suggestion: nil,
                                              ambiguous: loose.map(\.name))
        }
        let closest = backbones.map { ($0.name, Self.editDistance(Self.matchKey($0.name), key)) }.min { $0.1 < $1.1 }
        let suggestion = closest.flatMap { $0.1 <= max(2, key.count / 4) ? $0.0 : nil }
        throw PluginError.unknownBackbone(name: name, known: known, suggestion: suggestion, ambiguous: [])
    }

    /// A name as `backbone(named:)` compares it: lower case, '_' and '.' as '-'.
    static func matchKey(_ name: String) -> String {
        String(name.lowercased().map { $0 == "_" || $0 == "." ? "-" : $0 })
    }

    /// Levenshtein distance, over characters (names are short: at most a few dozen).
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a.prefix(256)), b = Array(b.prefix(256))
        var previous = Array(0...b.count)
        for (i, x) in a.enumerated() {
            var row = [i + 1]
            for (j, y) in b.enumerated() {
                row.append(min(previous[j + 1] + 1, row[j] + 1, previous[j] + (x == y ? 0 : 1)))
            }
            previous = row
        }
        return previous[b.count]
    }

    /// The `*.so` files directly inside `dir`, sorted by name; none if it does not exist.
    /// Listing a folder opens none of its entries.
    static func pluginFiles(in dir: String) -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return [] }
        return names.filter { $0.hasSuffix(".so") && !$0.hasPrefix(".") }.sorted()
            .map { (dir as NSString).appendingPathComponent($0) }
    }

    /// `path` with every symbolic link resolved, or `path` itself when it cannot be (a dangling
    /// link or a loop, which loading then reports).
    static func resolved(_ path: String) -> String {
        guard let real = realpath(path, nil) else { return path }
        defer { free(real) }
        return String(cString: real)
    }
}
