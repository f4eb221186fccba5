import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest
@testable import FineTuneCore

/// The range test's arithmetic against fastai's own functions (Fixtures/lr-find.json from
/// tools/make_lr_find_fixtures.py; fastai computes the curve and its suggestions in float32,
/// hence the relative tolerance of 1e-5), its plots, and sweeps on a tiny generated set.
final class TrainingLearningRateFinderTests: XCTestCase {
    struct Fixture: Decodable {
        struct Marked: Decodable { var lr: Double; var marked_lr: Double; var marked_loss: Double }
        struct Sequence: Decodable {
            var name: String
            var start_lr: Double, end_lr: Double, num_it: Int
            var raw_losses: [Number], lrs: [Double], smoothed: [Number]
            var curve_lrs: [Double], curve_losses: [Double]
            var suggestions: [String: Marked]
        }
        struct Direct: Decodable { var lrs: [Double]; var losses: [Double]; var suggestions: [String: Marked] }
        var sequences: [Sequence]
        var direct: [Direct]
    }

    /// A float, or "nan" / "inf" as the script writes them.
    struct Number: Decodable {
        var value: Double
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let x = try? c.decode(Double.self) { value = x } else { value = Double(try c.decode(String.self))! }
        }
    }

    static let fixture: Fixture = {
        let url = Bundle.module.url(forResource: "Fixtures/lr-find", withExtension: "json")!
        return try! JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }()

    func assertClose(_ a: Double, _ b: Double, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertLessThanOrEqual(abs(a - b), 1e-5 * max(abs(b), 1e-12), "\(what): \(a) against fastai's \(b)", file: file, line: line)
    }

    func assertSuggestions(_ s: [LearningRateFinder.Suggestion], _ expected: [String: Fixture.Marked], _ what: String) {
        XCTAssertEqual(s.map(\.method.rawValue).sorted(), expected.keys.sorted(), what)
        for suggestion in s {
            let e = expected[suggestion.method.rawValue]!
            assertClose(suggestion.learningRate, e.lr, "\(what): \(suggestion.method) rate")
            assertClose(suggestion.marked.learningRate, e.marked_lr, "\(what): \(suggestion.method) marked rate")
            assertClose(suggestion.marked.loss, e.marked_loss, "\(what): \(suggestion.method) marked loss")
        }
    }

    /// The finder fed the fixture's raw losses one by one, until it stops.
    func sweep(_ c: Fixture.Sequence) -> LearningRateFinder {
        var finder = LearningRateFinder(sweep: .init(startLR: c.start_lr, endLR: c.end_lr, steps: c.num_it))
        for loss in c.raw_losses {
            guard finder.record(loss: loss.value) else { break }
        }
        return finder
    }

    func testScheduleSmoothingStopRuleAndSuggestionsAreFastais() {
        XCTAssertEqual(Self.fixture.sequences.count, 3)
        for c in Self.fixture.sequences {
            let finder = sweep(c)
            // fastai records NaN to num_it; the finder stops at the first, where fastai's curve ends.
            let firstNaN = c.smoothed.firstIndex { $0.value.isNaN }
            XCTAssertEqual(finder.points.count, firstNaN.map { $0 + 1 } ?? c.lrs.count, c.name)
            XCTAssertEqual(finder.stop, firstNaN != nil ? .notANumber : c.lrs.count < c.num_it ? .diverged : .completed, c.name)
            for (point, (lr, smoothed)) in zip(finder.points, zip(c.lrs, c.smoothed)) where !smoothed.value.isNaN {
                assertClose(point.learningRate, lr, "\(c.name): rate")
                assertClose(point.smoothedLoss, smoothed.value, "\(c.name): smoothed loss")
            }
            XCTAssertEqual(finder.curve.count, c.curve_lrs.count, c.name)
            for (point, (lr, loss)) in zip(finder.curve, zip(c.curve_lrs, c.curve_losses)) {
                assertClose(point.learningRate, lr, "\(c.name): curve rate")
                assertClose(point.smoothedLoss, loss, "\(c.name): curve loss")
            }
            assertSuggestions(finder.suggestions, c.suggestions, c.name)
        }
    }

    func testSuggestionFunctionsOnSmallCurvesKeepFastaisQuirks() {
        for (k, c) in Self.fixture.direct.enumerated() {
            let s = LearningRateFinder.Method.allCases.compactMap {
                LearningRateFinder.suggestion($0, learningRates: c.lrs, losses: c.losses)
            }
            assertSuggestions(s, c.suggestions, "curve \(k)")
        }
        // valley on two falling points: its start is index -1, and Python's lrs[-1] is the last.
        XCTAssertEqual(LearningRateFinder.valleyIndex([3, 2]), 1)
        XCTAssertNil(LearningRateFinder.suggestion(.steep, learningRates: [1e-3], losses: [1]), "one point has no slope")
    }

    func testSweepValidationNamesTheOption() {
        func problem(_ s: LearningRateFinder.Sweep) -> String? {
            do { try s.validate(); return nil } catch { return "\(error)" }
        }
        XCTAssertNil(problem(.init()))
        XCTAssertTrue(problem(.init(startLR: 0))?.contains("--start-lr") == true)
        XCTAssertTrue(problem(.init(startLR: .nan))?.contains("--start-lr") == true)
        XCTAssertTrue(problem(.init(startLR: 1, endLR: 0.5))?.contains("--end-lr") == true)
        XCTAssertTrue(problem(.init(steps: 5))?.contains("--steps") == true)
    }

    func testSVGIsWellFormedAndHoldsTheCurveAndTheSuggestions() throws {
        let finder = sweep(Self.fixture.sequences[0])
        let plot = LearningRateFinderPlot(finder, title: "lr-find: a <test> & more")
        let svg = plot.svg()
        final class Collector: NSObject, XMLParserDelegate {
            var curve: String?
            var circles = 0
            var texts: [String] = []
            var text = ""
            func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                        attributes: [String: String]) {
                if name == "path", attributes["class"] == "curve" { curve = attributes["d"] }
                if name == "circle" { circles += 1 }
                text = ""
            }
            func parser(_ parser: XMLParser, foundCharacters string: String) { text += string }
            func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
                if name == "text" || name == "title" { texts.append(text) }
            }
        }
        let parser = XMLParser(data: Data(svg.utf8))
        let collector = Collector()
        parser.delegate = collector
        XCTAssertTrue(parser.parse(), "\(parser.parserError.map { "\($0)" } ?? "")\n\(svg)")
        // Every plotted point (all but the last 5) is a vertex of the curve.
        let vertices = collector.curve?.split(separator: " ").filter { $0.hasPrefix("M") || $0.hasPrefix("L") }.count
        XCTAssertEqual(vertices, finder.points.count - 5)
        XCTAssertEqual(collector.circles, 3, "one dot per suggestion")
        XCTAssertTrue(collector.texts.contains("lr-find: a <test> & more"), "the title, escaped and read back")
        for s in finder.suggestions {
            XCTAssertTrue(collector.texts.contains("\(s.method.rawValue) \(String(format: "%.3g", s.learningRate))"), "\(s.method)")
        }
        let decades = (-7...0).map { "1e\($0)" }
        XCTAssertEqual(collector.texts.filter { $0.hasPrefix("1e") }, decades, "a tick per decade of the rates plotted")
    }

    func testTextPlotFitsTheColumnsAndMarksTheSuggestions() {
        let finder = sweep(Self.fixture.sequences[0])
        let text = LearningRateFinderPlot(finder, title: "t").text(columns: 79, rows: 6)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertEqual(lines.count, 6 + 3, text)
        for line in lines { XCTAssertLessThanOrEqual(line.count, 79, String(line)) }
        XCTAssertTrue(lines[0].unicodeScalars.contains { (0x2801...0x28FF).contains($0.value) }, "Braille dots:\n\(text)")
        let marks = String(lines.last!)
        for initial in ["v", "s", "m"] { XCTAssertTrue(marks.contains(initial), "\(initial): \(marks)") }
        // The top row holds the curve's highest (first) points, at the left.
        XCTAssertTrue(lines[1...4].allSatisfy { $0.contains("│") }, text)
    }

    // MARK: sweeps on a tiny set (TrainingEndToEndTests' data: mobilenet-v2 at 64 px)

    var outputs: [String] = []
    override func tearDown() {
        for o in outputs { try? FileManager.default.removeItem(atPath: o) }
    }

    func options(_ strategy: TrainingOptions.Strategy) -> TrainingOptions {
        let o = TrainingEndToEndTests.tinyRun(strategy, prefix: "finetune-lr-find")
        outputs.append(o.output)
        return o
    }

    /// Every tensor of the model, by name.
    func values(_ model: Model) -> [String: [Float]] {
        Dictionary(uniqueKeysWithValues: model.slots.map { ($0.spec.name, Array(UnsafeBufferPointer(start: $0.value.pointer, count: $0.value.count))) })
    }

    func testSweepRestoresEveryTensorAndSuggestsRates() throws {
        for strategy in [TrainingOptions.Strategy.twoStage, .full] {
            var o = options(strategy)
            o.batchNorm = strategy == .full ? .train : nil  // running statistics change as it trains
            var events: [String] = []
            let trainer = try Trainer(options: o, catalog: BuiltInBackboneTests.catalog, onEvent: { event in
                if case .info(let message) = event { events.append(message) }
            })
            let before = values(trainer.model)
            // 4 batches an epoch (36 images in 8s): past 8 steps the sweep is in epoch 3.
            let finder = try trainer.findLearningRate(.init(startLR: 1e-5, endLR: 0.1, steps: 30))
            XCTAssertGreaterThan(finder.points.count, 8, "\(strategy): \(finder.stop.map { "\($0)" } ?? "")")
            XCTAssertTrue(finder.stop == .completed || finder.stop == .diverged, "\(strategy)")
            XCTAssertEqual(finder.suggestions.count, 3, "\(strategy)")
            XCTAssertTrue(finder.points.allSatisfy { $0.loss.isFinite })
            XCTAssertEqual(values(trainer.model), before, "\(strategy): weights and batch-norm buffers restored exactly")
            XCTAssertTrue(trainer.model.parameters.allSatisfy { slot in (0..<slot.grad!.count).allSatisfy { slot.grad![$0] == 0 } })
            XCTAssertFalse(FileManager.default.fileExists(atPath: o.output), "nothing written")
            XCTAssertTrue(events.contains { $0.contains(strategy == .full ? "(the whole network)" : "(the head; the backbone frozen)") },
                          "\(events)")
        }
    }

    /// With --mixup and --cutmix the sweep of a stage that trains the whole network takes mixed
    /// steps, as that stage does: other losses than unmixed, the same ones for the same seed.
    func testSweepMixesWhereTheStageMixes() throws {
        func losses(_ mixup: Mixup) throws -> [Double] {
            var o = options(.full)
            o.mixup = mixup
            let trainer = try Trainer(options: o, catalog: BuiltInBackboneTests.catalog, onEvent: { _ in })
            return try trainer.findLearningRate(.init(startLR: 1e-5, endLR: 1e-3, steps: 12)).points.map(\.loss)
        }
        let plain = try losses(Mixup()), mixed = try losses(Mixup(mixupAlpha: 0.4, cutmixAlpha: 1))
        XCTAssertEqual(plain.count, 12)
        XCTAssertNotEqual(plain, mixed)
        XCTAssertEqual(mixed, try losses(Mixup(mixupAlpha: 0.4, cutmixAlpha: 1)))
    }

    func testDivergingSweepStopsEarlyAndStillRestores() throws {
        var o = options(.full)
        o.optimizer = .sgd
        o.batchNorm = .train
        let trainer = try Trainer(options: o, catalog: BuiltInBackboneTests.catalog, onEvent: { _ in })
        let before = values(trainer.model)
        let finder = try trainer.findLearningRate(.init(startLR: 1e4, endLR: 1e6, steps: 50))
        XCTAssertLessThan(finder.points.count, 50)
        XCTAssertTrue(finder.stop == .diverged || finder.stop == .notANumber, "\(String(describing: finder.stop))")
        XCTAssertEqual(values(trainer.model), before)
    }

    func testAutomaticRateIsFoundOnceSavedAndKeptOnResume() throws {
        var o = options(.freeze)
        o.epochs = 2
        o.cacheFeatures = 0
        var automatic = AutomaticLearningRate()
        automatic.sweep.steps = 20
        o.automaticLR = automatic
        var found: [String] = []
        // Stops (when asked to) after the run's first step, whatever the sweep and the features polled before.
        func trainer(_ o: TrainingOptions, resume: Bool, stopAfterFirstStep: Bool) throws -> Trainer {
            var runSteps = 0
            return try Trainer(options: o, catalog: BuiltInBackboneTests.catalog, resume: resume, onEvent: { event in
                if case .info(let m) = event, m.hasPrefix("--lr auto") { found.append(m) }
                if case .progress(let p) = event, p.stage != "lr-find" { runSteps += 1 }
            }, shouldStop: { stopAfterFirstStep && runSteps >= 1 })
        }
        guard case .interrupted = try trainer(o, resume: false, stopAfterFirstStep: true).run() else { return XCTFail("expected an interruption") }
        XCTAssertEqual(found.count, 1, "\(found)")
        let saved = try TrainingState(contentsOf: RunFolder(URL(fileURLWithPath: o.output)).url(.state)).options
        let rate = try XCTUnwrap(saved.automaticLR?.found)
        XCTAssertEqual(saved.lr, rate)
        XCTAssertNotEqual(rate, TrainingOptions(backbone: "", data: "", output: "").lr)
        XCTAssertTrue(found[0].contains("training at --lr \(rate)"), found[0])

        guard case .finished = try trainer(saved, resume: true, stopAfterFirstStep: false).run() else { return XCTFail("interrupted again") }
        XCTAssertEqual(found.count, 1, "the resumed run does not search again")
        let records = Trainer.readRecords(URL(fileURLWithPath: o.output)).filter { $0.kind == .step }
        XCTAssertFalse(records.isEmpty)
        XCTAssertTrue(records.allSatisfy { Float($0.learning_rate) == rate }, "every step at the rate found")
        let html = try String(contentsOfFile: o.output + "/report.html", encoding: .utf8)
        XCTAssertTrue(html.contains("\(rate), found by the learning-rate range test"), "the report says where the rate came from")

        // A state whose rate found is not its --lr, or whose sweep is out of range, is refused
        // as the flags would be.
        var state = try TrainingState(contentsOf: RunFolder(URL(fileURLWithPath: o.output)).url(.state))
        for (tamper, names) in [({ (s: inout TrainingState) in s.options.lr = rate * 2 }, "--lr auto"),
                                ({ (s: inout TrainingState) in s.options.automaticLR?.found = -1; s.options.lr = -1 }, "--lr"),
                                ({ (s: inout TrainingState) in s.options.automaticLR?.sweep.steps = 2 }, "--steps")] {
            var tampered = state
            tamper(&tampered)
            XCTAssertThrowsError(try TrainingState(data: try tampered.encoded(), file: "state.json")) {
                XCTAssertTrue("\($0)".contains("state.json: options: \(names)"), "\($0)")
            }
        }
        state.options.automaticLR = nil
        XCTAssertNoThrow(try TrainingState(data: try state.encoded(), file: "state.json"), "a state from before --lr auto")
    }
}
