import Foundation

/// Writes Float32 tensors as a safetensors file, atomically (temporary file, fsync, rename).
///
/// Tensors are laid out in the order given, each tensor's values copied bit for bit, so
/// reading the file back gives identical bytes. The JSON header has sorted keys and is padded
/// with spaces to a multiple of 8 bytes, so the data section starts aligned.
public enum SafeTensorsWriter {
    /// - Parameters:
    ///   - tensors: names must be unique and non-empty and must not be `__metadata__`.
    ///   - metadata: stored as `__metadata__` (omitted when empty).
    ///   - url: the destination; an existing file is replaced only once the new one is complete.
    public static func write(_ tensors: [NamedTensor], metadata: [String: String] = [:], to url: URL) throws {
        let header = try encodeHeader(tensors, metadata: metadata, file: url.path)
        try AtomicFile.write(to: url) { file in
            var length = UInt64(header.count).littleEndian
            try withUnsafeBytes(of: &length) { try file.write($0) }
            try file.write(header)
            for t in tensors { try file.write(t.values) }
        }
    }

    /// The whole file in memory (small files and tests).
    public static func encode(_ tensors: [NamedTensor], metadata: [String: String] = [:]) throws -> Data {
        let header = try encodeHeader(tensors, metadata: metadata, file: "safetensors data")
        var data = Data()
        var length = UInt64(header.count).littleEndian
        withUnsafeBytes(of: &length) { data.append(contentsOf: $0) }
        data.append(header)
        for t in tensors { t.values.withUnsafeBytes { data.append(contentsOf: $0) } }
        return data
    }

    /// The JSON header, space-padded to a multiple of 8 bytes.
    static func encodeHeader(_ tensors: [NamedTensor], metadata: [String: String], file: String) throws -> Data {
        var object: [String: Any] = [:]
        var offset = 0
        for t in tensors {
            guard !t.name.isEmpty, t.name != "__metadata__" else {
                throw WeightsFileError(file: file, reason: "cannot write a tensor named '\(t.name)'")
            }
            guard object[t.name] == nil else {
                throw WeightsFileError(file: file, reason: "tensor '\(t.name)' is given twice")
            }
            let size = t.count * MemoryLayout<Float>.size
            object[t.name] = ["dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + size]] as [String: Any]
            offset += size
        }
        if !metadata.isEmpty { object["__metadata__"] = metadata }
        var header = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        header.append(contentsOf: [UInt8](repeating: 0x20, count: (8 - header.count % 8) % 8))
        return header
    }
}
