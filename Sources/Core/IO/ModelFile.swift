import Foundation

/// A trained (or imported) classifier in one file: safetensors holding the backbone tensors
/// under torchvision's names plus the head's `head.*` tensors, and `__metadata__`
/// with everything `predict` needs besides the backbone plugin (DESIGN §6):
///
///     format_version  "1"
///     backbone        e.g. "resnet18";  plugin_version  the plugin's version string
///     classes         JSON array of class names, in logit order
///     head            "linear" or "mlp:128,64" (see HeadSpec)
///     input_size, eval_resize   integers as text;  mean, std  JSON arrays of 3 numbers
///     interpolation   "bilinear" or "bicubic": the evaluation resize's filter (absent in files
///                     written before it was recorded: bilinear)
///     provenance      JSON object (see `Provenance`)
///
/// Written atomically (temporary file, fsync, rename), so a crash never leaves half a model.
public struct ModelFile: Sendable {
    public static let formatVersion = "1"

    public var backbone: String
    public var pluginVersion: String
    /// Class names in the order of the head's outputs.
    public var classes: [String]
    /// The head, as `HeadSpec` writes it: "linear" or "mlp:128,64".
    public var head: String
    public var inputSize: Int
    public var evalResize: Int
    public var mean: [Float]
    public var std: [Float]
    /// The evaluation resize's filter, as the model was validated with.
    public var interpolation: Interpolation
    public var provenance: Provenance
    /// Backbone tensors then `head.*`, in the graph's order.
    public var tensors: [NamedTensor]

    public init(backbone: String, pluginVersion: String, classes: [String], head: String = "linear",
                inputSize: Int, evalResize: Int, mean: [Float], std: [Float], interpolation: Interpolation = .bilinear,
                provenance: Provenance, tensors: [NamedTensor]) {
        self.backbone = backbone
        self.pluginVersion = pluginVersion
        self.classes = classes
        self.head = head
        self.inputSize = inputSize
        self.evalResize = evalResize
        self.mean = mean
        self.std = std
        self.interpolation = interpolation
        self.provenance = provenance
        self.tensors = tensors
    }

    /// A model of `backbone` with its descriptor's sizes and normalisation.
    public init(backbone: Backbone, classes: [String], provenance: Provenance, tensors: [NamedTensor]) {
        self.init(backbone: backbone.name, pluginVersion: backbone.pluginVersion, classes: classes,
                  inputSize: backbone.inputSize, evalResize: backbone.evalResize,
                  mean: backbone.mean, std: backbone.std, interpolation: backbone.evalInterpolation,
                  provenance: provenance, tensors: tensors)
    }

    // MARK: writing

    /// The `__metadata__` map.
    public var metadata: [String: String] {
        [
            "format_version": Self.formatVersion,
            "backbone": backbone,
            "plugin_version": pluginVersion,
            "classes": Self.json(classes),
            "head": head,
            "input_size": String(inputSize),
            "eval_resize": String(evalResize),
            "mean": Self.json(mean),
            "std": Self.json(std),
            "interpolation": interpolation.rawValue,
            "provenance": Self.json(provenance),
        ]
    }

    /// Writes the model atomically; an existing file at `url` is replaced only when complete.
    /// A model `validate` refuses is not written: what is written reads back.
    public func write(to url: URL) throws {
        try validate(file: url.path)
        try SafeTensorsWriter.write(tensors, metadata: metadata, to: url)
    }

    private static func json<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try! encoder.encode(value), as: UTF8.self)
    }

    // MARK: reading

    /// Reads a model file and checks its metadata (see `validate`); errors name the file and the key.
    public init(contentsOf url: URL) throws {
        let file = try SafeTensorsFile(contentsOf: url)
        try self.init(file, name: url.path)
    }

    /// Parses a model file's bytes and checks its metadata; `file` names them in errors.
    public init(data: Data, file: String) throws {
        try self.init(try SafeTensorsFile(data: data, file: file), name: file)
    }

    /// Reads a model file and finds its backbone's plugin in `catalog`.
    public static func load(contentsOf url: URL, catalog: PluginCatalog) throws -> (model: ModelFile, backbone: Backbone) {
        let model = try ModelFile(contentsOf: url)
        return (model, try model.backbone(in: catalog, file: url.path))
    }

    init(_ file: SafeTensorsFile, name: String) throws {
        let m = file.metadata
        func bad(_ reason: String, hint: String? = nil) -> WeightsFileError {
            WeightsFileError(file: name, reason: reason, hint: hint)
        }
        guard let version = m["format_version"] else {
            throw bad("not a finetune model file (its metadata has no format_version)",
                      hint: "pretrained weights go to `finetune import` or `finetune train --weights`")
        }
        guard version == Self.formatVersion else {
            throw bad("model format version \(version.quotedForTerminal); this finetune reads version \(Self.formatVersion)",
                      hint: "use the finetune release that wrote it, or a newer one")
        }
        func field(_ key: String) throws -> String {
            guard let v = m[key] else { throw bad("metadata key '\(key)' is missing") }
            return v
        }
        func decode<T: Decodable>(_ key: String, as type: T.Type) throws -> T {
            do { return try JSONDecoder().decode(T.self, from: Data(try field(key).utf8)) } catch let e as WeightsFileError {
                throw e
            } catch {
                throw bad("metadata key '\(key)' is not a valid JSON \(T.self)")
            }
        }
        func interpolation(_ value: String?) throws -> Interpolation {
            guard let value else { return .bilinear }
            guard let i = Interpolation(rawValue: value) else {
                throw bad("metadata key 'interpolation' is \(value.quotedForTerminal), not \"bilinear\" or \"bicubic\"")
            }
            return i
        }
        func integer(_ key: String) throws -> Int {
            guard let i = Int(try field(key)) else { throw bad("metadata key '\(key)' is not an integer") }
            return i
        }
        self.init(backbone: try field("backbone"), pluginVersion: m["plugin_version"] ?? "?",
                  classes: try decode("classes", as: [String].self), head: try field("head"),
                  inputSize: try integer("input_size"), evalResize: try integer("eval_resize"),
                  mean: try decode("mean", as: [Float].self), std: try decode("std", as: [Float].self),
                  interpolation: try interpolation(m["interpolation"]),
                  provenance: try decode("provenance", as: Provenance.self), tensors: file.tensors)
        try validate(file: name)
    }

    /// The head this model file describes.
    public var headSpec: HeadSpec {
        (try? HeadSpec(parsing: head)) ?? .linear
    }

    /// The plugin backbone this model needs; an error naming it when it is not installed.
    public func backbone(in catalog: PluginCatalog, file: String) throws -> Backbone {
        guard let b = catalog.backbones.first(where: { $0.name == backbone }) else {
            let installed = catalog.backbones.map(\.name).joined(separator: ", ")
            throw WeightsFileError(file: file, reason: "needs backbone '\(backbone)' (plugin version \(pluginVersion)), "
                                       + "which no installed plugin provides (installed: \(installed.isEmpty ? "none" : installed))",
                                   hint: "pass --plugin-dir with the folder of the plugin that provides '\(backbone)', or copy it to the per-user "
                                       + "plugin folder; an app depends on the plugin's product or adds its folder (PluginCatalog(pluginDirs:))")
        }
        return b
    }

    /// The backbone's graph with this model's head, and its tensors by name, every key checked.
    public func graphAndWeights(backbone b: Backbone, file: String) throws -> (graph: Graph, weights: [String: NamedTensor]) {
        try validate(file: file)
        let graph = try b.makeClassifier(classes: classes.count, head: headSpec, inputSize: inputSize)
        let weights = try StateDict(tensors: tensors, file: file).matched(to: graph, classifier: .exact)
        return (graph, weights)
    }
}

/// Where a model came from, stored as JSON in the model file's `provenance` metadata.
public struct Provenance: Codable, Equatable, Sendable {
    /// "import" or "train".
    public var command: String
    /// The pretrained weights' file name (no folders).
    public var source: String?
    public var strategy: String?
    public var stage: String?
    public var epoch: Int?
    /// e.g. "val_accuracy", "val_loss".
    public var metrics: [String: Double]
    /// ISO 8601, UTC.
    public var created: String?

    public init(command: String, source: String? = nil, strategy: String? = nil, stage: String? = nil,
                epoch: Int? = nil, metrics: [String: Double] = [:], created: String? = nil) {
        self.command = command
        self.source = source
        self.strategy = strategy
        self.stage = stage
        self.epoch = epoch
        self.metrics = metrics
        self.created = created
    }
}
