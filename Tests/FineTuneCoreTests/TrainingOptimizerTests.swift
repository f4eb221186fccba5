import Foundation
import XCTest
@testable import FineTuneCore

/// SGD, Adam, AdamW and the learning-rate schedules against torch.optim (fixture written by
/// tools/make_optimizer_fixtures.py, whose docstring gives the shared input formulas).
///
/// Tolerance: every parameter value and learning rate within 1e-6 of the reference, relative to
/// the reference's magnitude. Parameters are float32 on both sides; rates are computed in Double
/// here and rounded to Float, so they differ from torch's doubles by at most float rounding.
final class TrainingOptimizerTests: XCTestCase {
    static let tolerance = 1e-6

    struct Fixture: Decodable {
        var steps: Int
        var join: Int
        var lr_a: Float
        var lr_b: Float
        var optimizers: [String: OptimizerCase]
        var total: Int
        var base_lr: Float
        var schedules: [String: ScheduleCase]
    }
    struct OptimizerCase: Decodable {
        var kind: String
        var momentum: Float?
        var nesterov: Bool?
        var weight_decay: Float
        var steps: [[String: [Double]]]
    }
    struct ScheduleCase: Decodable {
        var spec: String
        var warmup: Int?
        var start_factor: Double?
        var lrs: [Double]
    }

    static let fixture: Fixture = {
        let url = Bundle.module.url(forResource: "Fixtures/optimizers", withExtension: "json")!
        return try! JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }()

    /// Parameters "a" (group 0) and "b" (group 1) at the fixture's starting values.
    static func makeSlots() -> [Model.Slot] {
        let a = Model.Slot(spec: TensorSpec(name: "a", shape: [2, 3], kind: .parameter), node: 0, group: 0)
        let b = Model.Slot(spec: TensorSpec(name: "b", shape: [4], kind: .parameter), node: 1, group: 1)
        for i in 0..<6 { a.value[i] = (Float(i) - 2.5) / 2 }
        for i in 0..<4 { b.value[i] = 0.5 + Float(i) / 4 }
        return [a, b]
    }

    /// Step `t` (from 1) as the fixture's: gradients from the shared formula, "b" only from `join`.
    static func step(_ optimizer: Optimizer, _ slots: [Model.Slot], t: Int) {
        let f = fixture
        for (k, slot) in slots.enumerated() {
            for i in 0..<slot.value.count {
                slot.grad![i] = Float((7 * i + 3 * t + 5 * k) % 11 - 5) / 4 + 0.125
            }
        }
        let active = t >= f.join ? slots : [slots[0]]
        optimizer.step(active, lr: { $0.group == 0 ? f.lr_a : f.lr_b })
    }

    static func makeOptimizer(_ c: OptimizerCase) -> Optimizer {
        switch c.kind {
        case "sgd": return SGD(momentum: c.momentum ?? 0, nesterov: c.nesterov ?? false, weightDecay: c.weight_decay)
        case "adam": return Adam(weightDecay: c.weight_decay)
        case "adamw": return Adam.adamW(weightDecay: c.weight_decay)
        default: fatalError("unknown optimizer kind \(c.kind) in the fixture")
        }
    }

    func assertClose(_ actual: Double, _ expected: Double, _ what: @autoclosure () -> String) {
        XCTAssertLessThanOrEqual(abs(actual - expected), Self.tolerance * abs(expected),
                                 "\(what()): \(actual), expected \(expected)")
    }

    func checkOptimizer(_ name: String) {
        let c = Self.fixture.optimizers[name]!
        let slots = Self.makeSlots(), optimizer = Self.makeOptimizer(c)
        XCTAssertEqual(optimizer.kind, c.kind)
        for (index, expected) in c.steps.enumerated() {
            Self.step(optimizer, slots, t: index + 1)
            for slot in slots {
                for (i, e) in expected[slot.spec.name]!.enumerated() {
                    assertClose(Double(slot.value[i]), e, "\(name) step \(index + 1) \(slot.spec.name)[\(i)]")
                }
            }
        }
        XCTAssertEqual(optimizer.stepCount, c.steps.count)
        // "b" joined late: its own step count starts at the join.
        XCTAssertEqual(optimizer.state().parameters["b"]?.step, c.steps.count - Self.fixture.join + 1)
    }

    func testSGDMomentum() { checkOptimizer("sgd") }
    func testSGDNesterov() { checkOptimizer("sgd-nesterov") }
    func testSGDPlain() { checkOptimizer("sgd-plain") }
    func testAdam() { checkOptimizer("adam") }
    func testAdamW() { checkOptimizer("adamw") }

    func checkSchedule(_ name: String) throws {
        let f = Self.fixture, c = f.schedules[name]!
        let schedule = try LearningRateSchedule(parsing: c.spec, warmupSteps: c.warmup ?? 0,
                                                warmupStartFactor: c.start_factor ?? 1.0 / 3)
        XCTAssertEqual(c.lrs.count, f.total)
        for (step, expected) in c.lrs.enumerated() {
            let lr = schedule.learningRate(step: step, baseLR: f.base_lr, totalSteps: f.total)
            assertClose(Double(lr), expected, "\(name) step \(step)")
        }
    }

    func testCosine() throws { try checkSchedule("cosine") }
    func testStep() throws { try checkSchedule("step") }
    func testOneCycle() throws { try checkSchedule("onecycle") }
    func testWarmupCosine() throws { try checkSchedule("warmup-cosine") }
    func testWarmupStep() throws { try checkSchedule("warmup-step") }

    func testConstantAndWarmup() throws {
        let schedule = try LearningRateSchedule(parsing: "constant", warmupSteps: 4, warmupStartFactor: 0.5)
        let lrs = (0..<6).map { schedule.learningRate(step: $0, baseLR: 0.2, totalSteps: 10) }
        XCTAssertEqual(lrs, [0.1, 0.125, 0.15, 0.175, 0.2, 0.2])
    }

    func testParsing() throws {
        for text in ["constant", "cosine", "cosine:1e-05", "step:10:0.1", "onecycle:0.25:10.0:100.0"] {
            let schedule = try LearningRateSchedule(parsing: text)
            XCTAssertEqual(try LearningRateSchedule(parsing: schedule.description), schedule, text)
        }
        XCTAssertEqual(try LearningRateSchedule(parsing: "onecycle").shape, .oneCycleDefault)
        for bad in ["linear", "step:10", "step:0:0.1", "cosine:x", "onecycle:1.5", ""] {
            XCTAssertThrowsError(try LearningRateSchedule(parsing: bad), bad) { error in
                XCTAssertTrue("\(error)".contains("accepted: constant, cosine"), "\(error)")
            }
        }
    }

    /// Two steps, save, restore into a fresh optimiser and fresh parameters, three more steps:
    /// identical to five uninterrupted steps (and the state survives its file, optimizer.safetensors).
    func testStateRoundTrip() throws {
        for name in ["sgd", "adamw"] {
            let c = Self.fixture.optimizers[name]!
            let straight = Self.makeSlots(), uninterrupted = Self.makeOptimizer(c)
            for t in 1...5 { Self.step(uninterrupted, straight, t: t) }

            let first = Self.makeSlots(), before = Self.makeOptimizer(c)
            for t in 1...3 { Self.step(before, first, t: t) }
            let file = try before.state().safeTensors(generation: 1)
            let saved = try SafeTensorsWriter.encode(file.tensors, metadata: file.metadata)
            let resumedSlots = Self.makeSlots()
            for (s, f) in zip(resumedSlots, first) { s.value.pointer.update(from: f.value.pointer, count: f.value.count) }
            let resumed = Self.makeOptimizer(c)
            try resumed.load(try OptimizerState(SafeTensorsFile(data: saved, file: "o"), generation: 1, file: "o"), for: resumedSlots)
            XCTAssertEqual(resumed.state(), before.state())
            for t in 4...5 { Self.step(resumed, resumedSlots, t: t) }
            XCTAssertEqual(resumed.stepCount, 5)
            for (r, s) in zip(resumedSlots, straight) { XCTAssertEqual(r.value.array, s.value.array, name) }
        }
    }

    func testLoadRejectsMismatches() throws {
        let slots = Self.makeSlots(), adam = Adam()
        adam.step(slots, lr: 0.1)
        var state = adam.state()
        XCTAssertThrowsError(try SGD().load(state, for: slots)) {
            XCTAssertEqual($0 as? OptimizerStateError, .kindMismatch(saved: "adam", expected: "sgd"))
        }
        XCTAssertThrowsError(try Adam().load(state, for: [slots[0]])) {
            XCTAssertEqual($0 as? OptimizerStateError, .unknownParameter("b"))
        }
        state.parameters["a"]!.buffers["exp_avg"] = [1, 2]
        XCTAssertThrowsError(try Adam().load(state, for: slots)) {
            XCTAssertEqual($0 as? OptimizerStateError,
                           .sizeMismatch(parameter: "a", buffer: "exp_avg", expected: 6, count: 2))
        }
    }
}
