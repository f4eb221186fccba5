/// A progress line laid out for a terminal `width` columns wide, so that it is redrawn in place
/// and never wraps: the leading fields always, then as many of the others as fit (in their
/// order, so the least useful go last), after a bar when there is room for one.
public enum ProgressLine {
    /// `head`, then the `extras` that fit in `width` columns, after a bar of 8 to 24 cells
    /// showing `done` of `total` when there is room for one; `head` alone is cut at the width.
    public static func fit(head: String, extras: [String], width: Int, done: Int, of total: Int) -> String {
        var text = head
        for extra in extras where text.count + 2 + extra.count <= width { text += "  " + extra }
        if text.count > width { return String(text.prefix(max(width, 0))) }
        let cells = min(24, width - text.count - 3)  // "[" + bar + "] "
        guard cells >= 8 else { return text }
        let filled = total <= 0 ? 0 : cells * min(max(done, 0), total) / total
        return "[" + String(repeating: "█", count: filled) + String(repeating: "·", count: cells - filled) + "] " + text
    }
}
