import Foundation

extension SHA256 {
    /// Hashes what is left to read of the open file `fd`, 1 MB at a time; the byte count, or
    /// nil on a read error (`errno` says which).
    mutating func update(readingAll fd: Int32) -> Int? {
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        var total = 0
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { return nil }
            if n == 0 { return total }
            chunk.withUnsafeBytes { update(UnsafeRawBufferPointer(rebasing: $0[..<n])) }
            total += n
        }
    }

    /// The SHA-256 of the regular file at `url`, as lower-case hex.
    static func hex(ofFileAt url: URL) throws -> String {
        let fd: Int32
        do { fd = try RegularFile.open(url.path).fd } catch {
            throw WeightsFileError(file: url.path, reason: error.reason)
        }
        defer { close(fd) }
        var hasher = SHA256()
        guard hasher.update(readingAll: fd) != nil else { throw WeightsFileError(file: url.path, reason: "cannot read: \(errnoText())") }
        return hex(hasher.finalize())
    }
}
