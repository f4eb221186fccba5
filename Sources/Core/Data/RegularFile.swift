// RegularFile: reading a file from a data folder, a manifest or the command line, refusing
// anything that is not a regular file before it can block or do harm.
//
// Opening a FIFO for reading blocks until a writer appears (forever, in an unpacked dataset);
// opening a device can have side effects (a tape rewinds); a folder or a socket cannot be read
// as a file. So the type is checked with stat() before opening, the file is opened with
// O_NONBLOCK (a FIFO swapped in after the check then opens at once instead of blocking), and
// fstat() on the open descriptor confirms a regular file before any byte is read. The size is
// checked against a limit before the buffer is allocated.

import Foundation

/// Where a file lives: its device and inode, the same for every path (symlink, hard link) to it.
struct FileIdentity: Hashable {
    var device: UInt64
    var inode: UInt64

    init(_ status: stat) {
        device = UInt64(status.st_dev)
        inode = UInt64(status.st_ino)
    }
}

/// Type checks and whole-file reads of regular files only.
enum RegularFile {
    /// What `stat` says `path` is (following symlinks), or `.unreadable` naming it.
    static func status(_ path: String) throws -> stat {
        var status = stat()
        guard stat(path, &status) == 0 else { throw unreadable(path, errno: errno) }
        return status
    }

    /// True for a regular file.
    static func isRegular(_ status: stat) -> Bool { status.st_mode & S_IFMT == S_IFREG }

    /// True for a folder.
    static func isFolder(_ status: stat) -> Bool { status.st_mode & S_IFMT == S_IFDIR }

    /// What a file that is not a regular file is, for a message: "a named pipe", "a folder", ...
    static func kind(_ status: stat) -> String {
        switch status.st_mode & S_IFMT {
        case S_IFREG: return "a regular file"
        case S_IFDIR: return "a folder"
        case S_IFIFO: return "a named pipe"
        case S_IFSOCK: return "a socket"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        default: return "a special file"
        }
    }

    /// The whole regular file at `path`, at most `limit` bytes; `.unreadable` naming it otherwise
    /// (missing, not a regular file, too large, a read error).
    static func read(_ path: String, limit: Int) throws -> [UInt8] {
        let before = try status(path)
        guard isRegular(before) else { throw notRegular(path, before) }
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw unreadable(path, errno: errno) }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw unreadable(path, errno: errno) }
        guard isRegular(status) else { throw notRegular(path, status) }
        let size = Int(status.st_size)
        guard size <= limit else {
            throw DataError.unreadable(path: path, reason: "\(size) bytes is over the limit of \(limit) bytes")
        }
        var bytes = [UInt8](repeating: 0, count: size)
        var done = 0
        try bytes.withUnsafeMutableBytes { buffer in
            while done < size {
                let n = Foundation.read(fd, buffer.baseAddress! + done, size - done)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else {
                    throw n == 0 ? DataError.unreadable(path: path, reason: "the file shrank while being read")
                        : unreadable(path, errno: errno)
                }
                done += n
            }
        }
        return bytes
    }

    static func unreadable(_ path: String, errno code: Int32) -> DataError {
        .unreadable(path: path, reason: String(cString: strerror(code)))
    }

    static func notRegular(_ path: String, _ status: stat) -> DataError {
        .unreadable(path: path, reason: "it is \(kind(status)), not a regular file")
    }
}
