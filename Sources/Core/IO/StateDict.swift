import Foundation

/// An ordered list of named Float32 tensors read from a weights file: a torchvision `.pth`
/// (zip format, read with a restricted unpickler) or a `.safetensors` file (timm, Hugging
/// Face, or a finetune model file). The format is recognised from the content, not the name.
///
/// Keys keep the file's names except for a `module.` prefix (left by `nn.DataParallel`),
/// which is removed. Integer buffers such as `num_batches_tracked` (int64 in torch files) are
/// converted to Float32 like everything else. See `StateDict+Matching.swift` for checking the
/// keys against a backbone graph.
public struct StateDict: Sendable {
    /// The tensors in file order.
    public private(set) var tensors: [NamedTensor]
    /// The file, as named by the user, for error messages.
    public var file: String
    private var index: [String: Int] = [:]

    /// - Parameter tensors: names must be unique.
    public init(tensors: [NamedTensor], file: String) throws {
        self.tensors = tensors
        self.file = file
        for (i, t) in tensors.enumerated() {
            guard index.updateValue(i, forKey: t.name) == nil else {
                throw WeightsFileError(file: file, reason: "key '\(t.name)' appears twice")
            }
        }
    }

    /// Reads a `.pth` or `.safetensors` file.
    public static func load(contentsOf url: URL) throws -> StateDict {
        try read(data: try readMapped(url), file: url.path)
    }

    /// Parses the bytes of a weights file; `file` names it in errors.
    public static func read(data: Data, file: String) throws -> StateDict {
        let tensors: [NamedTensor]
        switch Format(of: data) {
        case .empty:
            throw WeightsFileError(file: file, reason: "the file is empty", hint: "download or save it again")
        case .torchZip, .torchLegacy:
            tensors = try TorchCheckpoint.read(data: data, file: file)
        case .safetensors:
            tensors = try SafeTensorsFile(data: data, file: file).tensors
        case .unknown:
            throw WeightsFileError(file: file, reason: "neither a torch checkpoint (.pth, a zip) nor a safetensors file",
                                   hint: "pass a file written by torch.save(model.state_dict(), path) or a .safetensors file")
        }
        return try StateDict(tensors: tensors.map(stripModulePrefix), file: file)
    }

    /// The kinds of weight files, told apart by their first bytes.
    enum Format {
        case empty, torchZip, torchLegacy, safetensors, unknown

        init(of data: Data) {
            if data.isEmpty { self = .empty; return }
            if ZipArchive.looksLikeZip(data) { self = .torchZip; return }
            // safetensors: a u64 length, then the JSON header's opening brace.
            if data.count >= 9, data[data.startIndex + 8] == UInt8(ascii: "{") { self = .safetensors; return }
            if TorchCheckpoint.looksLikeLegacy(data) { self = .torchLegacy; return }
            self = .unknown
        }
    }

    private static func stripModulePrefix(_ t: NamedTensor) -> NamedTensor {
        guard t.name.hasPrefix("module.") else { return t }
        var t = t
        t.name.removeFirst("module.".count)
        return t
    }

    public var names: [String] { tensors.map(\.name) }

    public subscript(name: String) -> NamedTensor? {
        index[name].map { tensors[$0] }
    }
}
