import Foundation
import XCTest
@testable import FineTuneCore

/// The run folder: the commit of the files `--resume` reads, the state read back and checked
/// like the command line, names derived rather than read, and no other run lost.
final class TrainingRunFolderTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("finetune-runfolder-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    func state(generation: Int, bestAccuracy: Double) -> TrainingState {
        var s = TrainingState(options: TrainingOptions(backbone: "mobilenet-v2", data: "/data/photos", output: dir.path))
        s.generation = generation
        s.epochInStage = generation
        s.globalStep = generation * 4
        s.bestAccuracy = bestAccuracy
        s.bestValue = bestAccuracy
        s.bestEpoch = generation
        return s
    }

    /// Commit `generation` of a run folder: best, last, optimizer, the weight average and state, each telling its generation.
    func commit(_ folder: RunFolder, generation: Int, crashAfter files: Int = .max) throws {
        let s = state(generation: generation, bestAccuracy: Double(generation) / 10)
        let optimizer = OptimizerState(kind: "adam", stepCount: generation,
                                       parameters: ["w": .init(step: generation, buffers: ["exp_avg": [Float(generation)], "exp_avg_sq": [1]])])
        struct Crash: Error {}
        try folder.commit { staged in
            let urls = RunFolder.committed.map(staged)
            let writes: [(URL) throws -> Void] = [
                { try SafeTensorsWriter.write([NamedTensor(name: "w", shape: [1], values: [Float(generation)])], to: $0) },
                { try SafeTensorsWriter.write([NamedTensor(name: "w", shape: [1], values: [Float(generation)])], to: $0) },
                { try optimizer.write(to: $0, generation: generation) },
                { try SafeTensorsWriter.write([NamedTensor(name: "w", shape: [1], values: [Float(generation)])], to: $0) },
                { try AtomicFile.write(try s.encoded(), to: $0) },
            ]
            for (i, write) in writes.enumerated() {
                if i == files { throw Crash() }
                try write(urls[i])
            }
        }
    }

    /// What a resumed run reads: the state, and the generation of each tensor file.
    func read(_ folder: RunFolder) throws -> (state: TrainingState, last: Float, best: Float, optimizer: OptimizerState) {
        try folder.recover()
        let s = try TrainingState(contentsOf: folder.url(.state))
        let last = try SafeTensorsFile(contentsOf: folder.url(.last)).tensors[0].values[0]
        let best = try SafeTensorsFile(contentsOf: folder.url(.best)).tensors[0].values[0]
        return (s, last, best, try OptimizerState(contentsOf: folder.url(.optimizer), generation: s.generation))
    }

    func testACrashAnywhereInACommitLeavesOneWholeGeneration() throws {
        // Before the commit point (some files staged): the previous commit, whole.
        for files in 0..<RunFolder.committed.count {
            let folder = RunFolder(dir.appendingPathComponent("before-\(files)"))
            try FileManager.default.createDirectory(at: folder.url, withIntermediateDirectories: true)
            try commit(folder, generation: 1)
            XCTAssertThrowsError(try commit(folder, generation: 2, crashAfter: files))
            try Data("half".utf8).write(to: folder.url.appendingPathComponent(".report.html.12.34.tmp"))
            let r = try read(folder)
            XCTAssertEqual([r.state.generation, Int(r.last), Int(r.best), r.optimizer.stepCount], [1, 1, 1, 1])
            XCTAssertFalse(FileManager.default.fileExists(atPath: folder.url.appendingPathComponent(".report.html.12.34.tmp").path))
            XCTAssertEqual(r.state.bestAccuracy, 0.1, "the best accuracy is the best file's")
            XCTAssertFalse(FileManager.default.fileExists(atPath: folder.staging.path))
        }
        // After the commit point (the files in `.commit`), killed when `moved` of them were in place:
        // the new commit, whole, once recovered.
        for moved in 0...RunFolder.committed.count {
            let folder = RunFolder(dir.appendingPathComponent("after-\(moved)"))
            let scratch = RunFolder(dir.appendingPathComponent("scratch-\(moved)"))
            for f in [folder, scratch] { try FileManager.default.createDirectory(at: f.url, withIntermediateDirectories: true) }
            try commit(folder, generation: 1)
            try commit(scratch, generation: 2)
            try FileManager.default.createDirectory(at: folder.pending, withIntermediateDirectories: false)
            for (i, file) in RunFolder.committed.enumerated() {
                let target = i < moved ? folder.url(file) : folder.pending.appendingPathComponent(file.rawValue)
                XCTAssertEqual(rename(scratch.url(file).path, target.path), 0)
            }
            let r = try read(folder)
            XCTAssertEqual([r.state.generation, Int(r.last), Int(r.best), r.optimizer.stepCount], [2, 2, 2, 2], "moved \(moved)")
            XCTAssertEqual(r.state.bestAccuracy, 0.2)
            XCTAssertFalse(FileManager.default.fileExists(atPath: folder.pending.path))
        }
    }

    func testOptimizerFileOfAnotherCommitIsRefused() throws {
        let url = dir.appendingPathComponent("optimizer.safetensors")
        try OptimizerState(kind: "sgd", stepCount: 1, parameters: [:]).write(to: url, generation: 3)
        XCTAssertThrowsError(try OptimizerState(contentsOf: url, generation: 4)) { error in
            XCTAssertTrue("\(error)".contains("mixes files of two saves"), "\(error)")
        }
        let state = OptimizerState(kind: "adamw", stepCount: 7, parameters: [
            "a.weight": .init(step: 7, buffers: ["exp_avg": [1, 2], "exp_avg_sq": [3, 4]]),
            "b.bias": .init(step: 2, buffers: ["exp_avg": [5], "exp_avg_sq": [6]]),
        ])
        try state.write(to: url, generation: 9)
        XCTAssertEqual(try OptimizerState(contentsOf: url, generation: 9), state)
    }

    /// Every field of a tampered state is an error naming the file and the field, never a crash.
    func testTamperedStateFieldsAreRefusedByName() throws {
        let good = state(generation: 2, bestAccuracy: 0.5)
        let file = dir.appendingPathComponent("training-state.json")
        func problem(_ edit: (inout [String: Any]) -> Void) throws -> String {
            var object = try XCTUnwrap(JSONSerialization.jsonObject(with: try good.encoded()) as? [String: Any])
            edit(&object)
            do {
                let state = try TrainingState(data: try JSONSerialization.data(withJSONObject: object), file: file.path)
                try state.checkProgress(stageEpochs: [5, 10], batches: 4, file: file.path)
                return "accepted"
            } catch let error as TrainingError {
                return "\(error)"
            }
        }
        func option(_ key: String, _ value: Any) -> (inout [String: Any]) -> Void {
            { o in var options = o["options"] as! [String: Any]; options[key] = value; o["options"] = options }
        }
        XCTAssertEqual(try problem { _ in }, "accepted")
        let cases: [(String, (inout [String: Any]) -> Void)] = [
            ("options: --batch-size", option("batchSize", 0)),
            ("options: --batch-size", option("batchSize", -3)),
            ("options: the logging interval", option("logEvery", 0)),
            ("options: --workers", option("workers", 0)),
            ("options: --threads", option("threads", 100_000)),
            ("options: --cache-features", option("cacheFeatures", -1)),
            ("options: --clip-grad", option("clipGrad", 0)),
            ("options: --clip-grad", option("clipGrad", -2.5)),
            ("options: --accumulate", option("accumulate", 0)),
            ("options: --accumulate", option("accumulate", 1 << 40)),
            ("batchInEpoch 1 is inside a step of 2 accumulated batches", { o in option("accumulate", 2)(&o); o["batchInEpoch"] = 1 }),
            ("globalStep 8 is more than the 4 steps", option("accumulate", 2)),
            ("options: --cache-features", option("cacheFeatures", 1 << 40)),
            ("options: --input-size", option("inputSize", 1 << 32)),
            ("options: --head", option("head", "mlp:1000000000")),
            ("options: --epochs", { o in option("epochs", 0)(&o); option("strategy", "full")(&o) }),
            ("options: --class-weights", option("classWeights", ["given": ["file": "w.txt", "weights": ["cat": -1]]])),
            ("options: --class-weights", option("classWeights", ["given": ["file": "w.txt", "weights": [String: Any]()]])),
            ("options: --class-weights", option("classWeights", ["given": ["file": "w.txt", "weights": ["a\u{1b}": 1]]])),
            ("not a training state of this finetune (options.classWeights", option("classWeights", ["uniform": [String: Any]()])),
            ("options.backbone", option("backbone", "")),
            ("stage", { $0["stage"] = -1 }),
            ("stage 7 is past", { $0["stage"] = 7 }),
            ("epochInStage", { $0["epochInStage"] = -2 }),
            ("epochInStage 6 is past", { $0["epochInStage"] = 6 }),
            ("batchInEpoch", { $0["batchInEpoch"] = -1 }),
            ("batchInEpoch 5 is past", { $0["batchInEpoch"] = 5 }),
            ("globalStep", { $0["globalStep"] = 1 << 50 }),
            ("epochCorrect", { $0["epochCorrect"] = 3 }),
            ("bestAccuracy", { $0["bestAccuracy"] = 2.5 }),
            ("bestEpoch 9 is past", { $0["bestEpoch"] = 9 }),
            ("bestEpoch", { $0["bestEpoch"] = NSNull() }),
            ("bestValue must be a value of validation accuracy", { $0["bestValue"] = 1.5 }),
            ("bestValue and bestEpoch", { $0["bestValue"] = NSNull() }),
            ("generation", { $0["generation"] = 0 }),
            ("finished", { $0["finished"] = true }),
            ("not a training state of this finetune (stage is missing)", { $0["stage"] = nil }),
            ("not a training state of this finetune (generation is missing); an earlier finetune wrote it",
             { $0["generation"] = nil; $0["optimizer"] = ["kind": "adam"] }),
            ("not a training state of this finetune (stage:", { $0["stage"] = "one" }),
            ("sessions[1] must not end before it starts", { $0["sessions"] = [["start": 10, "end": 20], ["start": 30, "end": 25]] }),
            ("sessions[0] start and end", { $0["sessions"] = [["start": -5, "end": 20]] }),
            ("sessions must list at most", { $0["sessions"] = Array(repeating: ["start": 1, "end": 2], count: Limits.runSessions + 1) }),
            ("commandLine must be at most", { $0["commandLine"] = [String(repeating: "x", count: Limits.commandLineBytes)] }),
        ]
        for (expected, edit) in cases {
            let message = try problem(edit)
            XCTAssertTrue(message.hasPrefix(file.path + ": " + expected), "\(expected): \(message)")
        }
    }

    /// A state written before `--best-metric` chose by accuracy: its best value is its best accuracy.
    func testStateWithoutBestMetricGoesByAccuracy() throws {
        var object = try XCTUnwrap(JSONSerialization.jsonObject(with: try state(generation: 2, bestAccuracy: 0.5).encoded()) as? [String: Any])
        object["bestValue"] = nil
        var options = try XCTUnwrap(object["options"] as? [String: Any])
        options["bestMetric"] = nil
        object["options"] = options
        let read = try TrainingState(data: try JSONSerialization.data(withJSONObject: object), file: "training-state.json")
        XCTAssertEqual(read.options.bestMetric, .accuracy)
        XCTAssertEqual(read.bestValue, 0.5)
    }

    /// A state written before the sessions and the command line were kept reads with none.
    func testStateWithoutSessionsOrCommandLineReadsWithNone() throws {
        var object = try XCTUnwrap(JSONSerialization.jsonObject(with: try state(generation: 2, bestAccuracy: 0.5).encoded()) as? [String: Any])
        object["sessions"] = nil
        object["commandLine"] = nil
        let read = try TrainingState(data: try JSONSerialization.data(withJSONObject: object), file: "training-state.json")
        XCTAssertEqual(read.sessions, [])
        XCTAssertEqual(read.commandLine, [])
        XCTAssertEqual(read.generation, 2)
    }

    /// Sessions sum to the run's wall time; beyond the limit the earliest are joined, the sum kept.
    func testSessionsSumAndStayBounded() {
        var s = state(generation: 1, bestAccuracy: 0.5)
        for i in 0..<(Limits.runSessions + 5) {
            s.startSession(at: Double(100 * i))
            s.sessions[s.sessions.count - 1].end = Double(100 * i + 7)
        }
        XCTAssertEqual(s.sessions.count, Limits.runSessions)
        XCTAssertEqual(s.sessions.seconds, Double(7 * (Limits.runSessions + 5)), accuracy: 1e-6)
        XCTAssertEqual(s.sessions[0].start, 0)
        XCTAssertEqual(s.sessions.last, RunSession(start: Double(100 * (Limits.runSessions + 4)), end: Double(100 * (Limits.runSessions + 4) + 7)))
        XCTAssertNoThrow(try s.checkFields(file: "training-state.json"))
    }

    /// The command line kept fits the limit the state is read back with.
    func testRecordedCommandLineFitsTheLimit() throws {
        XCTAssertEqual(TrainingState.recorded(commandLine: ["finetune", "train", "--lr", "0.01"]), ["finetune", "train", "--lr", "0.01"])
        let long = ["finetune"] + Array(repeating: String(repeating: "a", count: 1000), count: 100)
        var s = state(generation: 1, bestAccuracy: 0.5)
        s.commandLine = TrainingState.recorded(commandLine: long)
        XCTAssertLessThan(s.commandLine.count, long.count)
        XCTAssertEqual(s.commandLine.first, "finetune")
        XCTAssertNoThrow(try s.checkFields(file: "training-state.json"))
    }

    func testStateFileThatIsNotARegularSmallFileIsRefused() throws {
        let file = dir.appendingPathComponent("training-state.json")
        XCTAssertEqual(mkfifo(file.path, 0o644), 0)
        XCTAssertThrowsError(try TrainingState(contentsOf: file)) { XCTAssertTrue("\($0)".contains("not a regular file"), "\($0)") }
        try FileManager.default.removeItem(at: file)
        try Data(count: Limits.runStateBytes + 1).write(to: file)
        XCTAssertThrowsError(try TrainingState(contentsOf: file)) { XCTAssertTrue("\($0)".contains("bytes"), "\($0)") }
        XCTAssertEqual(mkfifo(RunFolder(dir).url(.last).path, 0o644), 0)
        XCTAssertThrowsError(try RunFolder(dir).regularFile(.last)) { XCTAssertTrue("\($0)".contains("not a regular file"), "\($0)") }
    }

    /// Names in the folder are derived: a backbone or dataset name cannot reach outside it.
    func testBestCopyNameStaysInsideTheFolder() {
        let name = RunFolder.bestCopyName(backbone: "../../victim", data: "/x/..", accuracy: 0.5)
        XCTAssertFalse(name.contains("/"), name)
        XCTAssertTrue(name.hasSuffix(".0.5000.safetensors"), name)
    }

    /// --overwrite removes the other run's files, its accuracy-named copy included, and nothing else.
    func testRemovePreviousRunRemovesOnlyTheRunsFiles() throws {
        let folder = RunFolder(dir)
        try commit(folder, generation: 3)
        let copy = RunFolder.bestCopyName(backbone: "mobilenet-v2", data: "/data/photos", accuracy: 0.3)
        for name in [copy, "notes.txt", "other.0.9000.safetensors", "metrics.jsonl", "report.html"] {
            try Data("x".utf8).write(to: dir.appendingPathComponent(name))
        }
        XCTAssertEqual(folder.runMarker(), "best.safetensors")
        folder.removePreviousRun()
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted(), ["notes.txt", "other.0.9000.safetensors"])
    }
}
