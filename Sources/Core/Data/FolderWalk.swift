// FolderWalk: the image files below a folder, each regular file listed once, loops skipped.
//
// Symlinks are followed, as torchvision's ImageFolder does (os.walk(followlinks=True)), so a
// dataset may link its images or class folders from elsewhere. Every folder entered and every
// file listed is remembered by its (device, inode): a folder met again (a symlink loop such as
// `a/up -> ..`, or a second link to a folder already walked) is not entered, and a file met again
// (a second path to it) is not listed twice, each with a warning naming both paths. An entry
// with an image extension that is not a regular file (a FIFO, a socket, a device, a dangling
// link) is skipped with a warning before anything opens it. Names starting with "." are
// ignored; entries are visited in code-point order, as Python sorts.

import Foundation

/// One walk over one or more folders, sharing what it has seen. Not thread-safe.
struct FolderWalk {
    /// Receives one line per skipped entry.
    let warn: (String) -> Void
    /// The first path each folder and file was met at.
    private var seen: [FileIdentity: String] = [:]

    /// - Parameter warn: receives each warning, control characters in names shown escaped.
    init(warn: @escaping (String) -> Void) {
        self.warn = { warn($0.terminalSafe) }
    }

    /// The visible sub-folders of `folder` (following links), sorted, each entered at most once:
    /// a folder already met is left out with a warning. Marks `folder` itself as met.
    mutating func subfolders(of folder: String) throws -> [String] {
        try entries(of: folder).compactMap { path, status in
            RegularFile.isFolder(status) && enter(path, status) ? path : nil
        }
    }

    /// The image files below `folder`, recursively, in code-point order of their names.
    mutating func imageFiles(under folder: String) throws -> [String] {
        var files: [String] = []
        for (path, status) in try entries(of: folder) {
            if RegularFile.isFolder(status) {
                if enter(path, status) { files += try imageFiles(under: path) }
            } else if FolderWalk.isImageName(path) {
                if !RegularFile.isRegular(status) {
                    warn("\(path): skipped, it is \(RegularFile.kind(status)), not a regular file")
                } else if enter(path, status) {
                    files.append(path)
                }
            }
        }
        return files
    }

    /// True when `path` ends in an image extension (any case).
    static func isImageName(_ path: String) -> Bool {
        ImageDataset.imageExtensions.contains((path as NSString).pathExtension.lowercased())
    }

    /// Marks a folder or file as met; false, with a warning, when it was met before.
    private mutating func enter(_ path: String, _ status: stat) -> Bool {
        let identity = FileIdentity(status)
        if let first = seen[identity] {
            warn(RegularFile.isFolder(status)
                 ? "\(path): skipped, the same folder as \(first) (a symlink loop or a second link to it)"
                 : "\(path): skipped, the same file as \(first) (a second link to it)")
            return false
        }
        seen[identity] = path
        return true
    }

    /// The visible entries of `folder` with their status (links followed), sorted by name. The
    /// folder is opened without blocking and confirmed a folder on the open descriptor. An entry
    /// whose status cannot be read (a dangling link, a link loop) is reported when it has an
    /// image name and ignored otherwise.
    private mutating func entries(of folder: String) throws -> [(String, stat)] {
        let fd = open(folder, O_RDONLY | O_DIRECTORY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw DataError.unreadable(path: folder, reason: "cannot list the folder: " + String(cString: strerror(errno))) }
        var status = stat()
        guard fstat(fd, &status) == 0, let directory = fdopendir(fd) else {
            close(fd)
            throw DataError.unreadable(path: folder, reason: "cannot list the folder")
        }
        defer { closedir(directory) }
        seen[FileIdentity(status)] = seen[FileIdentity(status)] ?? folder
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if !name.hasPrefix(".") { names.append(name) }
        }
        var result: [(String, stat)] = []
        for name in names.sorted(by: ImageDataset.codePointOrder) {
            let path = ImageDataset.join(folder, name)
            var entry = stat()
            if stat(path, &entry) == 0 {
                result.append((path, entry))
            } else if FolderWalk.isImageName(path) {
                warn("\(path): skipped, " + String(cString: strerror(errno)))
            }
        }
        return result
    }
}
