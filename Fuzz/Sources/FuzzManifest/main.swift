@testable import FineTuneCore
import Foundation

/// The manifest parser on arbitrary bytes: line splitting and limits, UTF-8 validation, the
/// `path label` split, headers, comments and the label checks (no file system involved).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = [UInt8](UnsafeRawBufferPointer(start: start, count: count))
    _ = try? ImageDataset.parseManifest(bytes, source: "fuzz.txt")
    return 0
}
