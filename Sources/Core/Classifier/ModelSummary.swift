/// What `predict --json` and `evaluate --json` say about the model they ran (DESIGN §7): the
/// file, its backbone and head, its input and evaluation sizes and, where asked, its classes.
public struct ModelSummary: Codable, Sendable, Equatable {
    /// The model file's path (absolute).
    public var file: String
    public var backbone: String
    /// As `HeadSpec` writes it: "linear" or "mlp:128,64".
    public var head: String
    public var input_size: Int
    public var eval_resize: Int
    /// Class names in logit order; nil where the output states them elsewhere (omitted from JSON).
    public var classes: [String]?

    /// The model `classifier` runs.
    /// - Parameter withClasses: include the class list.
    public init(_ classifier: ImageClassifier, withClasses: Bool) {
        file = classifier.url.path
        backbone = classifier.file.backbone
        head = classifier.file.head
        input_size = classifier.file.inputSize
        eval_resize = classifier.file.evalResize
        classes = withClasses ? classifier.classes : nil
    }
}
