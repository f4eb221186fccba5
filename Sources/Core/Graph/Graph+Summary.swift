/// A readable layer table: name, operation, output shape, parameters, group; then totals.
extension Graph {
    public func summaryTable() -> String {
        var rows: [[String]] = [["layer", "op", "output (HxWxC)", "params", "group"]]
        for node in nodes {
            rows.append([node.name, node.operation.label, node.outputShape.description,
                         node.parameterCount == 0 ? "" : formatCount(node.parameterCount), groups[node.group]])
        }
        let widths = (0..<5).map { c in rows.map { $0[c].count }.max()! }
        func line(_ r: [String]) -> String {
            r.enumerated().map { c, cell in
                c == 3 ? String(repeating: " ", count: widths[c] - cell.count) + cell
                       : cell + String(repeating: " ", count: widths[c] - cell.count)
            }.joined(separator: "  ").trimmingTrailingSpaces()
        }
        var out = [line(rows[0]), String(repeating: "-", count: widths.reduce(0, +) + 8)]
        out += rows.dropFirst().map(line)
        out.append("")
        for (g, name) in groups.enumerated() {
            out.append("group \(name): \(formatCount(parameterCount(group: g))) parameters")
        }
        let buffers = tensors.filter { $0.kind == .buffer }.reduce(0) { $0 + $1.count }
        out.append("total parameters: \(formatCount(parameterCount)) (buffers: \(formatCount(buffers)))")
        return out.joined(separator: "\n")
    }
}

/// 11689512 -> "11,689,512".
public func formatCount(_ n: Int) -> String {
    let digits = Array(String(n.magnitude))
    var out = ""
    for (i, d) in digits.enumerated() {
        if i > 0, (digits.count - i) % 3 == 0 { out.append(",") }
        out.append(d)
    }
    return (n < 0 ? "-" : "") + out
}

extension String {
    func trimmingTrailingSpaces() -> String {
        var s = self
        while s.last == " " { s.removeLast() }
        return s
    }
}
