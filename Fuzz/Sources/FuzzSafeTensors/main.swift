@testable import FineTuneCore
import Foundation

/// The safetensors reader on arbitrary bytes: a header of any length and content, then data.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let data = Data(bytes: start, count: count)
    _ = try? SafeTensorsFile(data: data, file: "fuzz.safetensors")
    return 0
}
