import FineTuneCore
import Foundation

/// The lines of `finetune predict --json` (DESIGN §7): a header that states the model and its
/// class list once, then one record per image, in the order the images were given: a
/// classification, or the reason the image could not be read.
enum PredictJSON {
    /// The first line: `{"classes":[...],"model":{...},"tta":false}`.
    struct Header: Encodable {
        var classes: [String]
        var model: ModelSummary
        /// Whether the records come from test-time augmentation (`ImageClassifier.testTimeAugmentation`).
        var tta: Bool
    }

    /// A classified image: `image`, `logits` (raw), `probabilities` (in class order) and `top`
    /// (class, probability; best first), probabilities rounded to `decimals`.
    struct Record: Encodable {
        var image: String
        var logits: [Float]
        var probabilities: [Double]
        var top: [Classification.Prediction]

        init(_ c: Classification) {
            image = c.image
            logits = c.logits
            probabilities = c.probabilities.map(PredictJSON.rounded)
            top = c.top.map { .init(class: $0.class, probability: PredictJSON.rounded($0.probability)) }
        }
    }

    /// An image that could not be read or decoded: `{"error":"...","image":"..."}`.
    struct Failure: Encodable {
        var image: String
        var error: String
    }

    /// Decimals kept of each probability: a millionth tells apart what a person or a threshold would.
    static let decimals = 6

    static func rounded(_ p: Double) -> Double {
        let scale = pow(10, Double(decimals))
        return (p * scale).rounded() / scale
    }

    /// One line of JSON, keys sorted.
    static func line(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}
