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
        /// Elements, the product of `shape` (checked).
        var count: Int
    }

    /// Sorted by `begin`.
    var entries: [Entry] = []
    var metadata: [String: String] = [:]
    /// Where the data section starts in the file.
    var dataStart: Int

    init(data: Data, file: String) throws {
        func bad(_ reason: String, hint: String? = nil) -> WeightsFileError {
            WeightsFileError(file: file, reason: reason, hint: hint)
        }
        guard !data.isEmpty else { throw bad("the file is empty") }
        guard data.count >= 8 else {
            throw bad("\(data.count) bytes is too short for a safetensors file (8-byte header length first)")
        }
        let length = data.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard length <= UInt64(Limits.safeTensorsHeaderBytes) else {
            throw bad("the header claims \(length) bytes, more than the \(Limits.safeTensorsHeaderBytes >> 20) MB a safetensors header may have",
                      hint: "the file is corrupted or not a safetensors file")
        }
        guard let headerRange = CheckedSize.range(offset: 8, count: Int(length), within: data.count) else {
            throw bad("the header claims \(length) bytes but the file has \(data.count - 8) after the length",
                      hint: "the file is truncated or not a safetensors file")
        }
        dataStart = headerRange.upperBound
        let dataLength = data.count - dataStart
        let census = data.withUnsafeBytes { JSONCensus(UnsafeRawBufferPointer(rebasing: $0[headerRange])) }
        if let problem = census.problem { throw bad(problem, hint: "the file is corrupted or not a safetensors file") }
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: data.subdata(in: headerRange))
        } catch {
            throw bad("the header is not valid JSON", hint: "the file is corrupted or not a safetensors file")
        }
        guard let object = json as? [String: Any] else { throw bad("the header is not a JSON object") }
        guard object.count - (object["__metadata__"] == nil ? 0 : 1) <= Limits.tensorsPerFile else {
            throw bad("the header lists more than \(Limits.tensorsPerFile) tensors, the most a weights file may hold")
        }

        for (name, value) in object {
            if name == "__metadata__" {
                guard let map = value as? [String: Any] else { throw bad("__metadata__ is not a JSON object") }
                for (key, v) in map {
                    guard let s = v as? String else { throw bad("__metadata__ entry '\(key)' is not a string") }
                    metadata[key] = s
                }
                continue
            }
            entries.append(try Self.entry(name, value, dataLength: dataLength, file: file))
        }
        entries.sort { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }
        for (a, b) in zip(entries, entries.dropFirst()) where b.begin < a.end {
            throw bad("tensors '\(a.name)' and '\(b.name)' overlap in the data section")
        }
    }

    /// One tensor's header entry, checked against a data section of `dataLength` bytes.
    private static func entry(_ name: String, _ value: Any, dataLength: Int, file: String) throws -> Entry {
        func bad(_ reason: String) -> WeightsFileError { WeightsFileError(file: file, reason: "tensor '\(name)': \(reason)") }
        guard let fields = value as? [String: Any] else { throw bad("header entry is not a JSON object") }
        guard let dtype = fields["dtype"] as? String else { throw bad("no dtype") }
        guard let type = ElementType(rawValue: dtype) else {
            throw bad("dtype \(dtype) is not supported (F32, F16, BF16, F64, I64, I32 are)")
        }
        guard let shape = integers(fields["shape"]), shape.allSatisfy({ $0 >= 0 }) else {
            throw bad("shape is not a list of non-negative integers")
        }
        guard shape.count <= Limits.tensorRank else {
            throw bad("shape has \(shape.count) dimensions; at most \(Limits.tensorRank) are supported")
        }
        guard let offsets = integers(fields["data_offsets"]), offsets.count == 2 else {
            throw bad("data_offsets is not a list of two integers")
        }
        let (begin, end) = (offsets[0], offsets[1])
        guard begin >= 0, begin <= end, end <= dataLength else {
            throw bad("data_offsets [\(begin), \(end)] lie outside the \(dataLength)-byte data section (truncated file?)")
        }
        guard let count = CheckedSize.product(of: shape), count <= Limits.parameterElements,
              let bytes = CheckedSize.bytes(elements: count, elementSize: type.size), bytes <= dataLength else {
            throw bad("shape \(shape) is larger than the file")
        }
        guard end - begin == bytes else {
            throw bad("\(end - begin) bytes of data, but shape \(shape) of \(dtype) needs \(bytes)")
        }
        return Entry(name: name, type: type, shape: shape, begin: begin, end: end, count: count)
    }

    /// A JSON list of integers, or nil.
    private static func integers(_ value: Any?) -> [Int]? {
        guard let list = value as? [Any] else { return nil }
        var result: [Int] = []
        for item in list {
            guard let n = item as? NSNumber else { return nil }
            let d = n.doubleValue
            guard d == d.rounded(), abs(d) < 0x1p53 else { return nil }
            result.append(n.intValue)
        }
        return result
    }
}

/// How much a safetensors JSON header holds, counted in one pass over its bytes before it is
/// parsed: `JSONSerialization` builds an object for every value, so a header of millions of
/// entries (a few bytes each fit 100 MB) would take gigabytes before any entry is checked.
///
/// Counts, outside strings: entries of the top-level object, nesting depth, and the
/// separators and openers (`,` `:` `{` `[`), of which every JSON value but the first follows one.
struct JSONCensus {
    /// Why the header is refused, or nil when it may be parsed.
    private(set) var problem: String?

    /// A header nests an object (entries), an object (fields, metadata) and lists (shape).
    static let maximumDepth = 3

    init(_ bytes: UnsafeRawBufferPointer) {
        var depth = 0, topLevelCommas = 0, values = 0
        var inString = false, escaped = false
        for b in bytes {
            if inString {
                if escaped {
                    escaped = false
                } else if b == UInt8(ascii: "\\") {
                    escaped = true
                } else if b == UInt8(ascii: "\"") {
                    inString = false
                }
                continue
            }
            switch b {
            case UInt8(ascii: "\""):
                inString = true
                continue
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
                guard depth <= Self.maximumDepth else {
                    problem = "the header nests deeper than a safetensors header (\(Self.maximumDepth) levels)"
                    return
                }
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
                guard depth >= 0 else {
                    problem = "the header is not valid JSON"
                    return
                }
                continue
            case UInt8(ascii: ","):
                if depth == 1 { topLevelCommas += 1 }
            case UInt8(ascii: ":"):
                break
            default:
                continue
            }
            values += 1
            // Entries are one more than the commas between them; `__metadata__` is one beside the tensors.
            guard topLevelCommas <= Limits.tensorsPerFile else {
                problem = "the header lists more than \(Limits.tensorsPerFile) tensors, the most a weights file may hold"
                return
            }
            guard values <= Limits.safeTensorsHeaderValues else {
                problem = "the header holds more than \(Limits.safeTensorsHeaderValues) JSON values, "
                    + "more than \(Limits.tensorsPerFile) tensors need"
                return
            }
        }
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
