// SampleTransform: from the bytes of one file to the normalised Float32 input of one sample.
//
// Two pipelines, the ones every fine-tuning script writes:
//   training:   RandomResizedCrop -> [flips, rotation, shear, colour jitter, TrivialAugment or
//               RandAugment] -> Normalize -> [RandomErasing]
//   evaluation: Resize(shorter side) -> CenterCrop -> Normalize
// Both read the header first so the JPEG decoder can shrink in the DCT domain when the image is
// at least twice the size the crop needs (never below it). Output: (H, W, 3) NHWC Float32.
//
// Hostile sizes: the header's size is checked against the decoder's pixel limit before anything
// else (a decompression bomb), and no step builds an image larger than the source or the output
// needs, whatever the aspect ratio: the training crop is cut from the source before resizing,
// and the evaluation resize computes only the centre-crop window of its result.

/// Turns an encoded image file into one normalised sample, (height, width, 3) Float32.
public protocol SampleTransform: Sendable {
    /// Output rows.
    var height: Int { get }
    /// Output columns.
    var width: Int { get }
    /// Decodes `bytes` with `decoder`, transforms with draws from `random`, and writes
    /// `height * width * 3` floats, (H, W, 3), at `output`. Throws a `DataError` naming `path`.
    func process(_ bytes: [UInt8], path: String, decoder: ImageDecoder, random: inout SeededRandom,
                 into output: UnsafeMutablePointer<Float>) throws
}

/// The training pipeline: RandomResizedCrop, then the augmentations in order, then Normalize,
/// then random erasing of the normalised floats.
public struct TrainTransform: SampleTransform {
    public var crop: RandomResizedCrop
    /// Applied after the crop, in this order (flips, rotation, shear, colour jitter...).
    public var augmentations: [any RandomTransform]
    public var normalize: Normalize
    /// Erases a box of the normalised sample (to 0, the mean colour); nil: never.
    public var erasing: RandomErasing?
    /// Let the JPEG decoder shrink in the DCT domain when the crop needs at most half the
    /// resolution. Faster; pixels differ slightly from a full decode (PIL never does this).
    public var dctScaling = true

    public var height: Int { crop.height }
    public var width: Int { crop.width }

    /// - Parameters:
    ///   - crop: the random resized crop that sets the output size.
    ///   - augmentations: random transforms applied to the crop, in order.
    ///   - normalize: mean/std normalisation, ImageNet's by default.
    ///   - erasing: random erasing after normalisation; nil: none.
    public init(crop: RandomResizedCrop, augmentations: [any RandomTransform] = [RandomHorizontalFlip()],
                normalize: Normalize = .imagenet, erasing: RandomErasing? = nil) {
        self.crop = crop
        self.augmentations = augmentations
        self.normalize = normalize
        self.erasing = erasing
    }

    /// The 8-bit image after the crop and augmentations (before normalisation and erasing).
    public func image(_ bytes: [UInt8], path: String, decoder: ImageDecoder, random: inout SeededRandom) throws -> Image {
        let info = try decoder.info(bytes, path: path)
        try decoder.checkSize(width: info.width, height: info.height, path: path)
        let box = crop.box(width: info.width, height: info.height, using: &random)
        let needed = crop.neededSize(for: box, fullWidth: info.width, fullHeight: info.height)
        let decoded = try decoder.decode(bytes, path: path, atLeast: dctScaling ? needed : nil)
        let scaledBox = box.scaled(from: (info.width, info.height), to: (decoded.width, decoded.height))
        var image = decoded.resized(width: crop.width, height: crop.height, from: scaledBox)
        for augmentation in augmentations {
            image = augmentation.apply(image, using: &random)
        }
        return image
    }

    public func process(_ bytes: [UInt8], path: String, decoder: ImageDecoder, random: inout SeededRandom,
                        into output: UnsafeMutablePointer<Float>) throws {
        let augmented = try image(bytes, path: path, decoder: decoder, random: &random)
        normalize.write(augmented, to: output)
        erasing?.apply(to: output, width: augmented.width, height: augmented.height, using: &random)
    }
}

/// The evaluation pipeline: Resize(shorter side), CenterCrop, Normalize. No randomness.
public struct EvalTransform: SampleTransform {
    public var resize: Resize
    public var centerCrop: CenterCrop
    public var normalize: Normalize
    /// The resize's filter (torchvision's EfficientNet weights are evaluated with bicubic).
    public var interpolation: Interpolation
    /// Let the JPEG decoder shrink in the DCT domain when the image is at least twice the resized
    /// size. Faster; turn it off for pixel parity with torchvision (PIL never does this).
    public var dctScaling = true

    public var height: Int { centerCrop.height }
    public var width: Int { centerCrop.width }

    /// - Parameters:
    ///   - resize: shorter side after resizing (256 for a 224 crop, 320 for EfficientNet-B3's 300).
    ///   - crop: the square centre crop.
    public init(resize: Int, crop: Int, normalize: Normalize = .imagenet, interpolation: Interpolation = .bilinear) {
        self.resize = Resize(size: resize)
        self.centerCrop = CenterCrop(size: crop)
        self.normalize = normalize
        self.interpolation = interpolation
    }

    /// The 8-bit image after resizing and cropping (before normalisation). The resize and the
    /// crop are one step: only the crop's window of the resized image is computed (bit-exact with
    /// resizing all of it, then cropping), so a 65500x1 image costs a 224x224 crop, not the
    /// 16768000x256 resize.
    public func image(_ bytes: [UInt8], path: String, decoder: ImageDecoder) throws -> Image {
        let info = try decoder.info(bytes, path: path)
        try decoder.checkSize(width: info.width, height: info.height, path: path)
        let target = resize.outputSize(width: info.width, height: info.height)
        let decoded = try decoder.decode(bytes, path: path, atLeast: dctScaling ? target : nil)
        return resizedAndCropped(decoded, to: target)
    }

    /// An image already decoded (an app's own pixels), resized and cropped as a file of that size
    /// is by `image(_:path:decoder:)` when the file decodes at full size (a PNG; a JPEG less
    /// than twice the resized size or with `dctScaling` off).
    public func image(decoded: Image) -> Image {
        resizedAndCropped(decoded, to: resize.outputSize(width: decoded.width, height: decoded.height))
    }

    /// `decoded` resized to `target` (the resize of the image's displayed size) and center-cropped.
    private func resizedAndCropped(_ decoded: Image, to target: (width: Int, height: Int)) -> Image {
        let placement = centerCrop.placement(width: target.width, height: target.height)
        return decoded.resized(width: target.width, height: target.height, window: placement.window, interpolation: interpolation)
            .padded(placement)
    }

    public func process(_ bytes: [UInt8], path: String, decoder: ImageDecoder, random: inout SeededRandom,
                        into output: UnsafeMutablePointer<Float>) throws {
        normalize.write(try image(bytes, path: path, decoder: decoder), to: output)
    }
}
