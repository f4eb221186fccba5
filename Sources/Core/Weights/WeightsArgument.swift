import Foundation

/// What `--weights` names: a weights file, or one of the weight sets the backbone declares
/// (`imagenet` for its default, the first it lists, or a set's own name such as `IMAGENET1K_V2`,
/// in any case).
public enum WeightsArgument: Equatable, Sendable {
    case file(String)
    case set(String)

    /// The name that stands for a backbone's default weight set.
    public static let defaultSetName = "imagenet"

    /// A plain name (ASCII letters, digits and '_') that is not an existing file names a weight
    /// set; anything else (a path, a name with a '.' or a '/', an existing file) is a file.
    public init(_ value: String, fileExists: (String) -> Bool = { FileManager.default.fileExists(atPath: $0) }) {
        self = PluginText.isPlainName(value, allowing: "_") && !fileExists(value) ? .set(value) : .file(value)
    }

    /// The weight set named, or nil for a file; an unknown name throws, listing the sets.
    public func weightSet(of backbone: Backbone) throws -> WeightSet? {
        guard case .set(let name) = self else { return nil }
        return try Self.weightSet(named: name, of: backbone)
    }

    /// The set `name` stands for: the backbone's default for `imagenet`, else the set of that
    /// name in any case; an unknown name throws, listing the sets.
    public static func weightSet(named name: String, of backbone: Backbone) throws -> WeightSet {
        let sets = backbone.weightSets
        if name.lowercased() == defaultSetName, let first = sets.first { return first }
        if let match = sets.first(where: { $0.name.lowercased() == name.lowercased() }) { return match }
        throw WeightsError.unknownSet(backbone: backbone.name, name: name, sets: sets.map(\.name))
    }
}
