import Foundation
import XCTest
@testable import FineTuneCore

/// Options that a configuration would not use are refused by name; two-stage's second stage
/// takes `--backbone-lr-mult`; states saved before it did resume as they began.
final class TrainingOptionsApplicabilityTests: XCTestCase {
    func options(_ strategy: TrainingOptions.Strategy) -> TrainingOptions {
        var o = TrainingOptions(backbone: "resnet18", data: "data", output: "run")
        o.strategy = strategy
        return o
    }

    func testOptionsTheRunWouldNotUseAreRefusedByName() {
        var sgd = options(.full)
        sgd.optimizer = .sgd
        var mlp = options(.freeze)
        mlp.head = "mlp:64"
        let refused: [(TrainingOptions, String)] = [
            (options(.freeze), "--freeze-epochs"), (options(.full), "--freeze-epochs"),
            (options(.discriminative), "--finetune-lr"), (options(.freeze), "--finetune-lr"),
            (options(.freeze), "--backbone-lr-mult"), (options(.full), "--backbone-lr-mult"),
            (options(.freeze), "--unfreeze"), (options(.freeze), "--bn"),
            (options(.full), "--cache-features"), (options(.discriminative), "--[no-]standardize-features"),
            (options(.twoStage), "--momentum"), (options(.full), "--nesterov"),
            (options(.twoStage), "--dropout"),
        ]
        for (o, flag) in refused {
            XCTAssertThrowsError(try o.checkApplicable(given: [flag]), "\(o.strategy) \(flag)") { error in
                XCTAssertEqual((error as? TrainingOptions.Inapplicable)?.option, flag)
            }
        }
        let accepted: [(TrainingOptions, String)] = [
            (options(.twoStage), "--freeze-epochs"), (options(.twoStage), "--finetune-lr"),
            (options(.twoStage), "--backbone-lr-mult"), (options(.discriminative), "--backbone-lr-mult"),
            (options(.twoStage), "--unfreeze"), (options(.full), "--bn"), (options(.twoStage), "--cache-features"),
            (options(.freeze), "--[no-]standardize-features"), (sgd, "--momentum"), (sgd, "--nesterov"), (mlp, "--dropout"),
        ]
        for (o, flag) in accepted {
            XCTAssertNoThrow(try o.checkApplicable(given: [flag]), "\(o.strategy) \(flag)")
        }
        // Left out, nothing is refused: the defaults of options that do not apply are harmless.
        for strategy in TrainingOptions.Strategy.allCases {
            XCTAssertNoThrow(try options(strategy).checkApplicable(given: []))
        }
    }

    func testTwoStagesSecondStageTakesTheBackboneMultiplier() {
        let groups = ["stem", "layer1", "layer2", "head"]
        var o = options(.twoStage)
        o.finetuneLR = 1e-4
        XCTAssertNil(Stage.plan(o, groups: groups)[1].backboneLR, "one rate by default, as before")
        o.backboneLRMult = 0.01
        let stages = Stage.plan(o, groups: groups)
        XCTAssertNil(stages[0].backboneLR)
        XCTAssertEqual(stages[1].lr, 1e-4)
        XCTAssertEqual(stages[1].backboneLR!, 1e-6, accuracy: 1e-12)
        var d = options(.discriminative)
        d.lr = 1e-3
        XCTAssertEqual(Stage.plan(d, groups: groups)[0].backboneLR!, 1e-4, accuracy: 1e-10, "discriminative: 0.1 by default")
        d.backboneLRMult = 0.5
        XCTAssertEqual(Stage.plan(d, groups: groups)[0].backboneLR!, 5e-4, accuracy: 1e-10)
        d.backboneLRMult = 0
        XCTAssertThrowsError(try d.validate())
    }

    /// A state saved when the multiplier was `backboneLRMultiplier`, 0.1 for every strategy but
    /// read by discriminative alone: it stays with discriminative and leaves two-stage at one rate.
    func testStatesSavedBeforeTwoStageTookTheMultiplierResumeAsTheyBegan() throws {
        for (strategy, saved, expected) in [("two-stage", 0.1, nil), ("discriminative", 0.25, Float(0.25))] as [(String, Double, Float?)] {
            var o = options(.full)
            o.strategy = TrainingOptions.Strategy(rawValue: strategy)!
            var state = TrainingState(options: o)
            state.generation = 1
            var json = try JSONSerialization.jsonObject(with: try state.encoded()) as! [String: Any]
            var saved_options = json["options"] as! [String: Any]
            saved_options["backboneLRMultiplier"] = saved
            json["options"] = saved_options
            let read = try TrainingState(data: try JSONSerialization.data(withJSONObject: json), file: "training-state.json")
            XCTAssertEqual(read.options.backboneLRMult, expected, strategy)
        }
    }
}
