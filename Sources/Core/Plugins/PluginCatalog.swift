import Foundation
import PluginABI

/// A plugin file that could not be used, and why.
public struct PluginProblem: Sendable, CustomStringConvertible {
    public var path: String
    public var reason: String
    public var description: String { "\(path): \(reason)" }
}

/// Every backbone found in the plugin folders, and the files that failed.
///
/// Folders are searched in order: `--plugin-dir` folders, then `FINETUNE_PLUGIN_PATH`
/// (colon-separated), then `./plugins`, then the folder of the executable (where the
/// built-in plugins are built). Each `*.so` file is opened with
/// `RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE` and never closed. A broken file is reported and
/// skipped; the others still load. The first file to claim a backbone name keeps it.
public struct PluginCatalog: Sendable {
    public private(set) var backbones: [Backbone] = []
    public private(set) var problems: [PluginProblem] = []

    /// Plugin folders in search order.
    public static func searchPath(pluginDirs: [String] = [],
                                  environment: [String: String] = ProcessInfo.processInfo.environment,
                                  executableDir: String? = Self.executableDir) -> [String] {
        var dirs = pluginDirs
        if let extra = environment["FINETUNE_PLUGIN_PATH"] {
            dirs += extra.split(separator: ":").map(String.init)
        }
        dirs.append("plugins")
        if let executableDir { dirs.append(executableDir) }
        return dirs
    }

    /// The folder holding the running executable (where SwiftPM builds the built-in plugins).
    public static var executableDir: String? {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments.first
        return exe.map { URL(fileURLWithPath: $0).deletingLastPathComponent().path }
    }

    /// Loads every plugin in `directories` (see `searchPath`).
    public init(directories: [String]) {
        var seenFiles = Set<String>()
        var owner: [String: String] = [:]  // backbone name -> plugin file
        for dir in directories {
            for path in Self.pluginFiles(in: dir) {
                let real = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
                guard seenFiles.insert(real).inserted else { continue }
                do {
                    for backbone in try Self.load(path) {
                        if let first = owner[backbone.name] {
                            problems.append(PluginProblem(path: path, reason:
                                "backbone '\(backbone.name)' is already provided by \(first); this one is ignored (rename it or remove one file)"))
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
    }

    /// Loads the plugins found on the default search path plus `pluginDirs`.
    public init(pluginDirs: [String] = []) {
        self.init(directories: Self.searchPath(pluginDirs: pluginDirs))
    }

    public func backbone(named name: String) throws -> Backbone {
        if let b = backbones.first(where: { $0.name == name }) { return b }
        let known = backbones.map(\.name).joined(separator: ", ")
        throw PluginError.unknownBackbone(name: name, known: known)
    }

    /// The `*.so` files directly inside `dir`, sorted by name; none if it does not exist.
    static func pluginFiles(in dir: String) -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return [] }
        return names.filter { $0.hasSuffix(".so") && !$0.hasPrefix(".") }.sorted()
            .map { (dir as NSString).appendingPathComponent($0) }
    }

    /// Opens one plugin file and checks what its descriptor claims.
    static func load(_ path: String) throws -> [Backbone] {
        // A path with a "/" makes dlopen open exactly that file, never a search-path lookup.
        let openPath = path.contains("/") ? path : "./" + path
        guard let handle = dlopen(openPath, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE) else {
            let reason = dlerror().map { String(cString: $0) } ?? "unknown dlopen error"
            throw PluginError.notALibrary(reason: reason)
        }
        guard let symbol = dlsym(handle, FT_ENTRY_SYMBOL) else {
            throw PluginError.noEntry
        }
        let entry = unsafeBitCast(symbol, to: ft_plugin_entry_fn.self)
        guard let desc = entry(FT_ABI_MAJOR, FT_ABI_MINOR) else {
            throw PluginError.refused
        }
        let d = desc.pointee
        try checkVersion(size: d.struct_size, major: d.abi_major, minor: d.abi_minor,
                         minimumSize: MemoryLayout<ft_plugin_desc>.size, what: "plugin descriptor")
        guard d.backbone_count >= 0, d.backbone_count == 0 || d.backbones != nil else {
            throw PluginError.invalid("the descriptor's backbone list is missing")
        }
        let pluginName = d.plugin_name.map { String(cString: $0) } ?? path
        let pluginVersion = d.plugin_version.map { String(cString: $0) } ?? "?"
        var result: [Backbone] = []
        for i in 0..<Int(d.backbone_count) {
            guard let bp = d.backbones[i] else { throw PluginError.invalid("backbone \(i) is NULL") }
            let b = bp.pointee
            try checkVersion(size: b.struct_size, major: b.abi_major, minor: b.abi_minor,
                             minimumSize: MemoryLayout<ft_backbone_desc>.size, what: "backbone descriptor \(i)")
            guard let namePtr = b.name, let build = b.build else {
                throw PluginError.invalid("backbone \(i) has no name or no build function")
            }
            let name = String(cString: namePtr)
            guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
                throw PluginError.invalid("backbone name '\(name)' must be letters, digits, '-', '_' or '.'")
            }
            guard b.in_features > 0, b.input_size > 0, b.eval_resize >= b.input_size else {
                throw PluginError.invalid("backbone '\(name)': in_features and input_size must be positive and eval_resize at least input_size")
            }
            let backbone = Backbone(
                name: name, summary: b.summary.map { String(cString: $0) } ?? "",
                inFeatures: Int(b.in_features), inputSize: Int(b.input_size), evalResize: Int(b.eval_resize),
                mean: [b.mean.0, b.mean.1, b.mean.2], std: [b.std.0, b.std.1, b.std.2],
                weightsHint: b.weights_hint.map { String(cString: $0) } ?? "",
                pluginPath: path, pluginName: pluginName, pluginVersion: pluginVersion, build: build)
            let graph: Graph
            do { graph = try backbone.makeGraph() } catch {
                throw PluginError.invalid("backbone '\(name)' failed to build: \(error)")
            }
            let built = graph.nodes[graph.features!].outputShape.channels
            guard built == backbone.inFeatures else {
                throw PluginError.invalid("backbone '\(name)' declares in_features \(backbone.inFeatures) but its graph produces \(built) features")
            }
            result.append(backbone)
        }
        return result
    }

    static func checkVersion(size: UInt32, major: UInt32, minor: UInt32, minimumSize: Int, what: String) throws {
        guard major == FT_ABI_MAJOR else {
            throw PluginError.abiMismatch(major: major, minor: minor)
        }
        guard Int(size) >= minimumSize else {
            throw PluginError.invalid("\(what) is \(size) bytes, ABI \(major).\(minor) needs at least \(minimumSize)")
        }
    }
}

/// Why a plugin file or a backbone name could not be used.
public enum PluginError: Error, CustomStringConvertible {
    case notALibrary(reason: String)
    case noEntry
    case refused
    case abiMismatch(major: UInt32, minor: UInt32)
    case invalid(String)
    case unknownBackbone(name: String, known: String)

    public var description: String {
        let header = "Sources/PluginABI/include/finetune_plugin.h"
        switch self {
        case .notALibrary(let reason): return "not a loadable shared library (\(reason))"
        case .noEntry: return "no '\(FT_ENTRY_SYMBOL)' symbol: not a finetune plugin (export it, see \(header))"
        case .refused: return "the plugin refused this host (plugin ABI \(FT_ABI_MAJOR).\(FT_ABI_MINOR))"
        case .abiMismatch(let major, let minor):
            return "built for plugin ABI \(major).\(minor), this finetune speaks \(FT_ABI_MAJOR).x — rebuild it against \(header)"
        case .invalid(let reason): return reason
        case .unknownBackbone(let name, let known):
            return "no backbone named '\(name)'; installed: \(known.isEmpty ? "none" : known) (see `finetune backbones`)"
        }
    }
}
