/// The training transform a run's options ask for: the random resized crop with its scale and
/// ratio, the 8-bit augmentations in order (flips, rotation, shear, colour jitter, then
/// TrivialAugmentWide or RandAugment, torchvision's reference recipe order), normalisation and
/// random erasing.
extension Trainer {
    /// - Parameters:
    ///   - options: validated options.
    ///   - size: the square crop side.
    ///   - normalize: the backbone's mean and std.
    static func trainTransform(_ options: TrainingOptions, size: Int, normalize: Normalize) -> TrainTransform {
        var augmentations: [any RandomTransform] = []
        if options.horizontalFlip { augmentations.append(RandomHorizontalFlip()) }
        if options.verticalFlip { augmentations.append(RandomVerticalFlip()) }
        if options.rotation > 0 { augmentations.append(RandomRotation(degrees: options.rotation)) }
        if options.shear > 0 { augmentations.append(RandomShear(degrees: options.shear)) }
        if options.colorJitter > 0 {
            augmentations.append(ColorJitter(brightness: options.colorJitter, contrast: options.colorJitter,
                                             saturation: options.colorJitter))
        }
        switch options.autoAugment {
        case .none: break
        case .trivialWide: augmentations.append(TrivialAugmentWide())
        case .randAugment: augmentations.append(RandAugment(ops: options.randAugmentOps, magnitude: options.randAugmentMagnitude))
        }
        let crop = RandomResizedCrop(size: size, scale: options.cropScale.range, ratio: options.cropRatio.range)
        return TrainTransform(crop: crop, augmentations: augmentations, normalize: normalize,
                              erasing: options.randomErasing > 0 ? RandomErasing(probability: options.randomErasing) : nil)
    }
}
