@testable import FineTuneCore
import Foundation

/// JPEG decoding (TurboJPEG, the EXIF orientation, the truncation walk) on arbitrary bytes, then
/// the evaluation resize + centre crop to 224 (with DCT-domain downscaling) and the training
/// random resized crop, so the resampling of whatever size the header claims is fuzzed too. The
/// pixel limit is lowered to 4 megapixels to keep each run fast; the checks are the same at any limit.
let decoder = ImageDecoder(maxPixels: 4_000_000)
let eval = EvalTransform(resize: 256, crop: 224)
let train = TrainTransform(crop: RandomResizedCrop(size: 224), augmentations: [RandomHorizontalFlip()])

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = [UInt8](UnsafeRawBufferPointer(start: start, count: count))
    _ = try? eval.image(bytes, path: "fuzz.jpg", decoder: decoder)
    var random = SeededRandom(seed: UInt64(count))
    _ = try? train.image(bytes, path: "fuzz.jpg", decoder: decoder, random: &random)
    return 0
}
