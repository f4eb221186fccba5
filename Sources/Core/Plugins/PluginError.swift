import PluginABI

/// Why a plugin file or a backbone name could not be used.
public enum PluginError: Error, CustomStringConvertible {
    case notRegularFile(reason: String)
    case notALibrary(reason: String)
    case truncated(reason: String)
    case noEntry
    case refused
    case abiMismatch(major: UInt32, minor: UInt32)
    case invalid(String)
    case unknownBackbone(name: String, known: String, suggestion: String? = nil, ambiguous: [String] = [])

    public var description: String {
        let header = "Sources/PluginABI/include/finetune_plugin.h"
        switch self {
        case .notRegularFile(let reason):
            return "\(reason): not opened (remove it or rename it away from *.so)"
        case .notALibrary(let reason): return "not a loadable shared library (\(reason))"
        case .truncated(let reason):
            return "truncated or corrupt shared library (\(reason)): not loaded, rebuild or copy it again"
        case .noEntry: return "no '\(FT_ENTRY_SYMBOL)' symbol: not a finetune plugin (export it, see \(header))"
        case .refused: return "the plugin refused this host (plugin ABI \(FT_ABI_MAJOR).\(FT_ABI_MINOR))"
        case .abiMismatch(let major, let minor):
            return "built for plugin ABI \(major).\(minor), this finetune speaks \(FT_ABI_MAJOR).x — rebuild it against \(header)"
        case .invalid(let reason): return reason
        case .unknownBackbone(let name, let known, let suggestion, let ambiguous):
            if !ambiguous.isEmpty {
                return "backbone '\(PluginText.escaped(name))' could be \(ambiguous.map { "'\($0)'" }.joined(separator: " or ")): give the exact name"
            }
            let guess = suggestion.map { " (did you mean '\($0)'?)" } ?? ""
            return "no backbone named '\(PluginText.escaped(name))'\(guess); installed: \(known.isEmpty ? "none" : known) (see `finetune backbones`)"
        }
    }
}
