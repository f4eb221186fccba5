import Foundation

/// Text a plugin hands over through the C ABI: backbone names, summaries, versions, layer names
/// and error messages.
///
/// Each string is read with a bounded length (`Limits.pluginTextBytes`), so a missing
/// terminator cannot run the reader through the plugin's memory, and refused when it holds a
/// control character, so an escape sequence in a name never reaches a terminal raw. Messages
/// about such text quote it through `escaped`, which writes every control character as `\u{..}`.
enum PluginText {
    /// Whether `s` is a non-empty run of ASCII letters, digits and the characters of `others`
    /// (names and keys a plugin declares: a backbone's, a weight set's, a classifier key).
    static func isPlainName(_ s: String, allowing others: String) -> Bool {
        !s.isEmpty && s.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || others.unicodeScalars.contains($0)) }
    }

    /// The string at `p`; an error naming `what` when it is too long or holds a control character.
    static func read(_ p: UnsafePointer<CChar>, what: String) throws -> String {
        let length = strnlen(p, Limits.pluginTextBytes + 1)
        guard length <= Limits.pluginTextBytes else {
            throw PluginTextError(reason: "\(what) is longer than \(Limits.pluginTextBytes) bytes")
        }
        let text = String(decoding: UnsafeRawBufferPointer(start: p, count: length), as: UTF8.self)
        if let bad = text.unicodeScalars.first(where: isControl) {
            throw PluginTextError(reason: "\(what) '\(escaped(text))' holds the control character "
                                  + "U+\(String(bad.value, radix: 16, uppercase: true))")
        }
        return text
    }

    /// A free-form message (`set_error`): cut at the length bound, control characters escaped.
    static func message(_ p: UnsafePointer<CChar>) -> String {
        let length = strnlen(p, Limits.pluginTextBytes)
        return escaped(String(decoding: UnsafeRawBufferPointer(start: p, count: length), as: UTF8.self))
    }

    /// `text` with every control character written as `\u{1B}`, safe to print (`String.terminalSafe`).
    static func escaped(_ text: String) -> String { text.terminalSafe }

    /// What a terminal acts on instead of showing (`String.isTerminalControl`): C0 and C1
    /// controls, DEL, line separators, and the bidirectional marks, overrides and isolates.
    static func isControl(_ u: Unicode.Scalar) -> Bool { String.isTerminalControl(u) }
}

/// Text from a plugin that is too long or holds a control character.
struct PluginTextError: Error, CustomStringConvertible {
    var reason: String
    var description: String { reason }
}
