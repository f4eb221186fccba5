@testable import FineTuneCore
import Foundation

/// Model-file metadata: arbitrary bytes parsed as a safetensors file and read as a model file
/// (`ModelFile(data:file:)`: every metadata key checked, the head's tensors against its spec and
/// the classes), as `predict` and `evaluate` do before they look for the backbone's plugin.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let data = Data(bytes: start, count: count)
    if let model = try? ModelFile(data: data, file: "fuzz") {
        _ = model.headSpec
        _ = model.classes.map(\.terminalSafe)
    }
    return 0
}
