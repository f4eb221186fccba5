// The `.pth` reader on arbitrary bytes, both formats: the zip archive (central directory,
// zip64 records, local headers, CRC-32) and the legacy layout (five pickles, then storages),
// the restricted unpickler, and the copy of every tensor view out of its storage.
@testable import FineTuneCore
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let data = Data(bytes: start, count: count)
    _ = try? TorchCheckpoint.read(data: data, file: "fuzz.pth")
    return 0
}
