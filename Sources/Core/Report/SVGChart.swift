import Foundation

/// A line chart as a self-contained inline SVG string: axes with round-numbered ticks, grid
/// lines, a legend, optional points with tooltips, and labelled vertical markers (a stage
/// change, the best epoch). Styling is in presentation attributes, so the SVG needs no
/// stylesheet, script, font or external reference. Non-finite values are skipped and break
/// the line where they occur.
struct SVGChart {
    enum PointShape { case circle, square, none }

    /// How y values read on the axis and in tooltips.
    enum YFormat {
        case plain
        /// Fractions in 0...1 shown as percentages.
        case percent
    }

    struct Series {
        var name: String
        /// A CSS colour, e.g. "#2563eb".
        var color: String
        var shape: PointShape
        var points: [(x: Double, y: Double)]
    }

    struct Marker {
        enum Style { case stageChange, best }
        var x: Double
        var label: String
        var style: Style
        /// A value on the marker line to ring (the best validation value).
        var ringY: Double?
    }

    var title: String
    var xLabel: String
    var yLabel: String
    var series: [Series]
    var markers: [Marker] = []
    /// x values are whole numbers (epochs, steps): ticks are whole numbers too.
    var integerX = true
    var yFormat: YFormat = .plain
    /// Hard limits of the y axis (0...1 for accuracy); the axis never extends beyond them.
    var yLimits: ClosedRange<Double>?
    /// The y axis reaches down (or up) to zero, e.g. for a learning rate.
    var yIncludesZero = false
    var width = 560.0
    var height = 330.0

    /// Series with more points than this are thinned evenly (the last point is kept).
    static let maxPointsPerSeries = 1200
    /// Ticks on one axis: a handful is readable, and a bound keeps crafted values from listing millions.
    static let maxTicks = 50

    // Colours shared by the report.
    static let ink = "#1f2937", axis = "#6b7280", grid = "#e5e7eb"
    static let stageColor = "#4b5563", bestColor = "#15803d"

    func svg() -> String {
        let series = self.series.map(Self.thinned)
        let finiteX = series.flatMap { $0.points.map(\.x) }.filter(\.isFinite)
        let finiteY = series.flatMap { $0.points.map(\.y) }.filter(\.isFinite)
            + markers.compactMap(\.ringY).filter(\.isFinite)
        let xAxis = Self.xAxis(finiteX + markers.map(\.x).filter(\.isFinite), integer: integerX)
        let yAxis = Self.yAxis(finiteY + (yIncludesZero ? [0] : []), limits: yLimits)

        // Vertical layout: title and legend row, marker label rows, plot, x ticks and label.
        let left = 64.0, right = width - 18
        let rowHeight = 15.0
        let placed = placeMarkerLabels(right: right, x: { xAxis.position($0, left, right) })
        let rows = Double(placed.map(\.row).max().map { $0 + 1 } ?? 0)
        let top = 40 + rows * rowHeight
        let bottom = height - 48
        func px(_ x: Double) -> Double { xAxis.position(x, left, right) }
        func py(_ y: Double) -> Double { bottom - (y - yAxis.lo) / (yAxis.hi - yAxis.lo) * (bottom - top) }

        var out = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(f(width)) \(f(height))\" "
            + "width=\"\(f(width))\" height=\"\(f(height))\" role=\"img\" aria-label=\"\(title.htmlEscaped)\" "
            + "font-family=\"\(fontStack)\" font-size=\"12\" fill=\"\(Self.ink)\">\n"
        out += "<title>\(title.htmlEscaped)</title>\n"
        out += "<rect x=\"0\" y=\"0\" width=\"\(f(width))\" height=\"\(f(height))\" fill=\"#ffffff\"/>\n"
        out += "<text x=\"12\" y=\"20\" font-size=\"15\" font-weight=\"600\">\(title.htmlEscaped)</text>\n"
        out += legend(series, right: right)

        // Grid and y ticks.
        for tick in yAxis.ticks {
            let y = py(tick)
            out += "<line x1=\"\(f(left))\" y1=\"\(f(y))\" x2=\"\(f(right))\" y2=\"\(f(y))\" stroke=\"\(Self.grid)\"/>\n"
            out += "<text x=\"\(f(left - 6))\" y=\"\(f(y + 3.5))\" text-anchor=\"end\" fill=\"\(Self.axis)\">"
                + "\(tickLabel(tick, step: yAxis.step))</text>\n"
        }
        // x ticks.
        for tick in xAxis.ticks {
            let x = px(tick)
            out += "<line x1=\"\(f(x))\" y1=\"\(f(bottom))\" x2=\"\(f(x))\" y2=\"\(f(bottom + 4))\" stroke=\"\(Self.axis)\"/>\n"
            out += "<text x=\"\(f(x))\" y=\"\(f(bottom + 16))\" text-anchor=\"middle\" fill=\"\(Self.axis)\">"
                + "\(Self.number(tick, decimals: Self.decimals(xAxis.step)))</text>\n"
        }
        // Axes and their labels.
        out += "<line x1=\"\(f(left))\" y1=\"\(f(top))\" x2=\"\(f(left))\" y2=\"\(f(bottom))\" stroke=\"\(Self.axis)\"/>\n"
        out += "<line x1=\"\(f(left))\" y1=\"\(f(bottom))\" x2=\"\(f(right))\" y2=\"\(f(bottom))\" stroke=\"\(Self.axis)\"/>\n"
        out += "<text x=\"\(f((left + right) / 2))\" y=\"\(f(height - 12))\" text-anchor=\"middle\" font-size=\"13\">"
            + "\(xLabel.htmlEscaped)</text>\n"
        let midY = (top + bottom) / 2
        out += "<text x=\"16\" y=\"\(f(midY))\" text-anchor=\"middle\" font-size=\"13\" "
            + "transform=\"rotate(-90 16 \(f(midY)))\">\(yLabel.htmlEscaped)</text>\n"

        // Markers under the data, so lines and points stay readable.
        for (marker, row) in placed {
            let x = px(marker.x)
            let baseline = 36 + Double(row) * rowHeight
            let (color, dash) = marker.style == .best ? (Self.bestColor, "2 3") : (Self.stageColor, "6 4")
            out += "<line x1=\"\(f(x))\" y1=\"\(f(baseline - 8))\" x2=\"\(f(x))\" y2=\"\(f(bottom))\" stroke=\"\(color)\" "
                + "stroke-width=\"1.5\" stroke-dasharray=\"\(dash)\"/>\n"
            let anchorEnd = !labelFitsRight(marker, x: x, right: right)
            out += "<text x=\"\(f(anchorEnd ? x - 5 : x + 5))\" y=\"\(f(baseline))\" text-anchor=\"\(anchorEnd ? "end" : "start")\" "
                + "fill=\"\(color)\" font-weight=\"600\">\(marker.label.htmlEscaped)</text>\n"
        }

        // Lines, then points on top.
        for s in series {
            for segment in Self.segments(s.points) where segment.count > 1 {
                let d = segment.enumerated().map { "\($0 == 0 ? "M" : "L")\(f(px($1.x))) \(f(py($1.y)))" }.joined(separator: " ")
                out += "<path d=\"\(d)\" fill=\"none\" stroke=\"\(s.color)\" stroke-width=\"2\" "
                    + "stroke-linejoin=\"round\" stroke-linecap=\"round\"/>\n"
            }
        }
        for s in series {
            let finite = s.points.filter { $0.x.isFinite && $0.y.isFinite }
            // Dense series get small points without a halo, so the line stays visible.
            let dense = finite.count > 60
            let radius = dense ? 1.7 : 3.2
            let halo = dense ? "" : " stroke=\"#ffffff\" stroke-width=\"1\""
            // Without a line on either side, a value would be invisible if it had no point.
            let lone = Set(Self.segments(s.points).filter { $0.count == 1 }.map { $0[0].x })
            for p in finite {
                let (x, y) = (px(p.x), py(p.y))
                let tip = "<title>\(s.name.htmlEscaped), \(xLabel.htmlEscaped) \(Self.number(p.x, decimals: integerX ? 0 : 3)): "
                    + "\(valueLabel(p.y))</title>"
                switch s.shape {
                case .circle:
                    out += "<circle cx=\"\(f(x))\" cy=\"\(f(y))\" r=\"\(f(radius))\" fill=\"\(s.color)\"\(halo)>"
                        + "\(tip)</circle>\n"
                case .square:
                    let side = radius * 1.9
                    out += "<rect x=\"\(f(x - side / 2))\" y=\"\(f(y - side / 2))\" width=\"\(f(side))\" height=\"\(f(side))\" "
                        + "fill=\"\(s.color)\"\(halo)>\(tip)</rect>\n"
                case .none:
                    if lone.contains(p.x) {
                        out += "<circle cx=\"\(f(x))\" cy=\"\(f(y))\" r=\"2.5\" fill=\"\(s.color)\">\(tip)</circle>\n"
                    }
                }
            }
        }
        for marker in markers {
            guard let ringY = marker.ringY, ringY.isFinite, marker.x.isFinite else { continue }
            out += "<circle cx=\"\(f(px(marker.x)))\" cy=\"\(f(py(ringY)))\" r=\"7.5\" fill=\"none\" "
                + "stroke=\"\(Self.bestColor)\" stroke-width=\"2\"/>\n"
        }
        return out + "</svg>"
    }

    // MARK: - Legend and marker labels

    private func legend(_ series: [Series], right: Double) -> String {
        let visible = series.filter { $0.points.contains { $0.y.isFinite } }
        var out = ""
        var x = right
        for s in visible.reversed() {
            let textWidth = Self.textWidth(s.name)
            x -= textWidth
            out += "<text x=\"\(f(x))\" y=\"20\">\(s.name.htmlEscaped)</text>\n"
            x -= 30
            out += "<line x1=\"\(f(x))\" y1=\"16\" x2=\"\(f(x + 24))\" y2=\"16\" stroke=\"\(s.color)\" stroke-width=\"2\"/>\n"
            switch s.shape {
            case .circle: out += "<circle cx=\"\(f(x + 12))\" cy=\"16\" r=\"3.2\" fill=\"\(s.color)\"/>\n"
            case .square: out += "<rect x=\"\(f(x + 9))\" y=\"13\" width=\"6\" height=\"6\" fill=\"\(s.color)\"/>\n"
            case .none: break
            }
            x -= 16
        }
        return out
    }

    /// Whether the label fits between the marker line and the plot's right edge.
    private func labelFitsRight(_ marker: Marker, x: Double, right: Double) -> Bool {
        x + 5 + Self.textWidth(marker.label) <= right
    }

    /// Gives each marker label a row above the plot so that no two labels overlap.
    private func placeMarkerLabels(right: Double, x: (Double) -> Double) -> [(marker: Marker, row: Int)] {
        var rowEnds: [Double] = []
        var placed: [(marker: Marker, row: Int)] = []
        for marker in markers.filter({ $0.x.isFinite }).sorted(by: { $0.x < $1.x }) {
            let position = x(marker.x)
            let width = Self.textWidth(marker.label)
            let start = labelFitsRight(marker, x: position, right: right) ? position : position - 5 - width
            let row = rowEnds.firstIndex { $0 + 8 < start } ?? rowEnds.count
            if row == rowEnds.count { rowEnds.append(0) }
            rowEnds[row] = max(position, start + width + 5)
            placed.append((marker, row))
        }
        return placed
    }

    // MARK: - Axes

    struct Axis {
        var lo: Double, hi: Double, step: Double
        var ticks: [Double]
        func position(_ v: Double, _ from: Double, _ to: Double) -> Double {
            from + (v - lo) / (hi - lo) * (to - from)
        }
    }

    /// A step of 1, 2 or 5 times a power of ten giving about `count` intervals over `span`.
    static func niceStep(_ span: Double, count: Double = 5) -> Double {
        let raw = span / count
        let magnitude = pow(10, floor(log10(raw)))
        let n = raw / magnitude
        return (n < 1.5 ? 1 : n < 3 ? 2 : n < 7 ? 5 : 10) * magnitude
    }

    /// The data range with a small margin; ticks at round values inside the data range.
    static func xAxis(_ values: [Double], integer: Bool) -> Axis {
        guard let minV = values.min(), let maxV = values.max() else {
            return Axis(lo: 0, hi: 1, step: 1, ticks: [0, 1])
        }
        let span = maxV - minV
        let pad = integer ? max(span * 0.04, 0.5) : max(span * 0.04, abs(maxV) * 0.05, 1e-9)
        var step = niceStep(max(span, integer ? 1 : pad), count: 6)
        if integer { step = max(1, step.rounded()) }
        let first = (minV / step).rounded(.up) * step
        var ticks = ticks(from: first, step: step) { $0 <= maxV + step * 1e-9 }
        if ticks.isEmpty { ticks = [minV] }
        return Axis(lo: minV - pad, hi: maxV + pad, step: step, ticks: ticks)
    }

    /// Extends the data range to round tick values, within `limits`.
    static func yAxis(_ values: [Double], limits: ClosedRange<Double>?) -> Axis {
        guard var lo = values.min(), var hi = values.max() else {
            return Axis(lo: 0, hi: 1, step: 0.2, ticks: [0, 0.2, 0.4, 0.6, 0.8, 1])
        }
        // A margin, so that points do not sit on the plot's edges.
        let pad = hi - lo < max(abs(hi), 1) * 1e-6 ? max(abs(hi) * 0.05, 0.01) : (hi - lo) * 0.04
        if lo != 0 || hi <= 0 { lo -= pad }
        hi += pad
        let step = niceStep(hi - lo)
        lo = (lo / step).rounded(.down) * step
        hi = (hi / step).rounded(.up) * step
        if let limits { lo = max(lo, limits.lowerBound); hi = min(hi, limits.upperBound) }
        let ticks = ticks(from: lo, step: step) { $0 <= hi + step * 1e-6 }
        return Axis(lo: lo, hi: hi, step: step, ticks: ticks)
    }

    /// At most `maxTicks` distinct values `first + i * step` while `inRange` holds: a step too
    /// small to change a huge value (a step count of 2^62) ends the list instead of repeating it.
    static func ticks(from first: Double, step: Double, while inRange: (Double) -> Bool) -> [Double] {
        var ticks: [Double] = []
        for i in 0..<maxTicks {
            let t = first + Double(i) * step
            guard t.isFinite, inRange(t), ticks.last.map({ t > $0 }) ?? true else { break }
            ticks.append(t)
        }
        return ticks
    }

    // MARK: - Helpers

    /// Runs of consecutive finite points, sorted by x.
    static func segments(_ points: [(x: Double, y: Double)]) -> [[(x: Double, y: Double)]] {
        var result: [[(x: Double, y: Double)]] = [[]]
        for p in points.filter({ $0.x.isFinite }).sorted(by: { $0.x < $1.x }) {
            if p.y.isFinite { result[result.count - 1].append(p) } else if !result[result.count - 1].isEmpty { result.append([]) }
        }
        return result.filter { !$0.isEmpty }
    }

    static func thinned(_ s: Series) -> Series {
        guard s.points.count > maxPointsPerSeries else { return s }
        let stride = (s.points.count + maxPointsPerSeries - 1) / maxPointsPerSeries
        var copy = s
        copy.points = s.points.enumerated().filter { $0.offset % stride == 0 || $0.offset == s.points.count - 1 }.map(\.element)
        return copy
    }

    private func tickLabel(_ v: Double, step: Double) -> String {
        switch yFormat {
        case .plain: return Self.number(v, decimals: Self.decimals(step))
        case .percent: return Self.number(v * 100, decimals: Self.decimals(step * 100)) + "%"
        }
    }

    private func valueLabel(_ v: Double) -> String {
        switch yFormat {
        case .plain: return Self.number(v, decimals: 4)
        case .percent: return Self.number(v * 100, decimals: 2) + "%"
        }
    }

    /// Decimals needed to tell ticks `step` apart.
    static func decimals(_ step: Double) -> Int {
        max(0, Int(ceil(-log10(step) - 1e-9)))
    }

    static func number(_ v: Double, decimals: Int) -> String {
        let s = String(format: "%.\(decimals)f", v)
        return s.hasPrefix("-") && Double(s) == 0 ? String(s.dropFirst()) : s
    }

    /// A rough width of 12 px text in the system sans-serif font, enough to avoid overlaps.
    static func textWidth(_ s: String) -> Double { Double(s.count) * 7.2 }

    private func f(_ v: Double) -> String { String(format: "%.1f", v) }

    private var fontStack: String {
        "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
    }
}

extension String {
    /// The string with `& < > " '` replaced by character references, safe in HTML text and
    /// in quoted attribute values.
    var htmlEscaped: String {
        var out = ""
        out.reserveCapacity(utf8.count)
        for c in unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }
}
