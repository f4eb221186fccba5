@testable import FineTuneCore
import Foundation

/// Model-file metadata: bytes read as a model file (`ModelFile(data:file:)`: the safetensors
/// header, then every metadata key checked, the head's tensors against its spec and the classes),
/// as `predict` and `evaluate` do before they look for the backbone's plugin. Each input is tried
/// twice: as a whole file, and as the JSON header alone, given its length prefix and 8 KB of zero
/// data, so mutations of the metadata are not lost to a stale length prefix.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let data = Data(bytes: start, count: count)
    var length = UInt64(count).littleEndian
    let wrapped = Data(bytes: &length, count: 8) + data + Data(count: 8192)
    for bytes in [data, wrapped] {
        if let model = try? ModelFile(data: bytes, file: "fuzz") {
            _ = model.headSpec
            _ = model.classes.map(\.terminalSafe)
        }
    }
    return 0
}
