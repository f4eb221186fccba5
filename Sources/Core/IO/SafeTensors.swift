import Foundation

/// A safetensors file (https://github.com/huggingface/safetensors): an 8-byte little-endian
/// header length, a JSON header mapping each tensor name to `dtype`, `shape` and
/// `data_offsets` (begin, end) relative to the data section, an optional `__metadata__`
/// map of strings, then the raw little-endian data.
///
/// Reading memory-maps the file and checks every entry against the file's length before a
/// byte of data is touched: offsets inside the data section, no two tensors overlapping, and
/// `end - begin == product(shape) * size(dtype)`. F32, F16, BF16 and F64 tensors (and I64/I32
/// counters such as `num_batches_tracked`) are read as Float32. See `SafeTensorsWriter` for
/// writing.
public struct SafeTensorsFile: Sendable {
    /// The tensors in the order of their data in the file.
    public var tensors: [NamedTensor]
    /// The `__metadata__` map (empty when absent).
    public var metadata: [String: String]

    public init(tensors: [NamedTensor], metadata: [String: String] = [:]) {
        self.tensors = tensors
        self.metadata = metadata
    }

    /// Reads a whole safetensors file. Errors name the file and, when one is at fault, the tensor.
    public init(contentsOf url: URL) throws {
        let data = try readMapped(url)
        try self.init(data: data, file: url.path)
    }

    /// Parses safetensors bytes; `file` names them in errors.
    public init(data: Data, file: String) throws {
        let data = data.startIndex == 0 ? data : Data(data)  // offsets below count from 0
        let header = try SafeTensorsHeader(data: data, file: file)
        metadata = header.metadata
        tensors = data.withUnsafeBytes { raw in
            let payload = UnsafeRawBufferPointer(rebasing: raw[header.dataStart...])
            return header.entries.map { e in
                let bytes = UnsafeRawBufferPointer(rebasing: payload[e.begin..<e.end])
                return NamedTensor(name: e.name, shape: e.shape, values: e.type.decode(bytes, count: e.count))
            }
        }
    }
}

/// Memory-maps `url`, a regular file (a pipe or device would block the read or never end);
/// anything else is an error naming it.
func readMapped(_ url: URL) throws -> Data {
    var status = stat()
    guard stat(url.path, &status) == 0 else {
        throw WeightsFileError(file: url.path, reason: errno == ENOENT ? "no such file" : "cannot read: \(String(cString: strerror(errno)))")
    }
    guard !RegularFile.isFolder(status) else { throw WeightsFileError(file: url.path, reason: "is a folder, not a file") }
    guard RegularFile.isRegular(status) else {
        throw WeightsFileError(file: url.path, reason: "is \(RegularFile.kind(status)), not a regular file", hint: "pass the weights file itself")
    }
    do {
        return try Data(contentsOf: url, options: .alwaysMapped)
    } catch {
        throw WeightsFileError(file: url.path, reason: "cannot read: \(error.localizedDescription)")
    }
}
