import PluginABI

/// The header's struct-size rule (`FT_SIZE_THROUGH`; fields past 1.0 are read as `FT_HAS_FIELD` says) for the
/// host's Swift readers: a struct from a plugin is read no further than its `struct_size`.
enum ABIStruct {
    /// Bytes of `T` through `field` (FT_SIZE_THROUGH): the least `struct_size` that holds it.
    static func size<T, F>(through field: KeyPath<T, F>) -> Int {
        MemoryLayout<T>.offset(of: field)! + MemoryLayout<F>.size
    }

    /// The struct at `p` as its writer knew it: its first `size` bytes (at most `T`'s own),
    /// every byte past them zero, so a field it did not know reads as 0 or NULL.
    static func copy<T>(_ p: UnsafePointer<T>, size: UInt32) -> T {
        let copy = UnsafeMutableRawPointer.allocate(byteCount: MemoryLayout<T>.size, alignment: MemoryLayout<T>.alignment)
        defer { copy.deallocate() }
        copy.initializeMemory(as: UInt8.self, repeating: 0, count: MemoryLayout<T>.size)
        copy.copyMemory(from: UnsafeRawPointer(p), byteCount: min(Int(size), MemoryLayout<T>.size))
        return copy.load(as: T.self)
    }
}
