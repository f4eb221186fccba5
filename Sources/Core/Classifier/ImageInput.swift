import Foundation

/// One image for `ImageClassifier`: a file, a file's bytes already in memory, or pixels an app
/// has decoded itself. Each goes through the model's evaluation preprocessing (resize, center
/// crop, normalisation from the model file), the same for all three.
public enum ImageInput: Sendable {
    /// A JPEG or PNG file (only a regular file is read; see `ImageDecoder.read`).
    case file(String)
    /// The bytes of a JPEG or PNG file, recognised by their first bytes; `name` stands for them
    /// in errors and in `Classification.image`.
    case encoded(Data, name: String)
    /// Decoded 8-bit RGB pixels; `name` as for `.encoded`.
    case pixels(RGBPixels, name: String)

    /// The file path or the name given.
    public var name: String {
        switch self {
        case .file(let path): path
        case .encoded(_, let name), .pixels(_, let name): name
        }
    }

    /// The 8-bit image `transform` gives for this input: decoded with `decoder` and resized
    /// and cropped. Throws a `DataError` naming the input.
    func image(_ transform: EvalTransform, decoder: ImageDecoder) throws -> Image {
        switch self {
        case .file(let path):
            return try transform.image(ImageDecoder.read(path), path: path, decoder: decoder)
        case .encoded(let data, let name):
            // The same limit as a file's, before the bytes are copied.
            guard data.count <= Limits.imageFileBytes else {
                throw DataError.unreadable(path: name, reason: "\(data.count) bytes is over the limit of \(Limits.imageFileBytes) bytes")
            }
            return try transform.image([UInt8](data), path: name, decoder: decoder)
        case .pixels(let pixels, _):
            return transform.image(decoded: pixels.image)
        }
    }
}
