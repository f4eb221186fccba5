import Foundation

/// The range test's curve (`LearningRateFinder`): the smoothed loss against the learning rate on
/// a log axis, with the suggestions marked, as fastai's `plot_lr_find` draws it (every point but
/// the last 5). Two renderings: a self-contained SVG file, and a few lines of Braille dots for a
/// terminal.
public struct LearningRateFinderPlot {
    public var points: [LearningRateFinder.Point]
    public var suggestions: [LearningRateFinder.Suggestion]
    public var title: String

    public init(_ finder: LearningRateFinder, title: String) {
        points = Array(finder.plotted.filter { $0.smoothedLoss.isFinite })
        suggestions = finder.suggestions
        self.title = title
    }

    /// One colour per suggestion method, in `Method` order.
    static let colors = ["#dc2626", "#15803d", "#7c3aed"]
    static func color(_ method: LearningRateFinder.Method) -> String {
        colors[LearningRateFinder.Method.allCases.firstIndex(of: method)!]
    }

    /// The decades the x axis spans (log10 of the rates, widened to whole powers of ten), and
    /// the y range of the losses drawn; nil without points.
    var ranges: (x: ClosedRange<Double>, y: ClosedRange<Double>)? {
        let xs = points.map { log10($0.learningRate) } + suggestions.map { log10($0.learningRate) }
        let ys = points.map(\.smoothedLoss)
        guard let x0 = xs.min(), let x1 = xs.max(), let y0 = ys.min(), let y1 = ys.max() else { return nil }
        let lo = x0.rounded(.down), hi = max(x1.rounded(.up), lo + 1)
        let pad = max((y1 - y0) * 0.05, 1e-6)
        return (lo...hi, (y0 - pad)...(y1 + pad))
    }

    /// The SVG document: axes, a tick per decade, the curve, each suggestion as a dashed line at
    /// its rate and a dot at the point fastai marks, and a legend with the rates.
    public func svg(width: Double = 640, height: Double = 400) -> String {
        let left = 64.0, right = width - 20, top = 44.0, bottom = height - 48
        var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            + "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(f(width)) \(f(height))\" width=\"\(f(width))\" "
            + "height=\"\(f(height))\" font-family=\"sans-serif\" font-size=\"12\" fill=\"\(SVGChart.ink)\">\n"
            + "<title>\(title.htmlEscaped)</title>\n"
            + "<rect x=\"0\" y=\"0\" width=\"\(f(width))\" height=\"\(f(height))\" fill=\"#ffffff\"/>\n"
            + "<text x=\"12\" y=\"20\" font-size=\"15\" font-weight=\"600\">\(title.htmlEscaped)</text>\n"
        guard let (xr, yr) = ranges else { return out + "<text x=\"\(f(left))\" y=\"\(f(top + 20))\">no points</text>\n</svg>\n" }
        func px(_ lr: Double) -> Double { left + (log10(lr) - xr.lowerBound) / (xr.upperBound - xr.lowerBound) * (right - left) }
        func py(_ y: Double) -> Double { bottom - (y - yr.lowerBound) / (yr.upperBound - yr.lowerBound) * (bottom - top) }
        for decade in stride(from: Int(xr.lowerBound), through: Int(xr.upperBound), by: 1) {
            let x = px(pow(10, Double(decade)))
            out += "<line x1=\"\(f(x))\" y1=\"\(f(top))\" x2=\"\(f(x))\" y2=\"\(f(bottom + 4))\" stroke=\"\(SVGChart.grid)\"/>\n"
                + "<text x=\"\(f(x))\" y=\"\(f(bottom + 17))\" text-anchor=\"middle\" fill=\"\(SVGChart.axis)\">1e\(decade)</text>\n"
        }
        for k in 0...4 {
            let y = yr.lowerBound + (yr.upperBound - yr.lowerBound) * Double(k) / 4
            out += "<text x=\"\(f(left - 6))\" y=\"\(f(py(y) + 4))\" text-anchor=\"end\" fill=\"\(SVGChart.axis)\">"
                + String(format: "%.3g", y) + "</text>\n"
        }
        out += "<path d=\"M\(f(left)) \(f(top)) L\(f(left)) \(f(bottom)) L\(f(right)) \(f(bottom))\" fill=\"none\" stroke=\"\(SVGChart.axis)\"/>\n"
            + "<text x=\"\(f((left + right) / 2))\" y=\"\(f(height - 12))\" text-anchor=\"middle\">learning rate (log scale)</text>\n"
            + "<text x=\"16\" y=\"\(f((top + bottom) / 2))\" text-anchor=\"middle\" transform=\"rotate(-90 16 \(f((top + bottom) / 2)))\">"
            + "smoothed loss</text>\n"
        let d = points.enumerated().map { "\($0 == 0 ? "M" : "L")\(f(px($1.learningRate))) \(f(py($1.smoothedLoss)))" }
        out += "<path class=\"curve\" d=\"\(d.joined(separator: " "))\" fill=\"none\" stroke=\"#2563eb\" stroke-width=\"2\"/>\n"
        for (row, s) in suggestions.enumerated() {
            let color = Self.color(s.method), x = px(s.learningRate)
            out += "<line x1=\"\(f(x))\" y1=\"\(f(top))\" x2=\"\(f(x))\" y2=\"\(f(bottom))\" stroke=\"\(color)\" stroke-dasharray=\"5 4\"/>\n"
                + "<circle cx=\"\(f(px(s.marked.learningRate)))\" cy=\"\(f(py(s.marked.loss)))\" r=\"4\" fill=\"\(color)\">"
                + "<title>\(s.method.rawValue)</title></circle>\n"
                + "<text x=\"\(f(right - 4))\" y=\"\(f(top + 14 + Double(row) * 15))\" text-anchor=\"end\" fill=\"\(color)\" "
                + "font-weight=\"600\">\(s.method.rawValue) \(String(format: "%.3g", s.learningRate))</text>\n"
        }
        return out + "</svg>\n"
    }

    /// The curve in Braille dots, `columns` characters wide at most (for 80 columns: the default),
    /// `rows` lines of plot: the loss at the top and bottom on the left, a tick per decade below,
    /// and a line marking each suggestion by its initial (v, s, m).
    public func text(columns: Int = 78, rows: Int = 8) -> String {
        guard let (xr, yr) = ranges else { return "(no points to plot)" }
        let margin = 9, cells = max(columns - margin, 10)
        let dotsX = cells * 2, dotsY = rows * 4
        var grid = [[UInt32]](repeating: [UInt32](repeating: 0, count: cells), count: rows)
        func dx(_ lr: Double) -> Double { (log10(lr) - xr.lowerBound) / (xr.upperBound - xr.lowerBound) * Double(dotsX - 1) }
        func dy(_ y: Double) -> Double { (yr.upperBound - y) / (yr.upperBound - yr.lowerBound) * Double(dotsY - 1) }
        func dot(_ x: Int, _ y: Int) {
            guard (0..<dotsX).contains(x), (0..<dotsY).contains(y) else { return }
            // Braille dot bits: left column rows 0-3 are 1, 2, 4, 64; right column 8, 16, 32, 128.
            let bits: [UInt32] = x % 2 == 0 ? [0x01, 0x02, 0x04, 0x40] : [0x08, 0x10, 0x20, 0x80]
            grid[y / 4][x / 2] |= bits[y % 4]
        }
        // Consecutive points joined, sampled a dot at a time.
        let pairs = points.count == 1 ? [(points[0], points[0])] : Array(zip(points, points.dropFirst()))
        for (a, b) in pairs {
            let (x0, y0, x1, y1) = (dx(a.learningRate), dy(a.smoothedLoss), dx(b.learningRate), dy(b.smoothedLoss))
            let n = max(1, Int(max(abs(x1 - x0), abs(y1 - y0)).rounded(.up)))
            for k in 0...n {
                let t = Double(k) / Double(n)
                dot(Int((x0 + (x1 - x0) * t).rounded()), Int((y0 + (y1 - y0) * t).rounded()))
            }
        }
        func label(_ y: Double) -> String {
            let s = String(format: "%.3g", y)
            return String(repeating: " ", count: max(0, margin - 2 - s.count)) + s + " "
        }
        var lines: [String] = []
        for (r, row) in grid.enumerated() {
            let prefix = r == 0 ? label(yr.upperBound) : r == rows - 1 ? label(yr.lowerBound) : String(repeating: " ", count: margin - 1)
            lines.append(prefix + "│" + String(String.UnicodeScalarView(row.map { Unicode.Scalar(0x2800 + $0)! })))
        }
        lines.append(String(repeating: " ", count: margin - 1) + "└" + String(repeating: "─", count: cells))
        var ticks = [Character](repeating: " ", count: margin + cells)
        for decade in stride(from: Int(xr.lowerBound), through: Int(xr.upperBound), by: 1) {
            let at = margin + Int(dx(pow(10, Double(decade))) / 2)
            let text = Array("1e\(decade)")
            let start = min(max(0, at - text.count / 2), ticks.count - text.count)
            guard ticks[max(0, start - 1)..<min(ticks.count, start + text.count + 1)].allSatisfy({ $0 == " " }) else { continue }
            ticks.replaceSubrange(start..<start + text.count, with: text)
        }
        lines.append(Self.trailingSpaceTrimmed(ticks))
        if !suggestions.isEmpty {
            var marks = [Character](repeating: " ", count: margin + cells)
            for s in suggestions {
                let at = min(margin + Int(dx(s.learningRate) / 2), marks.count - 1)
                marks[at] = marks[at] == " " ? s.method.rawValue.first! : "*"
            }
            lines.append(Self.trailingSpaceTrimmed(marks))
        }
        return lines.joined(separator: "\n")
    }

    static func trailingSpaceTrimmed(_ line: [Character]) -> String {
        String(line[..<(line.lastIndex { $0 != " " }.map { $0 + 1 } ?? 0)])
    }

    private func f(_ x: Double) -> String { String(format: "%.1f", x) }
}
