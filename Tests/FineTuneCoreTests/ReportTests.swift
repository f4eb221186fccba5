import Foundation
import XCTest
@testable import FineTuneCore

/// The HTML training report: self-contained, escaped, one SVG per chart, robust to thin data.
final class ReportTests: XCTestCase {
    static let hostile = "<b>&\"x\""

    /// A two-stage run: 3 freeze epochs then 7 finetune epochs, a step record every 25 steps.
    static func sampleReport(classes: [String] = ["katana", "gun", hostile, "a rather long class name for a sword"])
        -> TrainingReport {
        var records: [MetricsRecord] = []
        let stepsPerEpoch = 50
        for epoch in 1...10 {
            let stage = epoch <= 3 ? "freeze" : "finetune"
            let t = Double(epoch)
            for s in stride(from: 25, through: stepsPerEpoch, by: 25) {
                let step = (epoch - 1) * stepsPerEpoch + s
                let lr = stage == "freeze" ? 1e-3 : 1e-4 * 0.5 * (1 + cos(Double.pi * Double(step - 150) / 350))
                records.append(MetricsRecord(kind: .step, stage: stage, epoch: epoch, step: step, loss: 1.5 / t,
                                             accuracy: 0.5 + 0.04 * t, learning_rate: lr, images_per_second: 210,
                                             elapsed: 12 * t))
            }
            records.append(MetricsRecord(kind: .epoch, stage: stage, epoch: epoch, step: epoch * stepsPerEpoch,
                                         loss: 1.4 / t + 0.1, accuracy: min(0.99, 0.55 + 0.045 * t),
                                         learning_rate: stage == "freeze" ? 1e-3 : 1e-4, images_per_second: 205 + t,
                                         val_loss: 1.2 / t + 0.2 + (epoch > 8 ? 0.03 * (t - 8) : 0),
                                         val_accuracy: min(0.95, 0.6 + 0.04 * t) - (epoch > 8 ? 0.01 : 0),
                                         elapsed: 12 * t + 2))
        }
        var confusion = ConfusionMatrix(classes: classes)
        for t in classes.indices {
            for p in classes.indices {
                for _ in 0..<(t == p ? 40 + 3 * t : (t + p) % 3) { confusion.add(truth: t, prediction: p) }
            }
        }
        return TrainingReport(
            title: "resnet18 on katana_gun",
            settings: [("backbone", "resnet18"), ("strategy", "two-stage"), ("epochs", "3 + 7"), ("lr", "0.001"),
                       ("finetune lr", "0.0001"), ("batch", "32"), ("data", "./katana_gun (val split 0.3, seed 0)")],
            records: records, confusion: confusion, bestEpoch: 8, bestAccuracy: 0.92,
            notes: ["backbone started from random initialisation (no --weights)"],
            date: Date(timeIntervalSince1970: 1_790_000_000))
    }

    /// The `<svg ...>...</svg>` fragments of a page.
    func charts(_ html: String) -> [String] {
        html.components(separatedBy: "<svg").dropFirst().map { $0.components(separatedBy: "</svg>")[0] }
    }

    func assertFinite(_ html: String, file: StaticString = #filePath, line: UInt = #line) {
        for svg in charts(html) {
            XCTAssertFalse(svg.contains("nan"), "NaN coordinate in a chart", file: file, line: line)
            XCTAssertFalse(svg.contains("inf"), "infinite coordinate in a chart", file: file, line: line)
        }
    }

    func testSelfContained() throws {
        var report = Self.sampleReport()
        report.topLosses = [try Self.topLoss(0)]
        let html = report.html().lowercased()
        for forbidden in ["<script", "src=\"http", "href=\"http", "@import", "url(", "<link", "<iframe"] {
            XCTAssertFalse(html.contains(forbidden), forbidden)
        }
        XCTAssertEqual(html.components(separatedBy: "<img").count, html.components(separatedBy: "<img src=\"data:image/jpeg;base64,").count,
                       "images are embedded")
        XCTAssertTrue(html.hasPrefix("<!doctype html>"))
        XCTAssertTrue(html.contains("<style>"))
    }

    func testEscapesUserStrings() {
        var report = Self.sampleReport()
        report.title = "run <i>1</i>"
        report.settings.append(("note's", "a < b & c"))
        report.notes.append("<script>alert(1)</script>")
        let html = report.html()
        XCTAssertFalse(html.contains(Self.hostile))
        XCTAssertFalse(html.contains("<b>"))
        XCTAssertFalse(html.contains("<i>1"))
        XCTAssertFalse(html.lowercased().contains("<script"))
        XCTAssertTrue(html.contains("&lt;b&gt;&amp;&quot;x&quot;"))
        XCTAssertTrue(html.contains("run &lt;i&gt;1&lt;/i&gt;"))
        XCTAssertTrue(html.contains("note&#39;s"))
        XCTAssertTrue(html.contains("a &lt; b &amp; c"))
    }

    func testOneSVGPerChart() {
        var report = Self.sampleReport()
        XCTAssertEqual(charts(report.html()).count, 4, "loss, accuracy, loss per step, learning rate")
        report.records.removeAll { $0.kind == .step }
        XCTAssertEqual(charts(report.html()).count, 2, "no step records: no per-step charts")
        report.records = []
        XCTAssertEqual(charts(report.html()).count, 0)
    }

    func testMarksStageChangeAndBestEpoch() {
        let svgs = charts(Self.sampleReport().html())
        for svg in svgs {
            XCTAssertTrue(svg.contains(">freeze → finetune</text>"), "every chart marks the stage change")
        }
        for svg in svgs.prefix(2) {
            XCTAssertTrue(svg.contains(">best: epoch 8</text>"))
        }
        XCTAssertTrue(svgs[2].contains("Training loss per logged step"), "the loss per step near the stage change")
        // The stage change sits between epochs 3 and 4: x of the dashed line is halfway.
        XCTAssertEqual(TrainingReport.stageChanges(Self.sampleReport().epochRecords).map(\.record.epoch), [4])

        var single = Self.sampleReport()
        single.records = single.records.map { var r = $0; r.stage = "full"; return r }
        for svg in charts(single.html()) { XCTAssertFalse(svg.contains("→")) }
    }

    func testOneEpoch() {
        var report = Self.sampleReport()
        report.records = report.records.filter { $0.epoch == 1 }
        report.bestEpoch = nil; report.bestAccuracy = nil
        let html = report.html()
        XCTAssertEqual(charts(html).count, 4)
        assertFinite(html)
        XCTAssertTrue(html.contains(">best: epoch 1</text>"))
        XCTAssertTrue(html.contains("<circle"), "a single epoch is still drawn as a point")
    }

    func testNoValidation() {
        var report = Self.sampleReport()
        report.records = report.records.map { var r = $0; r.val_loss = nil; r.val_accuracy = nil; return r }
        report.confusion = nil; report.bestEpoch = nil; report.bestAccuracy = nil
        let html = report.html()
        let svgs = charts(html)
        XCTAssertEqual(svgs.count, 4)
        assertFinite(html)
        for svg in svgs {
            XCTAssertFalse(svg.contains(">validation</text>"), "no validation series in the legend")
            XCTAssertFalse(svg.contains("best:"))
        }
        XCTAssertTrue(html.contains("No validation set"))
    }

    func testNonFiniteValuesAreSkipped() {
        var report = Self.sampleReport()
        report.records = report.records.map { r in
            var r = r
            if r.kind == .epoch && r.epoch == 5 { r.loss = .nan; r.val_loss = .infinity; r.accuracy = -.infinity }
            return r
        }
        let html = report.html()
        assertFinite(html)
        // The gap at epoch 5 splits each line of the two epoch charts into two paths.
        XCTAssertEqual(charts(html)[0].components(separatedBy: "<path").count - 1, 4)
    }

    func testManyClassesAndLongNames() {
        let classes = (0..<60).map { "class_\($0)_" + String(repeating: "x", count: $0) }
        let html = Self.sampleReport(classes: classes).html()
        XCTAssertTrue(html.contains("<div class=\"scroll matrix\">"))
        XCTAssertEqual(html.components(separatedBy: "<th scope=\"col\" class=\"col\"").count - 1, 60)
        XCTAssertTrue(html.contains(classes[59]))
    }

    func testAxisTicksAreRound() {
        let y = SVGChart.yAxis([0.62, 0.93], limits: 0...1)
        XCTAssertEqual(y.lo, 0.6, accuracy: 1e-12)
        XCTAssertEqual(y.hi, 0.95, accuracy: 1e-12)
        XCTAssertEqual(y.step, 0.05, accuracy: 1e-12)
        XCTAssertEqual(y.ticks.count, 8)
        XCTAssertEqual(SVGChart.yAxis([0.2, 0.999], limits: 0...1).hi, 1, "never beyond the limits")
        let x = SVGChart.xAxis([1, 12], integer: true)
        XCTAssertEqual(x.step, 2)
        XCTAssertEqual(x.ticks, [2, 4, 6, 8, 10, 12])
        XCTAssertEqual(SVGChart.xAxis([1], integer: true).ticks, [1])
    }

    func testWriteIsAtomicAndComplete() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("report-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let report = Self.sampleReport()
        let url = folder.appendingPathComponent("report.html")
        try "old".write(to: url, atomically: false, encoding: .utf8)
        try report.write(to: url)
        XCTAssertEqual(try String(contentsOf: url, encoding: .utf8), report.html())
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), ["report.html"])
    }

    /// Steps near 2^62 (a tampered metrics.jsonl): adding a tick step no longer changes the value,
    /// which made the axis loop list ticks until memory ran out.
    func testHugeStepNumbersGiveABoundedAxis() {
        let huge = 1 << 62
        let records = (0..<3).map { i in
            MetricsRecord(kind: i == 2 ? .epoch : .step, stage: "full", epoch: 1, step: huge + i * 10, loss: 1, accuracy: 0.5,
                          learning_rate: 1e-3, images_per_second: 10, val_loss: 1, val_accuracy: 0.5, elapsed: Double(i))
        }
        let html = TrainingReport(title: "t", records: records).html()
        XCTAssertTrue(html.contains("<svg"))
        XCTAssertLessThanOrEqual(SVGChart.xAxis(records.map { Double($0.step) }, integer: true).ticks.count, SVGChart.maxTicks)
        XCTAssertLessThanOrEqual(SVGChart.yAxis([1e300, 1e300], limits: nil).ticks.count, SVGChart.maxTicks)
    }

    /// A crafted metrics.jsonl's times and rates beyond any run's (found by fuzzing: the time
    /// card converted 1e300 seconds to Int and crashed) give a page, without those values.
    func testTimesAndRatesBeyondAnyRunGiveAPage() throws {
        let seed = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fuzz/Corpus/metrics/extreme-values.jsonl")
        let (records, skipped) = MetricsLog.records(in: try Data(contentsOf: seed), name: "metrics.jsonl")
        XCTAssertEqual(records.count, 1)
        XCTAssertEqual(skipped, ["metrics.jsonl line 2: step_learning_rates must list at most the epoch's steps; left out"])
        let html = TrainingReport(title: "t", records: records).html()
        XCTAssertTrue(html.contains("<div class=\"value\">—</div>"), "no training time")
        assertFinite(html)
        XCTAssertEqual(TrainingReport.duration(1e300), "—")
        XCTAssertEqual(TrainingReport.duration(7380), "2h 03m")
    }

    /// metrics.jsonl read back: lines that do not parse or hold values out of range are left out, named.
    func testMetricsLogSkipsBadLinesWithAWarning() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("finetune-metrics-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let log = MetricsLog(url: dir.appendingPathComponent("metrics.jsonl"))
        let good = MetricsRecord(kind: .epoch, stage: "full", epoch: 1, step: 4, loss: 0.5, accuracy: 0.75,
                                 learning_rate: 1e-3, images_per_second: 20, val_loss: 0.6, val_accuracy: 0.7, elapsed: 3)
        try log.append(good)
        var bad = good
        bad.step = 1 << 62
        try log.append(bad)
        bad = good
        bad.val_accuracy = 7
        try log.append(bad)
        let handle = try FileHandle(forWritingTo: log.url)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("{\"kind\": \"epoch\", \"step\": 1e400}\nnot json\n".utf8))
        try handle.close()
        let (records, skipped) = log.read()
        XCTAssertEqual(records, [good])
        XCTAssertEqual(skipped.count, 4, "\(skipped)")
        XCTAssertTrue(skipped[0].hasPrefix("metrics.jsonl line 2: step"), skipped[0])
    }
    /// A wrongly classified validation image as the trainer reports it, with a real JPEG thumbnail.
    static func topLoss(_ i: Int) throws -> TrainingReport.TopLoss {
        let image = Image(width: 40, height: 30, channels: 3, filledWith: UInt8(20 * i % 256))
        return TrainingReport.TopLoss(image: "img-\(i)<x>.jpg", truth: "katana", prediction: hostile,
                                      probability: 0.9 - 0.01 * Double(i), loss: 3 - 0.1 * Double(i),
                                      jpeg: try ImageEncoder.jpeg(image))
    }

    func testTopLossesAreEmbeddedThumbnailsWithClassesAndProbability() throws {
        var report = Self.sampleReport()
        report.topLosses = try (0..<20).map(Self.topLoss)
        var html = report.html()
        let images = html.components(separatedBy: "<img src=\"data:image/jpeg;base64,").dropFirst()
        XCTAssertEqual(images.count, Limits.reportTopLosses, "at most the limit are shown")
        let encoded = try XCTUnwrap(images.first?.components(separatedBy: "\"").first)
        let jpeg = try XCTUnwrap(Data(base64Encoded: encoded))
        XCTAssertEqual(try ImageDecoder().info([UInt8](jpeg), path: "thumbnail").format, .jpeg)
        XCTAssertEqual(try ImageDecoder().decode([UInt8](jpeg), path: "thumbnail").width, 40)
        XCTAssertTrue(html.contains("Top losses"))
        XCTAssertTrue(html.contains("<b>&lt;b&gt;&amp;&quot;x&quot;</b> 90.0%"), "the prediction, escaped, and its probability")
        XCTAssertTrue(html.contains("true: katana"))
        XCTAssertTrue(html.contains("img-0&lt;x&gt;.jpg"))
        XCTAssertFalse(html.contains("img-12&lt;x&gt;.jpg"))

        report.topLosses[0].jpeg = nil
        html = report.html()
        XCTAssertTrue(html.contains("image no longer readable"))
        report.topLosses = []
        XCTAssertFalse(report.html().contains("Top losses"), "no mistakes, no section")
    }

    /// A thumbnail of a large image keeps its aspect within the side limit.
    func testThumbnailIsSmall() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("finetune-thumb-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("big.png")
        try Data(ImageEncoder.png(Image(width: 800, height: 400, channels: 3, filledWith: 90))).write(to: file)
        let jpeg = try Thumbnail.jpeg(file: file.path, decoder: ImageDecoder())
        let thumbnail = try ImageDecoder().decode(jpeg, path: "thumbnail")
        XCTAssertEqual([thumbnail.width, thumbnail.height], [Limits.thumbnailSide, Limits.thumbnailSide / 2])
        XCTAssertLessThan(jpeg.count, 16 << 10)
        try Data("not an image".utf8).write(to: file)
        XCTAssertThrowsError(try Thumbnail.jpeg(file: file.path, decoder: ImageDecoder()))
    }

    /// The learning-rate chart has a point for every step the epoch records list, not only the logged ones.
    func testLearningRateCurveHasOnePointPerStep() throws {
        var report = Self.sampleReport()
        let steps = 50
        report.records = report.records.map { r in
            var r = r
            if r.kind == .epoch {
                let first = r.step - steps + 1
                r.step_learning_rates = (first...r.step).map { 1e-3 * (1 - Double($0) / 600) }
            }
            return r
        }
        let svg = try XCTUnwrap(charts(report.html()).first { $0.contains("Learning rate per step") })
        let path = try XCTUnwrap(svg.components(separatedBy: "<path d=\"").dropFirst().first?.components(separatedBy: "\"").first)
        XCTAssertEqual(path.filter { $0 == "M" || $0 == "L" }.count, 10 * steps, "one vertex per step")
        XCTAssertEqual(report.learningRates.map(\.step), Array(1...(10 * steps)))
        XCTAssertEqual(report.learningRates.last!.rate, 1e-3 * (1 - 500.0 / 600), accuracy: 1e-15)
    }

    /// metrics.jsonl read back: a learning-rate list longer than the epoch's steps or holding a
    /// negative rate is left out.
    func testStepLearningRatesAreCheckedWhenReadBack() {
        var r = MetricsRecord(kind: .epoch, stage: "full", epoch: 1, step: 3, loss: 1, accuracy: 0.5, learning_rate: 1e-3,
                              images_per_second: 1, elapsed: 1)
        r.step_learning_rates = [1e-3, 1e-3, 1e-3]
        XCTAssertNil(r.problem)
        r.step_learning_rates = [1e-3, 1e-3, 1e-3, 1e-3]
        XCTAssertEqual(r.problem, "step_learning_rates must list at most the epoch's steps")
        r.step_learning_rates = [1e-3, -1]
        XCTAssertEqual(r.problem, "step_learning_rates must be numbers >= 0")
    }

    func testEpochTableListsEveryEpoch() {
        let html = Self.sampleReport().html()
        let table = html.components(separatedBy: "<table class=\"metrics epochs\">")[1].components(separatedBy: "</table>")[0]
        let rows = table.components(separatedBy: "<tr><td>").dropFirst()
        XCTAssertEqual(rows.count, 10)
        // Epoch 4: the first of the finetune stage, 12 s after epoch 3 ended (elapsed 12 * t + 2).
        XCTAssertTrue(rows[rows.startIndex + 3].hasPrefix("4</td><td class=\"name\">finetune</td><td>0.4500</td><td>73.0%</td>"),
                      rows[rows.startIndex + 3])
        XCTAssertTrue(rows[rows.startIndex + 3].contains("<td>0.0001</td><td>12.0 s</td>"), rows[rows.startIndex + 3])
        XCTAssertTrue(rows[rows.startIndex].contains("<td>14.0 s</td>"), "the first epoch from the run's start")
    }

    func testWallTimeOverSessions() {
        var report = Self.sampleReport()
        report.wallTime = 3725
        report.sessions = 3
        let html = report.html()
        XCTAssertTrue(html.contains("<div class=\"value\">1h 02m</div>"))
        XCTAssertTrue(html.contains("over 3 sessions"))
        report.wallTime = nil
        report.sessions = 1
        XCTAssertTrue(report.html().contains("<div class=\"value\">2m 02s</div>"), "the records' elapsed time when none is given")
    }
}
