// The safetensors reader on arbitrary bytes: the header length, the JSON census and parse,
// every entry's dtype, shape and data offsets, and the conversion of the data to Float32.
@testable import FineTuneCore
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let data = Data(bytes: start, count: count)
    _ = try? SafeTensorsFile(data: data, file: "fuzz.safetensors")
    return 0
}
