/// The pooled backbone features of every image of a dataset (one augmented view of each),
/// indexed by dataset index, and batches gathered from them for the head.
///
/// Layout: `values` is (images, width) Float32, row i = dataset index i. Rows of images that
/// could not be read are never written and never handed out.
final class FeatureTable {
    let width: Int
    let labels: [Int32]
    let values: FloatBuffer
    /// Whether row i holds features (false: the file could not be read).
    private(set) var readable: [Bool]
    /// Images left out because they could not be read.
    var skipped = 0

    /// - Parameters:
    ///   - labels: the class index of each image, in dataset order.
    ///   - width: features per image (the backbone's `in_features`).
    init(labels: [Int32], width: Int) {
        self.labels = labels
        self.width = width
        values = FloatBuffer(count: labels.count * width, zeroed: false)
        readable = Array(repeating: false, count: labels.count)
    }

    /// Stores the `width` features at `row` as the features of image `index`.
    func set(_ index: Int, from row: UnsafePointer<Float>) {
        (values.pointer + index * width).update(from: row, count: width)
        readable[index] = true
    }

    /// The readable images among `indices`, in that order, as a batch of (count, 1, 1, width)
    /// features the head graph takes as input.
    func batch(_ indices: [Int]) -> Batch {
        let kept = indices.filter { readable[$0] }
        let features = [Float](unsafeUninitializedCapacity: kept.count * width) { out, initialized in
            for (row, index) in kept.enumerated() {
                (out.baseAddress! + row * width).update(from: values.pointer + index * width, count: width)
            }
            initialized = kept.count * width
        }
        return Batch(images: features, labels: kept.map { labels[$0] }, indices: kept, count: kept.count, height: 1, width: 1)
    }

    /// Every readable image in dataset order, in batches of up to `size`.
    func batches(of size: Int) -> [Batch] {
        stride(from: 0, to: labels.count, by: size)
            .map { batch(Array($0..<min($0 + size, labels.count))) }
            .filter { $0.count > 0 }
    }
}
