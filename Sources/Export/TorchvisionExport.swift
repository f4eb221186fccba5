import FineTuneCore
import Foundation

/// A model file as a torchvision state_dict in safetensors: the backbone's tensors under their
/// torchvision keys and, for a linear head, the head under the backbone's classifier key
/// (`fc`, `classifier.1`, ...), so that
/// `torchvision.models.NAME(num_classes=K).load_state_dict(safetensors.torch.load_file(F))` takes
/// it as it is. An MLP head has no torchvision counterpart and is left out (load with
/// `strict=False`, or replace the classifier).
public enum TorchvisionExport {
    public struct Result {
        public var tensors: [NamedTensor]
        /// The key the head went to, or nil when it was left out.
        public var classifierKey: String?
    }

    public static func tensors(_ model: ModelFile, backbone: Backbone, file: String) throws -> Result {
        let (graph, weights) = try model.graphAndWeights(backbone: backbone, file: file)
        let headKey = model.headSpec.hidden.isEmpty ? backbone.classifierKey : nil
        var out: [NamedTensor] = []
        for spec in graph.tensors {
            guard var t = weights[spec.name] else {
                throw WeightsFileError(file: file, reason: "tensor '\(spec.name)' is missing")
            }
            if spec.name.hasPrefix("head.") {
                guard let headKey else { continue }
                t.name = headKey + spec.name.dropFirst("head".count)
            }
            out.append(t)
        }
        return Result(tensors: out, classifierKey: headKey)
    }

    /// Writes the state_dict atomically, with the class names in its metadata.
    public static func write(_ model: ModelFile, backbone: Backbone, file: String, to url: URL) throws -> Result {
        let result = try tensors(model, backbone: backbone, file: file)
        let classes = String(decoding: try JSONEncoder().encode(model.classes), as: UTF8.self)
        try SafeTensorsWriter.write(result.tensors, metadata: ["format": "pt", "backbone": model.backbone, "classes": classes], to: url)
        return result
    }
}
