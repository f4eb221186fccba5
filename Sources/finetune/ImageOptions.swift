import ArgumentParser
import FineTuneCore

/// The image-decoding options of the commands that read images (train, evaluate, predict).
struct ImageOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Refuse images of more pixels than N, from their header, before decoding them: a guard against decompression bombs (the default is Pillow's MAX_IMAGE_PIXELS). Raise it for very large photos.", valueName: "N"))
    var maxImagePixels: Int?

    /// The limit in force: the option's value, or the default when it is left out.
    var pixelLimit: Int { maxImagePixels ?? Limits.defaultImagePixels }

    func validate() throws {
        do { try ImageDecoder.checkMaxPixels(pixelLimit) } catch { throw ValidationError("\(error)") }
    }
}
