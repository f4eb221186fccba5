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

/// The checked header of a safetensors file.
struct SafeTensorsHeader {
    struct Entry {
        var name: String
        var type: ElementType
        var shape: [Int]
        /// Byte range inside the data section.
        var begin: Int, end: Int
        var count: Int { shape.reduce(1, *) }
    }

    /// Sorted by `begin`.
    var entries: [Entry] = []
    var metadata: [String: String] = [:]
    /// Where the data section starts in the file.
    var dataStart: Int

    /// Headers larger than this are refused rather than parsed.
    static let maximumHeaderLength = 100 << 20

    init(data: Data, file: String) throws {
        func bad(_ reason: String, hint: String? = nil) -> WeightsFileError {
            WeightsFileError(file: file, reason: reason, hint: hint)
        }
        guard !data.isEmpty else { throw bad("the file is empty") }
        guard data.count >= 8 else {
            throw bad("\(data.count) bytes is too short for a safetensors file (8-byte header length first)")
        }
        let length = data.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard length <= UInt64(Self.maximumHeaderLength), Int(length) <= data.count - 8 else {
            throw bad("the header claims \(length) bytes but the file has \(data.count - 8) after the length",
                      hint: "the file is truncated or not a safetensors file")
        }
        dataStart = 8 + Int(length)
        let dataLength = data.count - dataStart
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<dataStart))
        } catch {
            throw bad("the header is not valid JSON", hint: "the file is corrupted or not a safetensors file")
        }
        guard let object = json as? [String: Any] else { throw bad("the header is not a JSON object") }

        for (name, value) in object {
            if name == "__metadata__" {
                guard let map = value as? [String: Any] else { throw bad("__metadata__ is not a JSON object") }
                for (key, v) in map {
                    guard let s = v as? String else { throw bad("__metadata__ entry '\(key)' is not a string") }
                    metadata[key] = s
                }
                continue
            }
            func badTensor(_ reason: String) -> WeightsFileError { bad("tensor '\(name)': \(reason)") }
            guard let fields = value as? [String: Any] else { throw badTensor("header entry is not a JSON object") }
            guard let dtype = fields["dtype"] as? String else { throw badTensor("no dtype") }
            guard let type = ElementType(rawValue: dtype) else {
                throw badTensor("dtype \(dtype) is not supported (F32, F16, BF16, F64, I64, I32 are)")
            }
            guard let shape = Self.integers(fields["shape"]), shape.allSatisfy({ $0 >= 0 }) else {
                throw badTensor("shape is not a list of non-negative integers")
            }
            guard let offsets = Self.integers(fields["data_offsets"]), offsets.count == 2 else {
                throw badTensor("data_offsets is not a list of two integers")
            }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin >= 0, begin <= end, end <= dataLength else {
                throw badTensor("data_offsets [\(begin), \(end)] lie outside the \(dataLength)-byte data section (truncated file?)")
            }
            var count = 1
            for d in shape {
                let (product, overflow) = count.multipliedReportingOverflow(by: d)
                guard !overflow, product <= dataLength else {
                    throw badTensor("shape \(shape) is larger than the file")
                }
                count = product
            }
            guard end - begin == count * type.size else {
                throw badTensor("\(end - begin) bytes of data, but shape \(shape) of \(dtype) needs \(count * type.size)")
            }
            entries.append(Entry(name: name, type: type, shape: shape, begin: begin, end: end))
        }
        entries.sort { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }
        for (a, b) in zip(entries, entries.dropFirst()) where b.begin < a.end {
            throw bad("tensors '\(a.name)' and '\(b.name)' overlap in the data section")
        }
    }

    /// A JSON list of integers, or nil.
    private static func integers(_ value: Any?) -> [Int]? {
        guard let list = value as? [Any] else { return nil }
        var result: [Int] = []
        for item in list {
            guard let n = item as? NSNumber else { return nil }
            let d = n.doubleValue
            guard d == d.rounded(), abs(d) < 0x1p53 else { return nil }
            let i = n.intValue
            result.append(i)
        }
        return result
    }
}

/// Memory-maps `url`; an unreadable file is an error naming it.
func readMapped(_ url: URL) throws -> Data {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
        throw WeightsFileError(file: url.path, reason: "no such file")
    }
    guard !isDirectory.boolValue else { throw WeightsFileError(file: url.path, reason: "is a folder, not a file") }
    do {
        return try Data(contentsOf: url, options: .alwaysMapped)
    } catch {
        throw WeightsFileError(file: url.path, reason: "cannot read: \(error.localizedDescription)")
    }
}
