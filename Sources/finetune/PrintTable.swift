/// Prints `rows` as columns two spaces apart, each as wide as its widest cell.
func printTable(_ rows: [[String]]) {
    guard let first = rows.first else { return }
    let widths = (0..<first.count).map { c in rows.map { $0[c].count }.max()! }
    for row in rows {
        print(row.enumerated().map { c, cell in
            cell.padding(toLength: widths[c], withPad: " ", startingAt: 0)
        }.joined(separator: "  ").trimmingCharacters(in: .whitespaces))
    }
}
