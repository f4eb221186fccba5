import Foundation

/// The training report, `report.html` in a run's output folder (DESIGN §7): one
/// self-contained HTML page (inline CSS, inline SVG and images as data URIs; no scripts, fonts
/// or links to fetch) with the run's settings and command line, its wall time, loss, accuracy
/// and learning-rate curves, a table of epochs, per-class metrics, the confusion matrix and the
/// most confidently wrong validation images. Every string that comes from the user (title,
/// settings, class, stage and file names, notes) is HTML-escaped.
public struct TrainingReport {
    /// e.g. "resnet18 on katana_gun".
    public var title: String
    /// The run's settings in display order: backbone, strategy, epochs, lr, batch, ...
    public var settings: [(String, String)]
    /// Everything from `metrics.jsonl`. Accuracies are fractions in 0...1.
    public var records: [MetricsRecord]
    /// On the validation set, for the best checkpoint.
    public var confusion: ConfusionMatrix?
    /// When nil, taken from the epoch with the highest validation accuracy.
    public var bestEpoch: Int?
    public var bestAccuracy: Double?
    /// Whether the best checkpoint holds the weight average (`--ema`) rather than the trained weights.
    public var bestFromAverage = false
    /// The validation images the best model got most confidently wrong, highest loss first
    /// (at most `Limits.reportTopLosses` are shown).
    public var topLosses: [TopLoss] = []
    /// The run's wall time in seconds over its `sessions` (its start and each resume); when nil,
    /// the largest `elapsed` of the records.
    public var wallTime: Double?
    public var sessions = 1
    /// Free-form remarks, e.g. "backbone started from random initialisation (no --weights)".
    public var notes: [String]
    /// Shown in the header.
    public var date: Date

    public init(title: String, settings: [(String, String)] = [], records: [MetricsRecord] = [],
                confusion: ConfusionMatrix? = nil, bestEpoch: Int? = nil, bestAccuracy: Double? = nil,
                notes: [String] = [], date: Date = Date()) {
        self.title = title; self.settings = settings; self.records = records; self.confusion = confusion
        self.bestEpoch = bestEpoch; self.bestAccuracy = bestAccuracy; self.notes = notes; self.date = date
    }

    /// Writes `html()` to `url` atomically (temporary file in the same folder, then rename).
    public func write(to url: URL) throws {
        let data = Data(html().utf8)
        try AtomicFile.write(to: url) { file in try file.write(data) }
    }

    public func html() -> String {
        var body = header()
        body += section("Settings", settingsTable())
        body += section("Training curves", charts())
        if !epochRecords.isEmpty { body += section("Epochs", epochTable()) }
        if let confusion, !confusion.classes.isEmpty {
            body += section("Per-class metrics", classTable(confusion))
            body += section("Confusion matrix", matrixTable(confusion))
        } else {
            body += section("Per-class metrics", "<p class=\"muted\">No validation set, so no per-class metrics.</p>")
        }
        if !topLosses.isEmpty { body += section("Top losses", topLossesGrid()) }
        if !notes.isEmpty {
            body += section("Notes", "<ul class=\"notes\">" + notes.map { "<li>\($0.htmlEscaped)</li>" }.joined() + "</ul>")
        }
        return """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>Training report: \(title.htmlEscaped)</title>
        <style>\(Self.css)</style>
        </head>
        <body>
        <main>
        \(body)</main>
        </body>
        </html>

        """
    }

    // MARK: - Data

    /// One record per epoch, the last one written for each epoch (a resumed run may repeat one).
    var epochRecords: [MetricsRecord] {
        var byEpoch: [Int: MetricsRecord] = [:]
        for r in records where r.kind == .epoch { byEpoch[r.epoch] = r }
        return byEpoch.keys.sorted().map { byEpoch[$0]! }
    }

    var stepRecords: [MetricsRecord] {
        records.filter { $0.kind == .step }.sorted { $0.step < $1.step }
    }

    /// The given best epoch and accuracy, or else those of the highest validation accuracy.
    var best: (epoch: Int, accuracy: Double?)? {
        if let bestEpoch {
            let recorded = epochRecords.first { $0.epoch == bestEpoch }?.val_accuracy
            return (bestEpoch, bestAccuracy ?? recorded)
        }
        let validated = epochRecords.filter { ($0.val_accuracy ?? .nan).isFinite }
        guard let top = validated.max(by: { $0.val_accuracy! < $1.val_accuracy! }) else { return nil }
        return (top.epoch, bestAccuracy ?? top.val_accuracy)
    }

    /// Records whose stage differs from the one before: "freeze → finetune" at that record.
    static func stageChanges(_ records: [MetricsRecord]) -> [(record: MetricsRecord, label: String)] {
        zip(records.dropFirst(), records).compactMap { current, previous in
            current.stage == previous.stage ? nil : (current, "\(previous.stage) → \(current.stage)")
        }
    }

    // MARK: - Sections

    private func section(_ heading: String, _ content: String) -> String {
        "<section>\n<h2>\(heading)</h2>\n\(content)\n</section>\n"
    }

    private func header() -> String {
        let epochs = epochRecords
        var cards: [(label: String, value: String, detail: String)] = []
        if let best, let accuracy = best.accuracy, accuracy.isFinite {
            cards.append(("Best validation accuracy", Self.percent(accuracy),
                          "epoch \(best.epoch)" + (bestFromAverage ? ", averaged (EMA) weights" : "")))
        } else if let best {
            cards.append(("Best checkpoint", "epoch \(best.epoch)", "no validation accuracy"))
        } else {
            cards.append(("Best validation accuracy", "—", "no validation values"))
        }
        if let last = epochs.last {
            var stages: [String] = []
            for r in epochs where stages.last != r.stage { stages.append(r.stage) }
            cards.append(("Epochs", "\(epochs.count)", stages.joined(separator: " → ")))
            let accuracy = last.accuracy.isFinite ? Self.percent(last.accuracy) : "—"
            let loss = last.loss.isFinite ? String(format: "loss %.4f", last.loss) : "loss —"
            cards.append(("Final training accuracy", accuracy, loss))
        }
        if let elapsed = wallTime ?? records.map(\.elapsed).filter(\.isFinite).max() {
            let speeds = epochs.map(\.images_per_second).filter { $0.isFinite && $0 > 0 }
            var detail = speeds.isEmpty ? [] : [String(format: "%.0f images/s", speeds.reduce(0, +) / Double(speeds.count))]
            if sessions > 1 { detail.append("over \(sessions) sessions") }
            cards.append(("Training time", Self.duration(elapsed), detail.joined(separator: ", ")))
        }
        let cardHTML = cards.map {
            "<div class=\"card\"><div class=\"label\">\($0.label)</div><div class=\"value\">\($0.value.htmlEscaped)</div>"
                + "<div class=\"detail\">\($0.detail.htmlEscaped)</div></div>"
        }.joined(separator: "\n")
        return """
        <header>
        <p class="kicker">Training report</p>
        <h1>\(title.htmlEscaped)</h1>
        <p class="muted">\(Self.dateText(date))</p>
        <div class="cards">
        \(cardHTML)
        </div>
        </header>

        """
    }

    private func settingsTable() -> String {
        guard !settings.isEmpty else { return "<p class=\"muted\">No settings recorded.</p>" }
        let rows = settings.map { "<tr><th scope=\"row\">\($0.0.htmlEscaped)</th><td>\($0.1.htmlEscaped)</td></tr>" }
        return "<table class=\"settings\">\n" + rows.joined(separator: "\n") + "\n</table>"
    }

    private func charts() -> String {
        let epochs = epochRecords
        guard !epochs.isEmpty else { return "<p class=\"muted\">No epoch records.</p>" }
        let best = self.best
        let changes = Self.stageChanges(epochs).map {
            SVGChart.Marker(x: Double($0.record.epoch) - 0.5, label: $0.label, style: .stageChange)
        }
        func series(_ name: String, _ color: String, _ shape: SVGChart.PointShape,
                    _ value: (MetricsRecord) -> Double?) -> SVGChart.Series {
            SVGChart.Series(name: name, color: color, shape: shape,
                            points: epochs.compactMap { r in value(r).map { (Double(r.epoch), $0) } })
        }
        func bestMarker(_ value: (MetricsRecord) -> Double?) -> [SVGChart.Marker] {
            guard let best else { return [] }
            let y = epochRecords.first { $0.epoch == best.epoch }.flatMap(value)
            return [SVGChart.Marker(x: Double(best.epoch), label: "best: epoch \(best.epoch)", style: .best, ringY: y)]
        }
        let train = "#2563eb", validation = "#ea580c"
        let loss = SVGChart(title: "Loss per epoch", xLabel: "epoch", yLabel: "loss",
                            series: [series("train", train, .circle) { $0.loss },
                                     series("validation", validation, .square) { $0.val_loss }],
                            markers: changes + bestMarker { $0.val_loss })
        let accuracyBest = best.map { b in
            [SVGChart.Marker(x: Double(b.epoch), label: "best: epoch \(b.epoch)", style: .best,
                             ringY: b.accuracy ?? epochs.first { $0.epoch == b.epoch }?.val_accuracy)]
        } ?? []
        let accuracy = SVGChart(title: "Accuracy per epoch", xLabel: "epoch", yLabel: "accuracy",
                                series: [series("train", train, .circle) { $0.accuracy },
                                         series("validation", validation, .square) { $0.val_accuracy }],
                                markers: changes + accuracyBest, yFormat: .percent, yLimits: 0...1)
        var out = "<div class=\"charts\">\n<figure>\(loss.svg())</figure>\n<figure>\(accuracy.svg())</figure>\n</div>"
        if let stepLoss = stepLossChart() { out += "\n<figure class=\"wide\">\(stepLoss)</figure>" }
        if let rate = learningRateChart() { out += "\n<figure class=\"wide\">\(rate)</figure>" }
        return out
    }

    /// Training loss per logged step, the stage changes marked. The first steps of each stage are
    /// logged one by one (`Trainer`), so a jump in loss where the backbone starts training shows.
    private func stepLossChart() -> String? {
        let steps = stepRecords.filter(\.loss.isFinite)
        guard steps.count > 1 else { return nil }
        let changes = Self.stageChanges(steps).map {
            SVGChart.Marker(x: Double($0.record.step), label: $0.label, style: .stageChange)
        }
        let chart = SVGChart(title: "Training loss per logged step", xLabel: "step", yLabel: "loss",
                             series: [SVGChart.Series(name: "train", color: "#2563eb", shape: .none,
                                                      points: steps.map { (Double($0.step), $0.loss) })],
                             markers: changes, yIncludesZero: true, width: 1100, height: 260)
        return chart.svg()
    }

    /// The head's learning rate at every step (from the epoch records' `step_learning_rates`;
    /// at the logged steps for records without them), scaled by a power of ten when it is small.
    private func learningRateChart() -> String? {
        let points = learningRates
        guard points.count > 0 else { return nil }
        let largest = points.map { abs($0.rate) }.max() ?? 0
        let exponent = largest > 0 && largest < 0.01 ? Int(floor(log10(largest))) : 0
        let scale = pow(10, Double(-exponent))
        let unit = exponent == 0 ? "" : " (×10\(Self.superscript(exponent)))"
        let changes = Self.stageChanges(stepRecords).map {
            SVGChart.Marker(x: Double($0.record.step), label: $0.label, style: .stageChange)
        }
        let chart = SVGChart(title: "Learning rate per step", xLabel: "step", yLabel: "learning rate" + unit,
                             series: [SVGChart.Series(name: "head learning rate", color: "#7c3aed", shape: .none,
                                                      points: points.map { (Double($0.step), $0.rate * scale) })],
                             markers: changes, yIncludesZero: true, width: 1100, height: 230)
        return chart.svg()
    }

    /// (step, learning rate) of every step the epoch records list, in step order; the logged
    /// steps' rates when no epoch record lists them.
    var learningRates: [(step: Int, rate: Double)] {
        let listed = epochRecords.flatMap { r -> [(Int, Double)] in
            let rates = r.step_learning_rates ?? []
            return rates.enumerated().map { (r.step - rates.count + 1 + $0.offset, $0.element) }
        }
        let points = listed.isEmpty ? stepRecords.map { ($0.step, $0.learning_rate) } : listed
        return points.filter { $0.1.isFinite }.map { (step: $0.0, rate: $0.1) }
    }

    private func classTable(_ m: ConfusionMatrix) -> String {
        let support = m.counts.map { $0.reduce(0, +) }
        let total = Double(max(1, m.total))
        var rows = m.classes.indices.map { c in
            "<tr><th scope=\"row\" class=\"name\">\(m.classes[c].htmlEscaped)</th>"
                + "<td>\(Self.fixed(m.precision(c)))</td><td>\(Self.fixed(m.recall(c)))</td>"
                + "<td>\(Self.bar(m.f1(c)))</td><td>\(support[c])</td></tr>"
        }
        func average(_ metric: (Int) -> Double, weighted: Bool) -> Double {
            let weights = m.classes.indices.map { weighted ? Double(support[$0]) / total : 1 / Double(m.classes.count) }
            return m.classes.indices.reduce(0) { $0 + weights[$1] * metric($1) }
        }
        for (name, weighted) in [("macro average", false), ("weighted average", true)] {
            rows.append("<tr class=\"summary\"><th scope=\"row\">\(name)</th>"
                        + "<td>\(Self.fixed(average(m.precision, weighted: weighted)))</td>"
                        + "<td>\(Self.fixed(average(m.recall, weighted: weighted)))</td>"
                        + "<td>\(Self.fixed(average(m.f1, weighted: weighted)))</td><td>\(m.total)</td></tr>")
        }
        for (name, value) in [("accuracy", m.accuracy), ("balanced accuracy", m.balancedAccuracy), ("macro-F1 (classes present)", m.macroF1)] {
            rows.append("<tr class=\"summary\"><th scope=\"row\">\(name)</th><td></td><td></td>"
                        + "<td>\(Self.fixed(value))</td><td>\(m.total)</td></tr>")
        }
        return """
        <div class="scroll">
        <table class="metrics">
        <thead><tr><th scope="col">class</th><th scope="col">precision</th><th scope="col">recall</th><th scope="col">F1</th><th scope="col">support</th></tr></thead>
        <tbody>
        \(rows.joined(separator: "\n"))
        </tbody>
        </table>
        </div>
        """
    }

    /// Counts, with each cell shaded by its share of the row (of the true class): blue on the
    /// diagonal (correct), red elsewhere (confusions).
    private func matrixTable(_ m: ConfusionMatrix) -> String {
        let showShares = m.classes.count <= 20
        let head = m.classes.map { "<th scope=\"col\" class=\"col\" title=\"\($0.htmlEscaped)\"><span>\($0.htmlEscaped)</span></th>" }
        let rows = m.classes.indices.map { t -> String in
            let rowTotal = m.counts[t].reduce(0, +)
            let cells = m.classes.indices.map { p -> String in
                let n = m.counts[t][p]
                let share = rowTotal == 0 ? 0 : Double(n) / Double(rowTotal)
                let tip = "true \(m.classes[t]), predicted \(m.classes[p]): \(n) (\(Self.percent(share)) of the row)"
                let shareText = showShares && n > 0 ? "<small>\(Self.percent(share, decimals: 0))</small>" : ""
                return "<td style=\"\(Self.cellStyle(share: share, count: n, diagonal: t == p))\" title=\"\(tip.htmlEscaped)\">"
                    + "\(n)\(shareText)</td>"
            }
            return "<tr><th scope=\"row\" class=\"row\" title=\"\(m.classes[t].htmlEscaped)\">\(m.classes[t].htmlEscaped)</th>"
                + cells.joined() + "</tr>"
        }
        return """
        <p class="muted">Rows: true class. Columns: predicted class. Shading: share of the row (the true class), \
        deeper for a larger share; blue on the diagonal is correct, red off it is a confusion.</p>
        <div class="scroll matrix">
        <table class="confusion">
        <thead><tr><th class="corner">true \\ predicted</th>\(head.joined())</tr></thead>
        <tbody>
        \(rows.joined(separator: "\n"))
        </tbody>
        </table>
        </div>
        """
    }

    // MARK: - Formatting

    static func cellStyle(share: Double, count: Int, diagonal: Bool) -> String {
        guard count > 0 else { return "color:#9ca3af" }
        // Square root, so that a confusion of a few percent is still plainly visible.
        let t = 0.15 + 0.85 * min(1, max(0, share)).squareRoot()
        let target: (Double, Double, Double) = diagonal ? (29, 78, 216) : (220, 38, 38)
        func mix(_ c: Double) -> Int { Int((255 + (c - 255) * t).rounded()) }
        let background = String(format: "#%02x%02x%02x", mix(target.0), mix(target.1), mix(target.2))
        return "background:\(background);color:\(t > 0.5 ? "#ffffff" : "#111827")"
    }

    static func percent(_ x: Double, decimals: Int = 1) -> String {
        String(format: "%.\(decimals)f%%", x * 100)
    }

    static func fixed(_ x: Double, decimals: Int = 3) -> String { x.isFinite ? String(format: "%.\(decimals)f", x) : "—" }

    /// A value in 0...1 with a small bar behind it.
    static func bar(_ x: Double) -> String {
        let width = x.isFinite ? Int((min(1, max(0, x)) * 100).rounded()) : 0
        return "<span class=\"bar\"><span style=\"width:\(width)%\"></span></span>\(fixed(x))"
    }

    /// "12.3 s", "4m 05s", "2h 07m"; "—" for a time no run takes (a crafted metrics.jsonl can
    /// hold 1e300, which is past `Int`).
    static func duration(_ seconds: Double) -> String {
        guard (0..<1e12).contains(seconds) else { return "—" }
        if seconds < 60 { return String(format: "%.1f s", seconds) }
        let s = Int(seconds.rounded())
        if s < 3600 { return String(format: "%dm %02ds", s / 60, s % 60) }
        return String(format: "%dh %02dm", s / 3600, (s % 3600) / 60)
    }

    static func dateText(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm 'UTC'"
        return formatter.string(from: date)
    }

    static func superscript(_ n: Int) -> String {
        let digits: [Character: Character] = ["0": "⁰", "1": "¹", "2": "²", "3": "³", "4": "⁴",
                                              "5": "⁵", "6": "⁶", "7": "⁷", "8": "⁸", "9": "⁹", "-": "⁻"]
        return String(String(n).map { digits[$0] ?? $0 })
    }

    static let css = """

    :root { color-scheme: light; }
    * { box-sizing: border-box; }
    body { margin: 0; background: #f5f6f8; color: #1f2937;
      font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
    main { max-width: 1160px; margin: 0 auto; padding: 32px 24px 48px; }
    header { margin-bottom: 8px; }
    h1 { font-size: 28px; line-height: 1.2; margin: 0 0 4px; overflow-wrap: anywhere; }
    h2 { font-size: 18px; margin: 0 0 12px; }
    .kicker { margin: 0; text-transform: uppercase; letter-spacing: .08em; font-size: 12px; font-weight: 600; color: #4b5563; }
    .muted { color: #4b5563; margin: 0 0 12px; }
    section { background: #ffffff; border: 1px solid #e5e7eb; border-radius: 10px; padding: 20px 24px; margin: 16px 0; }
    .cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(200px, 1fr)); gap: 12px; margin-top: 16px; }
    .card { background: #ffffff; border: 1px solid #e5e7eb; border-radius: 10px; padding: 12px 16px; }
    .card .label { font-size: 12px; color: #4b5563; text-transform: uppercase; letter-spacing: .05em; }
    .card .value { font-size: 24px; font-weight: 650; font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }
    .card .detail { font-size: 13px; color: #4b5563; overflow-wrap: anywhere; }
    table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
    th, td { padding: 6px 12px; text-align: left; vertical-align: top; }
    table.settings th { color: #4b5563; font-weight: 500; white-space: nowrap; }
    table.settings td { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px; overflow-wrap: anywhere; }
    table.settings tr + tr > * , table.metrics tbody tr + tr > * { border-top: 1px solid #eef0f3; }
    table.metrics thead th { border-bottom: 2px solid #d1d5db; font-weight: 600; }
    table.metrics td { text-align: right; white-space: nowrap; }
    table.metrics th.name { max-width: 28em; overflow-wrap: anywhere; font-weight: 500; }
    table.metrics tr.summary > * { color: #4b5563; }
    table.metrics tr.summary:first-of-type > * { border-top: 2px solid #d1d5db; }
    .bar { display: inline-block; width: 60px; height: 8px; background: #eef0f3; border-radius: 4px; margin-right: 8px; vertical-align: middle; overflow: hidden; }
    .bar > span { display: block; height: 100%; background: #2563eb; }
    .charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 16px; }
    figure { margin: 0; }
    figure.wide { margin-top: 16px; }
    figure svg { display: block; width: 100%; height: auto; border: 1px solid #eef0f3; border-radius: 8px; }
    .scroll { overflow: auto; max-width: 100%; }
    .matrix { max-height: 80vh; }
    table.confusion td { min-width: 44px; text-align: center; vertical-align: middle; border: 1px solid #ffffff; font-weight: 600; padding: 6px 8px; }
    table.confusion td small { display: block; font-size: 11px; font-weight: 400; opacity: .85; }
    table.confusion th.row { position: sticky; left: 0; background: #ffffff; min-width: 10em; max-width: 18em; overflow-wrap: anywhere; vertical-align: middle; font-weight: 500; z-index: 1; }
    table.confusion th.col { position: sticky; top: 0; background: #ffffff; vertical-align: bottom; padding: 6px 4px; font-weight: 500; z-index: 1; }
    table.confusion th.col span { display: inline-block; writing-mode: vertical-rl; transform: rotate(180deg);
      white-space: nowrap; max-height: 12em; overflow: hidden; text-overflow: ellipsis; }
    table.confusion th.corner { position: sticky; left: 0; top: 0; background: #ffffff; vertical-align: bottom; color: #4b5563; font-weight: 500; white-space: nowrap; z-index: 2; }
    table.epochs td.name { text-align: left; }
    .losses { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: 12px; }
    figure.loss { border: 1px solid #eef0f3; border-radius: 8px; padding: 8px; }
    figure.loss img, figure.loss .missing { display: block; width: 100%; height: 160px; object-fit: contain; background: #f5f6f8; border-radius: 4px; }
    figure.loss .missing { line-height: 160px; text-align: center; color: #6b7280; font-size: 13px; }
    figure.loss figcaption { font-size: 13px; margin-top: 6px; overflow-wrap: anywhere; }
    figure.loss figcaption b { color: #b91c1c; }
    ul.notes { margin: 0; padding-left: 20px; }
    ul.notes li { overflow-wrap: anywhere; }

    """
}
