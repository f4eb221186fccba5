/// A small JPEG of an image file for the report: decoded with the tool's own decoders (the
/// file is read as hostile input, within the pixel limit), shrunk with antialiasing so that
/// its longer side is at most `Limits.thumbnailSide`, encoded by TurboJPEG.
enum Thumbnail {
    /// JPEG quality: small files, faces and objects still recognisable.
    static let quality = 80

    /// The JPEG bytes of the thumbnail of the image at `path`.
    /// - Throws: `DataError` naming `path` for a file that is not a readable JPEG or PNG image.
    static func jpeg(file path: String, decoder: ImageDecoder, side: Int = Limits.thumbnailSide) throws -> [UInt8] {
        let image = try decoder.decode(ImageDecoder.read(path), path: path, atLeast: (side, side)).rgb()
        let scale = min(1, Double(side) / Double(max(image.width, image.height)))
        let width = max(1, Int((Double(image.width) * scale).rounded()))
        let height = max(1, Int((Double(image.height) * scale).rounded()))
        let small = scale < 1 ? image.resized(width: width, height: height) : image
        return try ImageEncoder.jpeg(small, quality: quality)
    }
}
