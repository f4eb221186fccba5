import Foundation

/// The checked header of a safetensors file: the entries' dtypes, shapes and data offsets
/// (every size through `CheckedSize`, against `Limits`), and the `__metadata__` strings.
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
        let raw: RawHeader
        do {
            raw = try JSONDecoder().decode(RawHeader.self, from: data.subdata(in: headerRange))
        } catch {
            throw bad("the header is not valid JSON", hint: "the file is corrupted or not a safetensors file")
        }
        guard raw.isObject else { throw bad("the header is not a JSON object") }
        guard raw.entries.count <= Limits.tensorsPerFile else { throw bad(JSONCensus.tooManyTensors) }
        if let found = raw.metadata {
            guard let map = found else { throw bad("__metadata__ is not a JSON object") }
            for (key, value) in map {
                guard let s = value.string else { throw bad("__metadata__ entry '\(key)' is not a string") }
                metadata[key] = s
            }
        }
        entries = try raw.entries.map { try Self.entry($0.name, $0.fields, dataLength: dataLength, file: file) }
        entries.sort { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }
        for (a, b) in zip(entries, entries.dropFirst()) where b.begin < a.end {
            throw bad("tensors '\(a.name)' and '\(b.name)' overlap in the data section")
        }
    }

    /// One tensor's header entry, checked against a data section of `dataLength` bytes.
    private static func entry(_ name: String, _ fields: RawEntry, dataLength: Int, file: String) throws -> Entry {
        func bad(_ reason: String) -> WeightsFileError { WeightsFileError(file: file, reason: "tensor '\(name)': \(reason)") }
        guard fields.isObject else { throw bad("header entry is not a JSON object") }
        guard let dtype = fields.dtype else { throw bad("no dtype") }
        guard let type = ElementType(rawValue: dtype) else {
            throw bad("dtype \(dtype.count > 16 ? dtype.prefix(16) + "..." : dtype) is not supported (F32, F16, BF16, F64, I64, I32 are)")
        }
        guard let shape = fields.shape, shape.allSatisfy({ $0 >= 0 }) else {
            throw bad("shape is not a list of non-negative integers")
        }
        guard shape.count <= Limits.tensorRank else {
            throw bad("shape has \(shape.count) dimensions; at most \(Limits.tensorRank) are supported")
        }
        guard let offsets = fields.offsets, offsets.count == 2 else {
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
}

/// The header as its JSON holds it, decoded with `JSONDecoder`, which keeps the parsed text
/// compact and builds only what is asked for (`JSONSerialization` would build an object for
/// every value, about 4 times the memory). Every field is nil when absent or of another type,
/// so the checks above can say which one is wrong.
private struct RawHeader: Decodable {
    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ name: String) { stringValue = name }
        init(stringValue: String) { self.init(stringValue) }
        init?(intValue: Int) { nil }
    }
    /// A `__metadata__` value: a string, or nil for anything else.
    struct MetadataValue: Decodable {
        var string: String?
        init(from decoder: Decoder) throws { string = try? decoder.singleValueContainer().decode(String.self) }
    }

    var isObject = false
    var entries: [(name: String, fields: RawEntry)] = []
    /// nil without `__metadata__`; `.some(nil)` when it is not an object.
    var metadata: [String: MetadataValue]??

    init(from decoder: Decoder) throws {
        guard let c = try? decoder.container(keyedBy: Key.self) else { return }
        isObject = true
        for key in c.allKeys {
            if key.stringValue == "__metadata__" {
                metadata = .some(try? c.decode([String: MetadataValue].self, forKey: key))
            } else {
                entries.append((key.stringValue, try c.decode(RawEntry.self, forKey: key)))
            }
        }
    }
}

/// One tensor's entry as its JSON holds it.
private struct RawEntry: Decodable {
    var isObject = false
    var dtype: String?
    var shape: [Int]?
    var offsets: [Int]?

    init(from decoder: Decoder) throws {
        guard let c = try? decoder.container(keyedBy: RawHeader.Key.self) else { return }
        isObject = true
        dtype = try? c.decode(String.self, forKey: .init("dtype"))
        shape = try? c.decode([Int].self, forKey: .init("shape"))
        offsets = try? c.decode([Int].self, forKey: .init("data_offsets"))
    }
}

/// How much a safetensors JSON header holds, counted in one pass over its bytes before it is
/// parsed: a JSON parser keeps something for every value, so a header of millions of entries
/// (a few bytes each fit in 100 MB) would take gigabytes before any entry is checked.
///
/// Counts, outside strings: entries of the top-level object and fields of each entry
/// (`__metadata__` included), nesting depth, and the separators and openers (`,` `:` `{` `[`),
/// of which every JSON value but the first follows one.
struct JSONCensus {
    /// Why the header is refused, or nil when it may be parsed.
    private(set) var problem: String?

    /// A header nests an object (entries), an object (fields, metadata) and lists (shape).
    static let maximumDepth = 3
    static let tooManyTensors = "the header lists more than \(Limits.tensorsPerFile) tensors, the most a weights file may hold"

    init(_ bytes: UnsafeRawBufferPointer) {
        // Commas between the top-level entries, and inside the current entry (fields or metadata).
        var depth = 0, topLevelCommas = 0, entryCommas = 0, values = 0
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
                if depth == 2 { entryCommas = 0 }
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
                guard depth >= 0 else {
                    problem = "the header is not valid JSON"
                    return
                }
                continue
            case UInt8(ascii: ","):
                if depth == 1 { topLevelCommas += 1 } else if depth == 2 { entryCommas += 1 }
            case UInt8(ascii: ":"):
                break
            default:
                continue
            }
            values += 1
            // Entries are one more than the commas between them; `__metadata__` is one beside the tensors.
            guard topLevelCommas <= Limits.tensorsPerFile else {
                problem = Self.tooManyTensors
                return
            }
            guard entryCommas < Limits.safeTensorsMetadataEntries else {
                problem = "an entry of the header holds more than \(Limits.safeTensorsMetadataEntries) fields "
                    + "(a tensor has 3; __metadata__ may have \(Limits.safeTensorsMetadataEntries))"
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
