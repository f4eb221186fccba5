@testable import FineTuneCore
import Foundation

/// The `--class-weights` file parser on arbitrary bytes: UTF-8 and BOM, line splitting, the
/// `class weight` split, the name and weight checks, duplicates and the class limit; then the
/// weights for a fixed class list, as training asks for them (no file system involved).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = [UInt8](UnsafeRawBufferPointer(start: start, count: count))
    guard let weights = try? ClassWeights.parse(bytes, source: "fuzz.txt") else { return 0 }
    _ = try? ClassWeights.given(file: "fuzz.txt", weights: weights).weights(classes: ["cat", "dog", "owl"], counts: [3, 1, 0])
    return 0
}
