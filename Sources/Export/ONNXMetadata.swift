import FineTuneCore
import Foundation
import ONNXProto

/// What an exported model's `metadata_props` hold: enough to rebuild the preprocessing and to
/// name the outputs from the file alone.
///
///     classes        JSON array of class names, in logit order
///     input_size     the square crop fed to the network, pixels
///     resize         the shorter side is resized to this before the centre crop
///     interpolation  "bilinear" or "bicubic" (Pillow's filters), for that resize
///     mean, std      JSON arrays of 3 numbers: (x / 255 - mean) / std per RGB channel
///     input          "normalized": NCHW float RGB, normalised as above;
///                    "rgb01": NCHW float RGB in [0, 1], normalised by the graph
///     outputs        JSON array of the graph's outputs
///     backbone, plugin_version, head, weights (the pretrained weights' file or "none"),
///     provenance     JSON object, as the model file's
enum ONNXMetadata {
    static func entries(for model: ModelFile, withPreprocessing: Bool) -> [Onnx_StringStringEntryProto] {
        let pairs: [(String, String)] = [
            ("classes", json(model.classes)),
            ("input_size", String(model.inputSize)),
            ("resize", String(model.evalResize)),
            ("interpolation", model.interpolation.rawValue),
            ("mean", json(model.mean)),
            ("std", json(model.std)),
            ("input", withPreprocessing ? "rgb01" : "normalized"),
            ("outputs", json(withPreprocessing ? ["logits", "probabilities"] : ["logits"])),
            ("backbone", model.backbone),
            ("plugin_version", model.pluginVersion),
            ("head", model.head),
            ("weights", model.provenance.source ?? "none"),
            ("provenance", json(model.provenance)),
        ]
        return pairs.map { key, value in
            var e = Onnx_StringStringEntryProto()
            e.key = key
            e.value = value
            return e
        }
    }

    private static func json<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(value)) ?? Data("null".utf8), as: UTF8.self)
    }
}
