import Foundation

/// The legacy (pre-1.6, non-zip) `torch.save` format, as torch/serialization.py's
/// `_legacy_save` writes it: five pickles in a row (magic number, protocol version 1001,
/// system info, the state_dict with `('storage', type, key, location, numel, view)` persistent
/// ids, the sorted list of storage keys), then each storage in that order as an 8-byte
/// little-endian element count followed by its raw elements.
extension TorchCheckpoint {
    /// PROTO n, LONG1 of 10 bytes: 0x1950a86a20f9469cfc6c little-endian, STOP.
    private static let legacyMagic: [UInt8] = [0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e]

    static func readLegacy(data: Data, file: String) throws -> [NamedTensor] {
        func bad(_ reason: String) -> WeightsFileError {
            WeightsFileError(file: file, reason: "legacy torch.save file: \(reason)", hint: resaveHint)
        }
        return try data.withUnsafeBytes { raw -> [NamedTensor] in
            guard raw.count >= 15, Array(raw[2..<15]) == legacyMagic else { throw bad("bad magic number") }
            var at = 15
            let version = try unpickle(raw, from: at, file: file, part: "protocol version")
            guard case .int(1001) = version.value else { throw bad("unknown protocol version") }
            let info = try unpickle(raw, from: version.end, file: file, part: "system info")
            if case .dict(let d) = info.value,
               d.items.contains(where: { if case .string("little_endian") = $0.key, case .bool(false) = $0.value { return true }; return false }) {
                throw bad("tensors are stored big-endian; only little-endian is supported")
            }
            let root = try unpickle(raw, from: info.end, file: file, part: "state_dict pickle")
            let entries = try stateDictEntries(root.value, file: file)
            let keyList = try unpickle(raw, from: root.end, file: file, part: "storage key list")
            guard case .list(let keys) = keyList.value else { throw bad("the storage key list is missing") }
            at = keyList.end

            let counts = try elementCounts(entries, fileBytes: raw.count, file: file)

            // Where each storage's elements lie in the file.
            var types: [String: ElementType] = [:]
            for (_, t) in entries { types[t.storage.key] = t.storage.type }
            var ranges: [String: Range<Int>] = [:]
            for item in keys.items {
                guard case .string(let key) = item else { throw bad("a storage key is not a string") }
                guard let type = types[key] else { throw bad("storage '\(key)' belongs to no tensor") }
                guard let header = CheckedSize.range(offset: at, count: 8, within: raw.count) else {
                    throw bad("truncated before storage '\(key)'")
                }
                let count = Int64(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: Int64.self))
                guard let bytes = CheckedSize.bytes(elements: Int(count), elementSize: type.size),
                      let range = CheckedSize.range(offset: header.upperBound, count: bytes, within: raw.count) else {
                    throw bad("storage '\(key)' claims \(count) elements, more than the file holds (truncated?)")
                }
                ranges[key] = range
                at = range.upperBound
            }
            return try entries.enumerated().map { i, entry in
                let (name, t) = entry
                guard let range = ranges[t.storage.key] else {
                    throw bad("tensor '\(name)': its storage '\(t.storage.key)' is missing")
                }
                return try materialize(t, count: counts[i], name: name, file: file,
                                       storage: UnsafeRawBufferPointer(rebasing: raw[range]))
            }
        }
    }
}
