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
        let text = "\(Self.printable(file)): \(Self.printable(reason))"
        return hint.map { "\(text)\nhint: \(Self.printable($0))" } ?? text
    }

    /// `text` with every control character (newlines and escapes included) as `\u{XX}`.
    static func printable(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else { return text }
        var result = ""
        for s in text.unicodeScalars {
            if s.properties.generalCategory == .control {
                result += "\\u{" + String(s.value, radix: 16, uppercase: true) + "}"
            } else {
                result.unicodeScalars.append(s)
            }
        }
        return result
    }
}
