/// A weight or model file that cannot be used: the file, what is wrong (naming the tensor or
/// key when there is one) and, when there is one, what to do about it.
///
/// Names inside a file are the file author's text: the description shows their control
/// characters escaped (`\u{1B}`), so a crafted key cannot send escape sequences to the terminal.
public struct WeightsFileError: Error, Equatable, CustomStringConvertible {
    /// The file as the user named it.
    public var file: String
    public var reason: String
    public var hint: String?

    public init(file: String, reason: String, hint: String? = nil) {
        self.file = file
        self.reason = reason
        self.hint = hint
    }

    public var description: String {
        let text = "\(file.terminalSafe): \(reason.terminalSafe)"
        return hint.map { "\(text)\nhint: \($0.terminalSafe)" } ?? text
    }
}
