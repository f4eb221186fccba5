// RandomAffine: random rotation and shear, as torchvision's RandomRotation(degrees) and
// RandomAffine(degrees=0, shear=s) on PIL images.
//
// Rotation is PIL's `Image.rotate` (what torchvision's F.rotate calls on a PIL image); shear builds
// torchvision's inverse affine matrix (`_get_inverse_affine_matrix`, centre at (w/2, h/2)). Both
// resample with PIL's nearest-neighbour affine transform (Image+Affine.swift); points outside
// become black (torchvision's default fill 0). The output keeps the input size (expand=False).

/// torchvision's `RandomRotation(degrees)`: a rotation by an angle uniform in
/// [-degrees, degrees], counter-clockwise, nearest-neighbour, corners filled with black.
public struct RandomRotation: RandomTransform {
    public var degrees: Double

    public init(degrees: Double) {
        precondition(degrees >= 0, "RandomRotation degrees must be non-negative")
        self.degrees = degrees
    }

    public func apply(_ image: Image, using random: inout SeededRandom) -> Image {
        image.rotated(degrees: random.uniform(-degrees, degrees))
    }
}

/// torchvision's `RandomAffine(degrees=0, shear=degrees)`: a horizontal shear by an angle
/// uniform in [-degrees, degrees], nearest-neighbour, uncovered pixels black.
public struct RandomShear: RandomTransform {
    public var degrees: Double

    public init(degrees: Double) {
        precondition(degrees >= 0 && degrees < 90, "RandomShear degrees must lie in [0, 90)")
        self.degrees = degrees
    }

    public func apply(_ image: Image, using random: inout SeededRandom) -> Image {
        let shear = random.uniform(-degrees, degrees)
        return image.warped(AffineMatrix.inverse(width: image.width, height: image.height, angle: 0, shearX: shear))
    }
}
