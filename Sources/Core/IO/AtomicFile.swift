import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a file so that readers see either the old file or the complete new one, never a
/// half-written one: the bytes go to a temporary file in the same folder, which is flushed to
/// disk (fsync) and then renamed over the destination.
public struct AtomicFile {
    private let fd: Int32
    private let path: String

    /// Calls `body` with a file to write into, then moves it to `url`. On any error the
    /// temporary file is removed and `url` is left as it was.
    static func write(to url: URL, _ body: (inout AtomicFile) throws -> Void) throws {
        let destination = url.path
        let folder = url.deletingLastPathComponent().path
        let temporary = (folder as NSString).appendingPathComponent(
            ".\(url.lastPathComponent).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp")
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw WeightsFileError(file: destination, reason: "cannot create a file in \(folder): \(errnoText())",
                                   hint: "check that the folder exists and is writable")
        }
        var file = AtomicFile(fd: fd, path: destination)
        var closed = false
        do {
            try body(&file)
            guard fsync(fd) == 0 else { throw file.failure("cannot flush to disk") }
            closed = true
            guard close(fd) == 0 else { throw file.failure("cannot close") }
            guard rename(temporary, destination) == 0 else { throw file.failure("cannot rename into place") }
        } catch {
            if !closed { close(fd) }
            unlink(temporary)
            throw error
        }
        syncFolder(folder)
    }

    /// Flushes a folder's entries to disk, so the renames and removals in it survive a crash.
    static func syncFolder(_ folder: String) {
        let dir = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dir >= 0 {
            fsync(dir)
            close(dir)
        }
    }

    /// Writes `data` to `url` atomically.
    public static func write(_ data: Data, to url: URL) throws {
        try write(to: url) { file in try data.withUnsafeBytes { try file.write($0) } }
    }

    /// Appends raw bytes.
    mutating func write(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let n = systemWrite(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw failure("cannot write")
            }
            offset += n
        }
    }

    mutating func write(_ data: Data) throws {
        try data.withUnsafeBytes { try write($0) }
    }

    mutating func write(_ values: [Float]) throws {
        try values.withUnsafeBytes { try write($0) }
    }

    private func failure(_ what: String) -> WeightsFileError {
        WeightsFileError(file: path, reason: "\(what): \(errnoText())", hint: "check free disk space and permissions")
    }
}

#if canImport(Glibc)
private let systemWrite = Glibc.write
#else
private let systemWrite = Darwin.write
#endif

func errnoText() -> String { String(cString: strerror(errno)) }
