import Foundation

/// Test-time augmentation: each image is classified as its centre crop and as that crop flipped
/// left to right, and the two softmax distributions are averaged, as in Simonyan and Zisserman,
/// "Very Deep Convolutional Networks for Large-Scale Image Recognition" (arXiv:1409.1556, §3.2):
/// "the soft-max class posteriors of the original and flipped images are averaged". The logits
/// reported are the mean of the two logit vectors (the softmax of that mean is not the averaged
/// probabilities).
///
/// Layout: images (n, height, width, channels) Float32, NHWC; logits (n, classes).
enum FlipAugmentation {
    /// Reverses every row of `n` images in place: pixel x of a row trades places with width - 1 - x,
    /// its channels kept in order.
    static func flipHorizontally(_ images: UnsafeMutablePointer<Float>, count n: Int, height: Int, width: Int, channels: Int) {
        for row in 0..<(n * height) {
            let line = images + row * width * channels
            var left = 0, right = width - 1
            while left < right {
                for c in 0..<channels { swap(&line[left * channels + c], &line[right * channels + c]) }
                left += 1
                right -= 1
            }
        }
    }

    /// The logits of `n` images as they are and flipped, each (n, classes). `images` is flipped in
    /// place for the second pass and flipped back before returning.
    static func logits(_ executor: Executor, images: UnsafeMutablePointer<Float>, count n: Int, height: Int, width: Int,
                       classes: Int) -> (plain: [Float], flipped: [Float]) {
        var rng = SplitMix64(seed: 0)  // inference draws nothing
        let plain = Array(UnsafeBufferPointer(start: executor.forward(images, count: n, rng: &rng), count: n * classes))
        flipHorizontally(images, count: n, height: height, width: width, channels: 3)
        let flipped = Array(UnsafeBufferPointer(start: executor.forward(images, count: n, rng: &rng), count: n * classes))
        flipHorizontally(images, count: n, height: height, width: width, channels: 3)
        return (plain, flipped)
    }

    /// One image's result: the mean of its two logit vectors, and the mean of their softmax
    /// probabilities.
    static func average(_ plain: ArraySlice<Float>, _ flipped: ArraySlice<Float>) -> (logits: [Float], probabilities: [Double]) {
        let logits = zip(plain, flipped).map { ($0 + $1) / 2 }
        let probabilities = zip(softmax(plain), softmax(flipped)).map { ($0 + $1) / 2 }
        return (logits, probabilities)
    }
}

/// Softmax of one logit vector, in Double, shifted by its maximum.
func softmax(_ logits: some Collection<Float>) -> [Double] {
    let m = Double(logits.max() ?? 0)
    let e = logits.map { exp(Double($0) - m) }
    let s = e.reduce(0, +)
    return e.map { $0 / s }
}
