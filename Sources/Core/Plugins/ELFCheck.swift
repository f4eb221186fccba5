import Foundation

/// Checks that a plugin file is a whole ELF shared object of this machine before dlopen maps it.
///
/// dlopen maps a library's segments straight from the file. A segment that reaches past the end
/// of a truncated file maps pages with no bytes behind them, and the first touch kills the host
/// with SIGBUS. So the ELF header and the program headers are read with bounds and overflow
/// checks (`CheckedSize`), and the file range of every PT_LOAD and PT_DYNAMIC segment, and the
/// section header table when there is one, must lie inside the file. Layouts: the System V ABI,
/// "ELF-64 Object File Format" (elf(5)); 64-bit hosts only, as Swift on Linux.
enum ELFCheck {
    static let headerSize = 64          // sizeof(Elf64_Ehdr)
    static let programHeaderSize = 56   // sizeof(Elf64_Phdr)
    static let sectionHeaderSize = 64   // sizeof(Elf64_Shdr)

    /// This machine's `e_machine`, or nil on an architecture this check does not know.
    static var hostMachine: UInt16? {
        #if arch(x86_64)
        return 62   // EM_X86_64
        #elseif arch(arm64)
        return 183  // EM_AARCH64
        #else
        return nil
        #endif
    }

    /// Checks the open regular file `fd` of `size` bytes.
    /// Throws `PluginError.notALibrary` for a file that is not an ELF shared object of this
    /// machine, and `PluginError.truncated` for one cut short or pointing outside itself.
    static func check(fd: Int32, size: Int) throws {
        try check(size: size) { range in try readExactly(fd, range) }
    }

    /// The check over any reader of `size` bytes; `read` is only asked for ranges inside the file.
    static func check(size: Int, read: (Range<Int>) throws -> [UInt8]) throws {
        let magic: [UInt8] = [0x7F, 0x45, 0x4C, 0x46]  // "\u{7F}ELF"
        let head = try read(0..<min(size, headerSize))
        guard Array(head.prefix(4)) == Array(magic.prefix(head.count)) else {
            throw PluginError.notALibrary(reason: "not an ELF file")
        }
        guard size >= headerSize else {
            throw PluginError.truncated(reason: "\(size) bytes, shorter than an ELF header")
        }
        guard head[4] == 2 else { throw PluginError.notALibrary(reason: "not a 64-bit ELF file") }  // ELFCLASS64
        let hostData: UInt8 = 1.littleEndian == 1 ? 1 : 2  // ELFDATA2LSB, ELFDATA2MSB
        guard head[5] == hostData else { throw PluginError.notALibrary(reason: "an ELF file of the other byte order") }
        let eType = field(head, 16, as: UInt16.self), machine = field(head, 18, as: UInt16.self)
        guard eType == 3 else {  // ET_DYN
            throw PluginError.notALibrary(reason: "an ELF file of type \(eType), not a shared library")
        }
        if let hostMachine, machine != hostMachine {
            throw PluginError.notALibrary(reason: "an ELF file for machine \(machine), this one is machine \(hostMachine)")
        }

        let phoff = try offset(field(head, 32, as: UInt64.self), "program header offset")
        let phentsize = Int(field(head, 54, as: UInt16.self)), phnum = Int(field(head, 56, as: UInt16.self))
        guard phentsize == programHeaderSize, phnum > 0, phnum < 0xFFFF else {
            throw PluginError.truncated(reason: "\(phnum) program headers of \(phentsize) bytes")
        }
        guard let tableBytes = CheckedSize.product(phnum, phentsize),
              let table = CheckedSize.range(offset: phoff, count: tableBytes, within: size) else {
            throw PluginError.truncated(reason: "the program headers end past the end of the file (\(size) bytes)")
        }
        let headers = try read(table)
        var loads = 0
        for i in 0..<phnum {
            let base = i * programHeaderSize
            let type = field(headers, base, as: UInt32.self)
            guard type == 1 || type == 2 else { continue }  // PT_LOAD, PT_DYNAMIC
            if type == 1 { loads += 1 }
            let start = try offset(field(headers, base + 8, as: UInt64.self), "segment \(i) offset")
            let length = try offset(field(headers, base + 32, as: UInt64.self), "segment \(i) size")
            guard let end = CheckedSize.sum(start, length), end <= size else {
                throw PluginError.truncated(reason: "segment \(i) (\(length) bytes at offset \(start)) reaches past the end of the file (\(size) bytes)")
            }
        }
        guard loads > 0 else { throw PluginError.truncated(reason: "no loadable segment") }

        let shoff = try offset(field(head, 40, as: UInt64.self), "section header offset")
        guard shoff != 0 else { return }
        // e_shnum 0 with a table present: the real count is in the first entry, which must fit.
        let shnum = max(Int(field(head, 60, as: UInt16.self)), 1)
        guard let sectionBytes = CheckedSize.product(shnum, sectionHeaderSize),
              CheckedSize.range(offset: shoff, count: sectionBytes, within: size) != nil else {
            throw PluginError.truncated(reason: "the section headers end past the end of the file (\(size) bytes)")
        }
    }

    /// A field of the host's byte order (the check has required the file's to match it).
    static func field<T: FixedWidthInteger>(_ bytes: [UInt8], _ at: Int, as: T.Type) -> T {
        bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: T.self) }
    }

    /// A file offset or size as `Int`, or an error naming it when it does not fit.
    static func offset(_ value: UInt64, _ what: String) throws -> Int {
        guard let v = Int(exactly: value) else { throw PluginError.truncated(reason: "\(what) \(value) is impossible") }
        return v
    }

    /// Exactly the bytes of `range`, read with pread; a file that shrinks meanwhile is truncated.
    static func readExactly(_ fd: Int32, _ range: Range<Int>) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: range.count)
        var done = 0
        while done < range.count {
            let n = bytes.withUnsafeMutableBytes { buffer in
                pread(fd, buffer.baseAddress! + done, range.count - done, off_t(range.lowerBound + done))
            }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else {
                throw PluginError.truncated(reason: n == 0 ? "the file ended while it was read" : String(cString: strerror(errno)))
            }
            done += n
        }
        return bytes
    }
}
