import Foundation

/// Text a plugin hands over through the C ABI: backbone names, summaries, versions, layer names
/// and error messages.
///
/// Each string is read with a bounded length (`Limits.pluginTextBytes`), so a missing
/// terminator cannot run the reader through the plugin's memory, and refused when it holds a
/// control character, so an escape sequence in a name never reaches a terminal raw. Messages
/// about such text quote it through `escaped`, which writes every control character as `\u{..}`.
enum PluginText {
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

    /// `text` with every control character written as `\u{1B}`, safe to print.
    static func escaped(_ text: String) -> String {
        var out = ""
        for u in text.unicodeScalars {
            if isControl(u) {
                out += "\\u{\(String(u.value, radix: 16, uppercase: true))}"
            } else {
                out.unicodeScalars.append(u)
            }
        }
        return out
    }

    /// C0 and C1 controls, DEL, and the bidirectional overrides and isolates that reorder a line.
    static func isControl(_ u: Unicode.Scalar) -> Bool {
        u.properties.generalCategory == .control
            || (0x202A...0x202E).contains(u.value) || (0x2066...0x2069).contains(u.value)
    }
}

/// Text from a plugin that is too long or holds a control character.
struct PluginTextError: Error, CustomStringConvertible {
    var reason: String
    var description: String { reason }
}
