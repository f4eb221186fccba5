import Foundation

/// Reads the tensors of a PyTorch checkpoint written by `torch.save` (the zip format, PyTorch
/// 1.6 and later): `<prefix>/data.pkl` is a pickle of the state_dict whose tensors point at
/// storages `<prefix>/data/<key>`, raw little-endian elements (`<prefix>/byteorder`).
///
/// The pickle goes through `TorchPickle`, which accepts only what a state_dict needs. A
/// tensor that is a view (storage offset, strides) is copied out contiguous, once its sizes
/// and its reach inside the storage are checked (`CheckedSize`, `Limits`). A checkpoint
/// dictionary that wraps the weights under `state_dict`, `model_state_dict` or `model` is
/// unwrapped.
enum TorchCheckpoint {
    static let resaveHint = "re-save it with torch: torch.save(torch.load(OLD, weights_only=True), NEW)"

    /// Whether `data` starts like a pre-1.6 (non-zip) torch.save file: a pickle (PROTO 2..5)
    /// whose first value is torch's 10-byte magic number (LONG1 of length 10).
    static func looksLikeLegacy(_ data: Data) -> Bool {
        let b = data.prefix(4)
        return b.count == 4 && b[b.startIndex] == 0x80 && (2...5).contains(b[b.startIndex + 1])
            && b[b.startIndex + 2] == 0x8a && b[b.startIndex + 3] == 0x0a
    }

    /// The tensors in the pickle's order, converted to Float32.
    static func read(data: Data, file: String) throws -> [NamedTensor] {
        guard ZipArchive.looksLikeZip(data) else {
            if looksLikeLegacy(data) { return try readLegacy(data: data, file: file) }
            throw WeightsFileError(file: file, reason: "not a zip-format torch checkpoint")
        }
        let zip = try ZipArchive(data: data, file: file)
        let pickles = zip.names.filter { $0.hasSuffix("/data.pkl") && $0.dropLast(9).firstIndex(of: "/") == nil }
        guard pickles.count == 1, let pickleName = pickles.first else {
            throw WeightsFileError(file: file, reason: pickles.isEmpty
                ? "no <name>/data.pkl entry: a zip file, but not a torch checkpoint"
                : "several data.pkl entries: \(pickles.joined(separator: ", "))")
        }
        let prefix = String(pickleName.dropLast("data.pkl".count))
        if zip.entries[prefix + "byteorder"] != nil {
            let order = try zip.withBytes(of: prefix + "byteorder") { String(decoding: $0, as: UTF8.self) }
            guard order == "little" else {
                throw WeightsFileError(file: file, reason: order == "big" ? "tensors are stored big-endian; only little-endian is supported"
                                           : "the byteorder entry is neither 'little' nor 'big'",
                                       hint: "save it again on a little-endian machine (x86, ARM)")
            }
        }
        let root = try zip.withBytes(of: pickleName) { try unpickle($0, from: 0, file: file, part: pickleName).value }
        let entries = try stateDictEntries(root, file: file)
        let counts = try elementCounts(entries, fileBytes: data.count, file: file)
        // Each storage is checked (bounds, CRC-32) once, however many tensors view it.
        var tensors = [NamedTensor?](repeating: nil, count: entries.count)
        var viewers: [String: [Int]] = [:], keys: [String] = []
        for (i, (_, t)) in entries.enumerated() {
            if viewers[t.storage.key] == nil { keys.append(t.storage.key) }
            viewers[t.storage.key, default: []].append(i)
        }
        for key in keys {
            let entry = prefix + "data/" + key
            let first = viewers[key]![0]
            guard zip.entries[entry] != nil else {
                throw WeightsFileError(file: file, reason: "tensor '\(entries[first].0)': its storage '\(entry)' is missing from the archive")
            }
            try zip.withBytes(of: entry) { raw in
                for i in viewers[key]! {
                    tensors[i] = try materialize(entries[i].1, count: counts[i], name: entries[i].0, file: file, storage: raw)
                }
            }
        }
        return tensors.map { $0! }
    }

    /// One pickle of the file, with failures turned into errors naming the file.
    static func unpickle(_ bytes: UnsafeRawBufferPointer, from start: Int, file: String, part: String) throws -> (value: TorchPickle.Value, end: Int) {
        do {
            return try TorchPickle.load(bytes, from: start)
        } catch let f as TorchPickle.Failure {
            var hint: String?
            if let global = f.forbiddenGlobal {
                hint = ["torch.nn.", "torchvision.", "timm.", "__main__."].contains(where: global.hasPrefix)
                    ? "this looks like a whole pickled model (torch.save(model)); nothing from it was executed. "
                        + "If you trust it, save its weights only: torch.save(torch.load(OLD, weights_only=False).state_dict(), NEW)"
                    : "this file is not a plain state_dict and may try to run code; nothing from it was executed. "
                        + "Do not load it with torch.load either."
            }
            throw WeightsFileError(file: file, reason: "\(part) at byte \(f.offset): \(f.reason)", hint: hint)
        }
    }

    /// The (key, tensor) pairs of the state_dict at the root, or under a wrapping key.
    static func stateDictEntries(_ root: TorchPickle.Value, file: String) throws -> [(String, TorchPickle.Tensor)] {
        guard case .dict(let dict) = root else {
            throw WeightsFileError(file: file, reason: "the checkpoint holds a single object, not a state_dict",
                                   hint: "save model.state_dict(), not the model or a tensor")
        }
        var result: [(String, TorchPickle.Tensor)] = []
        var others: [String] = []
        for (k, v) in dict.items {
            guard case .string(let key) = k else { throw WeightsFileError(file: file, reason: "a state_dict key is not a string") }
            if case .tensor(let t) = v { result.append((key, t)) } else { others.append(key) }
        }
        guard result.count <= Limits.tensorsPerFile else {
            throw WeightsFileError(file: file, reason: "more than \(Limits.tensorsPerFile) tensors, the most a weights file may hold")
        }
        if others.isEmpty { return result }
        for wrapper in ["state_dict", "model_state_dict", "model"] {
            if let inner = dict.items.first(where: { if case .string(wrapper) = $0.key { return true }; return false }) {
                return try stateDictEntries(inner.value, file: file)
            }
        }
        throw WeightsFileError(file: file, reason: "entry '\(others[0])' is not a tensor; top-level keys: "
                                   + dict.items.prefix(8).compactMap { if case .string(let s) = $0.key { return s }; return nil }.joined(separator: ", "),
                               hint: "save only the weights: torch.save(model.state_dict(), path)")
    }

    /// The element count of each tensor, checked before any storage is read: ranks, sizes and
    /// counts in range, and all of them together at most `Limits.elementsPerWeightsFileByte`
    /// per byte of the file (views can repeat a storage: `expand()`, shared storages).
    static func elementCounts(_ entries: [(String, TorchPickle.Tensor)], fileBytes: Int, file: String) throws -> [Int] {
        let allowed = max(fileBytes, 1 << 20) * Limits.elementsPerWeightsFileByte
        var total = 0
        return try entries.map { name, t in
            func bad(_ reason: String) -> WeightsFileError { WeightsFileError(file: file, reason: "tensor '\(name)': \(reason)") }
            guard t.shape.count <= Limits.tensorRank else {
                throw bad("\(t.shape.count) dimensions; at most \(Limits.tensorRank) are supported")
            }
            guard t.shape.allSatisfy({ $0 >= 0 }), t.strides.allSatisfy({ $0 >= 0 }), t.offset >= 0 else {
                throw bad("negative size, stride or offset (size \(t.shape), stride \(t.strides), offset \(t.offset))")
            }
            guard let count = CheckedSize.product(of: t.shape), count <= Limits.parameterElements else {
                throw bad("size \(t.shape) has more than \(Limits.parameterElements) elements")
            }
            guard let sum = CheckedSize.sum(total, count), sum <= allowed else {
                throw bad("the tensors hold more than \(allowed) elements, \(Limits.elementsPerWeightsFileByte) per byte of the file")
            }
            total = sum
            return count
        }
    }

    /// Copies one tensor of `count` elements (from `elementCounts`) out of its storage's bytes
    /// `raw`, contiguous, as Float32, after checking that the storage fits in `raw` and the view
    /// in the storage.
    static func materialize(_ t: TorchPickle.Tensor, count: Int, name: String, file: String,
                            storage raw: UnsafeRawBufferPointer) throws -> NamedTensor {
        func bad(_ reason: String) -> WeightsFileError {
            WeightsFileError(file: file, reason: "tensor '\(name)': \(reason)")
        }
        let type = t.storage.type
        guard let bytes = CheckedSize.bytes(elements: t.storage.count, elementSize: type.size), bytes <= raw.count else {
            throw bad("its storage '\(t.storage.key)' has \(raw.count) bytes, too few for \(t.storage.count) elements of \(type.size) bytes")
        }
        guard count > 0 else { return NamedTensor(name: name, shape: t.shape, values: []) }
        guard let end = CheckedSize.viewEnd(offset: t.offset, shape: t.shape, strides: t.strides), end <= t.storage.count else {
            throw bad("the view (offset \(t.offset), size \(t.shape), stride \(t.strides)) reaches past its storage of \(t.storage.count) elements")
        }
        // A dimension of size 1 takes no step, whatever its stride.
        let steps = Swift.zip(t.shape, t.strides).filter { $0.0 != 1 }
        let shape = steps.map(\.0), strides = steps.map(\.1)
        let values = strides == contiguousStrides(shape)
            ? type.decode(raw, first: t.offset, count: count)
            : gather(raw, type: type, offset: t.offset, shape: shape, strides: strides, count: count)
        return NamedTensor(name: name, shape: t.shape, values: values)
    }

    static func contiguousStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        for i in stride(from: shape.count - 2, through: 0, by: -1) { strides[i] = strides[i + 1] * shape[i + 1] }
        return strides
    }

    /// Row-major walk over a strided view whose every element lies inside `raw`; no dimension
    /// has size 0 or 1, so stepping one past a dimension's end stays within twice the view's reach.
    private static func gather(_ raw: UnsafeRawBufferPointer, type: ElementType, offset: Int,
                               shape: [Int], strides: [Int], count: Int) -> [Float] {
        var out = [Float](repeating: 0, count: count)
        var index = [Int](repeating: 0, count: shape.count)
        var position = offset
        for i in 0..<count {
            out[i] = type.element(raw, byteOffset: position * type.size)
            // Advance the multi-index like an odometer, innermost dimension first.
            var d = shape.count - 1
            while d >= 0 {
                index[d] += 1
                position += strides[d]
                if index[d] < shape[d] { break }
                position -= strides[d] * shape[d]
                index[d] = 0
                d -= 1
            }
        }
        return out
    }
}
