@testable import FineTuneCore
import Foundation
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let data = Data(bytes: start, count: count)
    _ = try? ELFCheck.check(size: data.count) { range in Array(data[range]) }
    return 0
}
