/// Text from outside (a class name in a model file, a folder name, a plugin's layer names) on
/// its way to a terminal. A terminal acts on some characters instead of showing them: ESC starts
/// the ANSI sequences that move the cursor, recolour or retitle the window, and bidirectional
/// overrides reorder what follows. Readers refuse names holding them (`hasControlCharacters`);
/// whatever prints text from outside escapes them too (`terminalSafe`), as a second line of
/// defence.
extension String {
    /// Whether the text holds a character a terminal would act on: a C0 or C1 control (ESC,
    /// newline, tab, ...), DEL, a line or paragraph separator, or a bidirectional control.
    public var hasControlCharacters: Bool {
        unicodeScalars.contains(where: Self.isTerminalControl)
    }

    /// The text with each terminal control written as a Swift escape (`\u{1B}`, `\n`, `\t`), so
    /// it prints as one inert line; text without controls is unchanged.
    public var terminalSafe: String {
        guard hasControlCharacters else { return self }
        var out = ""
        for scalar in unicodeScalars {
            switch scalar {
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            case _ where Self.isTerminalControl(scalar): out += "\\u{\(String(scalar.value, radix: 16, uppercase: true))}"
            default:
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// Each line of the text made `terminalSafe` (a table: its line breaks kept).
    public var terminalSafeLines: String {
        split(separator: "\n", omittingEmptySubsequences: false).map { String($0).terminalSafe }.joined(separator: "\n")
    }

    /// The text in single quotes for a message, its terminal controls escaped (`'a\u{1B}[31m'`)
    /// and cut after 100 characters (`'aaa...' (5000 characters)`).
    public var quotedForTerminal: String {
        let limit = 100
        guard count > limit else { return "'" + terminalSafe + "'" }
        return "'" + String(prefix(limit)).terminalSafe + "...' (\(count) characters)"
    }

    static func isTerminalControl(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x00...0x1F, 0x7F...0x9F: return true  // C0, DEL, C1
        case 0x2028, 0x2029: return true  // line and paragraph separators
        case 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069, 0x061C: return true  // bidirectional marks and overrides
        default: return false
        }
    }
}
