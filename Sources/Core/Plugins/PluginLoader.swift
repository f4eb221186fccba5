import Foundation
import PluginABI

/// Opens one plugin file and reads its descriptor, trusting nothing it has not checked.
///
/// Before anything opens the file, `stat` must call it a regular file (a FIFO, socket, device
/// or folder named `x.so` is never opened: opening a FIFO blocks forever). It is then opened
/// without blocking and `ELFCheck` reads its headers, so dlopen only maps a whole shared library
/// of this machine. Every ABI struct the plugin returns is read front first: `struct_size` and
/// the ABI version through its leading fields, the rest only once `struct_size` covers it.
/// dlopen uses `RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE`, and a library is never closed.
enum PluginLoader {
    /// The backbones of the plugin at `path`, each checked (see `Backbone.init(descriptor:...)`).
    static func load(_ path: String) throws -> [Backbone] {
        guard !path.unicodeScalars.contains(where: PluginText.isControl) else {
            throw PluginError.invalid("the file name holds a control character: rename it")
        }
        try checkFile(path)
        // A path with a "/" makes dlopen open exactly that file, never a search-path lookup.
        let openPath = path.contains("/") ? path : "./" + path
        guard let handle = dlopen(openPath, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE) else {
            let reason = dlerror().map { PluginText.message($0) } ?? "unknown dlopen error"
            throw PluginError.notALibrary(reason: reason)
        }
        guard let symbol = dlsym(handle, FT_ENTRY_SYMBOL) else {
            throw PluginError.noEntry
        }
        let entry = unsafeBitCast(symbol, to: ft_plugin_entry_fn.self)
        guard let desc = entry(FT_ABI_MAJOR, FT_ABI_MINOR) else {
            throw PluginError.refused
        }
        let d = try readVersioned(desc, minimum: ABIStruct.size(through: \ft_plugin_desc.backbones), what: "plugin descriptor").value
        guard (0...Limits.backbonesPerPlugin).contains(Int(d.backbone_count)) else {
            throw PluginError.invalid("the descriptor lists \(d.backbone_count) backbones, not 0 to \(Limits.backbonesPerPlugin)")
        }
        guard d.backbone_count == 0 || d.backbones != nil else {
            throw PluginError.invalid("the descriptor's backbone list is missing")
        }
        let pluginName = try d.plugin_name.map { try PluginText.read($0, what: "plugin name") } ?? path
        let pluginVersion = try d.plugin_version.map { try PluginText.read($0, what: "plugin version") } ?? "?"
        return try (0..<Int(d.backbone_count)).map { i in
            guard let bp = d.backbones[i] else { throw PluginError.invalid("backbone \(i) is NULL") }
            let b = try readVersioned(bp, minimum: ABIStruct.size(through: \ft_backbone_desc.build), what: "backbone descriptor \(i)").value
            return try Backbone(descriptor: b, index: i, pluginPath: path, pluginName: pluginName, pluginVersion: pluginVersion)
        }
    }

    /// Throws unless `path` is a regular file (after symbolic links) holding a whole shared
    /// library of this machine. The type is checked before the file is opened, and again on the
    /// open descriptor, which is opened without blocking in case the file was swapped meanwhile.
    static func checkFile(_ path: String) throws {
        let fd: Int32, status: stat
        do { (fd, status) = try RegularFile.open(path) } catch {
            throw PluginError.notRegularFile(reason: error.missing ? "a dangling symbolic link" : error.reason)
        }
        defer { close(fd) }
        try ELFCheck.check(fd: fd, size: Int(status.st_size))
    }

    /// The struct at `p`, copied only after its leading `struct_size`, `abi_major` and
    /// `abi_minor` (read alone) show the major version matches and the struct holds ABI 1.0's
    /// fields (`minimum` bytes); it is read no further than its `struct_size`, so the fields a
    /// plugin built against an older minor version does not know read as zero (`ABIStruct`).
    static func readVersioned<T>(_ p: UnsafePointer<T>, minimum: Int, what: String) throws -> (value: T, size: UInt32) {
        let front = UnsafeRawPointer(p)
        let size = front.load(as: UInt32.self)
        let major = front.load(fromByteOffset: 4, as: UInt32.self)
        let minor = front.load(fromByteOffset: 8, as: UInt32.self)
        guard major == FT_ABI_MAJOR else {
            throw PluginError.abiMismatch(major: major, minor: minor)
        }
        guard Int(size) >= minimum else {
            throw PluginError.invalid("\(what) is \(size) bytes, ABI \(major).\(minor) needs at least \(minimum)")
        }
        return (ABIStruct.copy(p, size: size), size)
    }
}
