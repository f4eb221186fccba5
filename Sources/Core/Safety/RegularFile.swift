// RegularFile: opening a file from a data folder, a manifest, a run folder, a plugin folder or
// the command line, refusing anything that is not a regular file before it can block or do harm.
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

    /// Why a path was not opened as a regular file, in words for a message ("it is a named pipe,
    /// not a regular file", "No such file or directory"); each reader wraps it in its own error.
    struct Refusal: Error {
        var reason: String
        /// The path does not exist (or is a dangling symbolic link).
        var missing = false
    }

    /// Opens the regular file at `path` for reading and returns the descriptor (the caller closes
    /// it) with its status: the type is checked with `stat` before opening, the open does not
    /// block, and `fstat` on the descriptor must show the same regular file.
    static func open(_ path: String) throws(Refusal) -> (fd: Int32, status: stat) {
        var before = stat()
        guard stat(path, &before) == 0 else {
            throw Refusal(reason: errno == ELOOP ? "a symbolic link loop" : String(cString: strerror(errno)), missing: errno == ENOENT)
        }
        guard isRegular(before) else { throw Refusal(reason: "it is \(kind(before)), not a regular file") }
        let fd = Foundation.open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw Refusal(reason: String(cString: strerror(errno))) }
        var after = stat()
        guard fstat(fd, &after) == 0, isRegular(after), FileIdentity(after) == FileIdentity(before) else {
            close(fd)
            throw Refusal(reason: "the file was replaced while it was opened")
        }
        return (fd, after)
    }

    /// The whole regular file at `path`, at most `limit` bytes, or a `Refusal` (missing, not a
    /// regular file, too large, a read error).
    static func bytes(_ path: String, limit: Int) throws(Refusal) -> [UInt8] {
        let (fd, status) = try open(path)
        defer { close(fd) }
        let size = Int(status.st_size)
        guard size <= limit else { throw Refusal(reason: "\(size) bytes is over the limit of \(limit) bytes") }
        var bytes = [UInt8](repeating: 0, count: size)
        var done = 0
        while done < size {
            let n = bytes.withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress! + done, size - done) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw Refusal(reason: n == 0 ? "the file shrank while being read" : String(cString: strerror(errno))) }
            done += n
        }
        return bytes
    }

    /// `bytes(path, limit:)` for image data: a refusal is `.unreadable` naming the path.
    static func read(_ path: String, limit: Int) throws -> [UInt8] {
        do { return try bytes(path, limit: limit) } catch { throw DataError.unreadable(path: path, reason: error.reason) }
    }

    static func unreadable(_ path: String, errno code: Int32) -> DataError {
        .unreadable(path: path, reason: String(cString: strerror(code)))
    }
}
