import Foundation

/// A read-only view of a zip archive whose entries are stored uncompressed, as `torch.save`
/// writes them (PKWARE APPNOTE 6.3: end of central directory, zip64 records, central
/// directory, local headers). Entries are not copied: `withBytes` hands out the mapped bytes
/// after checking the entry's CRC-32.
struct ZipArchive {
    struct Entry {
        var name: String
        /// 0 = stored; anything else is compressed.
        var method: UInt16
        var crc32: UInt32
        var compressedSize: Int
        var size: Int
        var localHeaderOffset: Int
    }

    let data: Data
    let file: String
    private(set) var entries: [String: Entry] = [:]
    /// Entry names in central-directory order.
    private(set) var names: [String] = []

    /// `PK\x03\x04` or, for an empty archive, `PK\x05\x06`.
    static func looksLikeZip(_ data: Data) -> Bool {
        data.count >= 4 && data[data.startIndex] == 0x50 && data[data.startIndex + 1] == 0x4b
            && [3, 5].contains(data[data.startIndex + 2])
    }

    init(data: Data, file: String) throws {
        self.data = data.startIndex == 0 ? data : Data(data)
        self.file = file
        try readCentralDirectory()
    }

    private func fail(_ reason: String) -> WeightsFileError {
        WeightsFileError(file: file, reason: "broken zip archive: \(reason)",
                         hint: "the file is truncated or corrupted; download or save it again")
    }

    private func u16(_ at: Int) -> Int {
        data.withUnsafeBytes { Int(UInt16(littleEndian: $0.loadUnaligned(fromByteOffset: at, as: UInt16.self))) }
    }
    private func u32(_ at: Int) -> Int {
        data.withUnsafeBytes { Int(UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: at, as: UInt32.self))) }
    }
    private func u64(_ at: Int) throws -> Int {
        let v = data.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: at, as: UInt64.self)) }
        guard v <= UInt64(Int.max) else { throw fail("a 64-bit size or offset is out of range") }
        return Int(v)
    }
    /// Whether `count` bytes at `offset` lie inside the file.
    private func inside(_ offset: Int, _ count: Int) -> Bool {
        CheckedSize.range(offset: offset, count: count, within: data.count) != nil
    }

    private mutating func readCentralDirectory() throws {
        // The end-of-central-directory record is the last 22 bytes plus a comment of up to 64 KiB.
        let n = data.count
        guard n >= 22 else { throw fail("\(n) bytes is too short") }
        var eocd = -1
        var at = n - 22
        while at >= max(0, n - 22 - 0xffff) {
            if u32(at) == 0x0605_4b50, at + 22 + u16(at + 20) == n { eocd = at; break }
            at -= 1
        }
        guard eocd >= 0 else { throw fail("no end-of-central-directory record") }
        var count = u16(eocd + 10), size = u32(eocd + 12), offset = u32(eocd + 16)
        if count == 0xffff || size == 0xffff_ffff || offset == 0xffff_ffff {
            // Zip64: a locator just before the record points at the zip64 end record.
            let locator = eocd - 20
            guard inside(locator, 20), u32(locator) == 0x0706_4b50 else { throw fail("zip64 locator missing") }
            let record = try u64(locator + 8)
            guard inside(record, 56), u32(record) == 0x0606_4b50 else { throw fail("zip64 end record missing") }
            count = try u64(record + 32)
            size = try u64(record + 40)
            offset = try u64(record + 48)
        }
        guard inside(offset, size) else { throw fail("the central directory lies outside the file") }
        // One storage per tensor, beside data.pkl, byteorder, version and a few more.
        guard count <= Limits.tensorsPerFile + 16 else {
            throw fail("\(count) entries, more than a checkpoint of \(Limits.tensorsPerFile) tensors has")
        }
        var p = offset
        // Stored entries cannot hold more bytes together than the file: more means entries that
        // overlap, which would have every one of them checked (CRC-32) over the same bytes.
        var stored = 0
        for _ in 0..<count {
            guard inside(p, 46), u32(p) == 0x0201_4b50 else { throw fail("bad central directory entry at byte \(p)") }
            let nameLength = u16(p + 28), extraLength = u16(p + 30), commentLength = u16(p + 32)
            guard inside(p + 46, nameLength + extraLength + commentLength) else { throw fail("central directory entry runs past the end") }
            let name = String(decoding: data[(p + 46)..<(p + 46 + nameLength)], as: UTF8.self)
            var entry = Entry(name: name, method: UInt16(u16(p + 10)), crc32: UInt32(u32(p + 16)),
                              compressedSize: u32(p + 20), size: u32(p + 24), localHeaderOffset: u32(p + 42))
            try readZip64Extra(at: p + 46 + nameLength, length: extraLength, into: &entry)
            guard entries[name] == nil else { throw fail("entry '\(name)' appears twice") }
            guard entry.compressedSize <= n else { throw fail("entry '\(name)' runs past the end of the file (truncated?)") }
            guard let total = CheckedSize.sum(stored, entry.compressedSize), total <= n else {
                throw fail("the entries hold more bytes together than the file has (overlapping entries)")
            }
            stored = total
            entries[name] = entry
            names.append(name)
            p += 46 + nameLength + extraLength + commentLength
        }
    }

    /// Replaces 0xffffffff sizes and offsets with the values of the zip64 extra field (id 1).
    private func readZip64Extra(at start: Int, length: Int, into entry: inout Entry) throws {
        var p = start
        while p + 4 <= start + length {
            let id = u16(p), fieldLength = u16(p + 2)
            guard p + 4 + fieldLength <= start + length else { throw fail("extra field of '\(entry.name)' runs past its end") }
            if id == 1 {
                var q = p + 4
                func next() throws -> Int {
                    guard q + 8 <= p + 4 + fieldLength else { throw fail("short zip64 field in '\(entry.name)'") }
                    defer { q += 8 }
                    return try u64(q)
                }
                if entry.size == 0xffff_ffff { entry.size = try next() }
                if entry.compressedSize == 0xffff_ffff { entry.compressedSize = try next() }
                if entry.localHeaderOffset == 0xffff_ffff { entry.localHeaderOffset = try next() }
            }
            p += 4 + fieldLength
        }
    }

    /// Calls `body` with the stored bytes of entry `name`, after checking bounds and CRC-32.
    func withBytes<R>(of name: String, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        guard let e = entries[name] else { throw fail("no entry '\(name)'") }
        guard e.method == 0 else {
            throw WeightsFileError(file: file, reason: "entry '\(name)' is compressed (method \(e.method)); torch.save stores entries uncompressed",
                                   hint: "re-save it with torch.save(torch.load(path, weights_only=True), new_path)")
        }
        guard e.compressedSize == e.size else { throw fail("entry '\(name)' is stored with two different sizes") }
        let h = e.localHeaderOffset
        guard inside(h, 30), u32(h) == 0x0403_4b50 else { throw fail("no local header for '\(name)'") }
        guard let start = CheckedSize.sum(h + 30, u16(h + 26) + u16(h + 28)),
              let range = CheckedSize.range(offset: start, count: e.size, within: data.count) else {
            throw fail("entry '\(name)' runs past the end of the file (truncated?)")
        }
        return try data.withUnsafeBytes { raw in
            let bytes = UnsafeRawBufferPointer(rebasing: raw[range])
            guard CRC32.checksum(bytes) == e.crc32 else { throw fail("entry '\(name)' fails its CRC-32 check (corrupted)") }
            return try body(bytes)
        }
    }
}

/// CRC-32 (ISO-HDLC, polynomial 0xEDB88320), as zip uses it.
enum CRC32 {
    private static let table: [UInt32] = (0..<256).map { i -> UInt32 in
        var c = UInt32(i)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xedb8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var c: UInt32 = 0xffff_ffff
        table.withUnsafeBufferPointer { t in
            for b in bytes { c = t[Int((c ^ UInt32(b)) & 0xff)] ^ (c >> 8) }
        }
        return c ^ 0xffff_ffff
    }
}
