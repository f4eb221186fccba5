import Foundation

/// Where a run stands, for `--resume`: `DIR/training-state.json`, a small JSON beside
/// `last.safetensors` (the weights) and `optimizer.safetensors` (the optimiser's moments),
/// replaced together with them by one commit (see `RunFolder`).
///
/// It holds the options, the counters and the best result so far. The counters are also the
/// random state: every random draw derives from the seed and the epoch, sample or step number
/// (`SeededRandom`, `SplitMix64(seed:step)`), so a resumed run draws what an uninterrupted one
/// would. Every value read back is checked as the command line checks it (`init(data:file:)`,
/// then `checkProgress` against the run's plan): a tampered or damaged state is an error
/// naming the file and the field, never a crash.
public struct TrainingState: Codable, Sendable, Equatable {
    public var options: TrainingOptions
    /// Index of the stage in progress (the stage count once the run has finished).
    public var stage: Int
    /// Epochs finished within that stage.
    public var epochInStage: Int
    /// Batches finished within the epoch in progress (non-zero after an interruption): with
    /// `options.accumulate`, a multiple of it (a run stops between optimiser steps) or all of them.
    public var batchInEpoch: Int
    /// Optimiser steps so far, across stages.
    public var globalStep: Int
    /// Running training sums of the epoch in progress: loss * images, correct, images.
    public var epochLossSum: Double
    public var epochCorrect: Int
    public var epochSeen: Int
    /// Validation accuracy of `best.safetensors` and the epoch it is from (1-based, across stages).
    public var bestAccuracy: Double?
    public var bestEpoch: Int?
    /// The `options.bestMetric` value of `best.safetensors`, which later epochs must beat.
    public var bestValue: Double?
    /// True when `best.safetensors` holds the weight average (`--ema`); nil: the trained weights.
    public var bestFromAverage: Bool?
    /// Epochs of the current stage since the best metric last improved.
    public var epochsWithoutImprovement: Int
    public var finished: Bool
    /// Commits so far; `optimizer.safetensors` records the same number.
    public var generation: Int
    /// The length of `metrics.jsonl` at the commit: what lies past it is from an uncommitted epoch.
    public var metricsBytes: Int
    /// The run's start and each resume, up to their last commit (at most `Limits.runSessions`).
    public var sessions: [RunSession]
    /// The command that started the run, as the report shows it (empty when not known).
    public var commandLine: [String]

    /// The state at the start of a run.
    public init(options: TrainingOptions) {
        self.options = options
        stage = 0; epochInStage = 0; batchInEpoch = 0; globalStep = 0
        epochLossSum = 0; epochCorrect = 0; epochSeen = 0
        bestAccuracy = nil; bestEpoch = nil; bestValue = nil; epochsWithoutImprovement = 0
        finished = false; generation = 0; metricsBytes = 0
        sessions = []; commandLine = []
    }

    /// Starts a session at `time` (seconds since 1970): the run's first, or a resume. When the
    /// state already lists `Limits.runSessions`, the two earliest become one that starts with the
    /// first and lasts as long as both, so the wall time stays exact.
    public mutating func startSession(at time: Double) {
        if sessions.count >= Limits.runSessions {
            let joined = RunSession(start: sessions[0].start, end: sessions[0].start + sessions[0].seconds + sessions[1].seconds)
            sessions.replaceSubrange(0...1, with: [joined])
        }
        sessions.append(RunSession(start: time, end: time))
    }

    /// `arguments` as the state keeps them: those that fit in `Limits.commandLineBytes` (each
    /// counted with a separator), the rest left out.
    public static func recorded(commandLine arguments: [String]) -> [String] {
        var bytes = 0
        return Array(arguments.prefix { bytes += $0.utf8.count + 1; return bytes <= Limits.commandLineBytes })
    }

    func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        return try encoder.encode(self)
    }

    /// Reads and checks `url` (a regular file of at most `Limits.runStateBytes`).
    public init(contentsOf url: URL) throws {
        try self.init(data: try RunFolder.readFile(url, limit: Limits.runStateBytes), file: url.path)
    }

    /// Parses a state and checks every field on its own (`checkProgress` checks them against
    /// the run's plan). Errors read "FILE: FIELD PROBLEM".
    public init(data: Data, file: String) throws {
        let data = Self.migrated(data)
        let decoded: TrainingState
        do { decoded = try JSONDecoder().decode(TrainingState.self, from: data) } catch {
            // A state written before an option existed resumes with that option's default.
            guard let completed = try? Self.withDefaultOptions(data),
                  let state = try? JSONDecoder().decode(TrainingState.self, from: completed) else {
                let earlier = ((try? JSONSerialization.jsonObject(with: data)) as? [String: Any])?["optimizer"] != nil
                throw TrainingError.resume("\(file): not a training state of this finetune (\(Self.describe(error)))"
                    + (earlier ? "; an earlier finetune wrote it, with the optimizer state inside: train again with --overwrite" : ""))
            }
            decoded = state
        }
        self = decoded
        try checkFields(file: file)
    }

    /// States written before two-stage's second stage took `--backbone-lr-mult` saved the
    /// multiplier as `backboneLRMultiplier`, 0.1 unless given, for every strategy; only
    /// discriminative used it. It is carried over for discriminative runs and dropped for the
    /// others, so a resumed run trains as it began.
    ///
    /// States written before the sessions and the command line were kept read with none.
    ///
    /// States written before `--best-metric` chose by accuracy: their best value is the best accuracy.
    static func migrated(_ data: Data) -> Data {
        guard var state = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { return data }
        var changed = false
        if state["bestValue"] == nil, let accuracy = state["bestAccuracy"], !(accuracy is NSNull),
           (state["options"] as? [String: Any])?["bestMetric"] == nil {
            state["bestValue"] = accuracy
            changed = true
        }
        for key in ["sessions", "commandLine"] where state[key] == nil {
            state[key] = [Any]()
            changed = true
        }
        if var options = state["options"] as? [String: Any], let old = options.removeValue(forKey: "backboneLRMultiplier") {
            if options["strategy"] as? String == TrainingOptions.Strategy.discriminative.rawValue, options["backboneLRMult"] == nil {
                options["backboneLRMult"] = old
            }
            state["options"] = options
            changed = true
        }
        return changed ? (try? JSONSerialization.data(withJSONObject: state)) ?? data : data
    }

    /// The state's JSON with every option it lacks set to the default.
    static func withDefaultOptions(_ data: Data) throws -> Data {
        let defaults = try JSONEncoder().encode(TrainingOptions(backbone: "", data: "", output: ""))
        guard var state = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              let saved = state["options"] as? [String: Any],
              let options = try JSONSerialization.jsonObject(with: defaults) as? [String: Any] else { return data }
        state["options"] = options.merging(saved) { _, saved in saved }
        return try JSONSerialization.data(withJSONObject: state)
    }

    /// A decoding error in a line, naming the field.
    static func describe(_ error: Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): return "\(key.stringValue) is missing"
        case DecodingError.typeMismatch(_, let c), DecodingError.valueNotFound(_, let c), DecodingError.dataCorrupted(let c):
            let field = c.codingPath.map(\.stringValue).joined(separator: ".")
            return (field.isEmpty ? "" : field + ": ") + c.debugDescription
        default: return "\(error)"
        }
    }

    /// Every field in its range, alone: the options as the command line checks them, counters
    /// not negative and within what a run can reach.
    func checkFields(file: String) throws {
        func check(_ ok: Bool, _ field: String, _ problem: String) throws {
            if !ok { throw TrainingError.resume("\(file): \(field) \(problem)") }
        }
        do { try options.validate() } catch let invalid as TrainingOptions.Invalid {
            throw TrainingError.resume("\(file): options: \(invalid)")
        }
        try check(!options.backbone.isEmpty && options.backbone.count <= 256, "options.backbone", "must be a backbone name")
        try check(!options.data.isEmpty, "options.data", "must name the images")
        let most = 1 << 40  // far beyond any run, far from overflowing the sums made of them
        try check((0...16).contains(stage), "stage", "must be a stage index from 0 to 16")
        try check((0...100_000).contains(epochInStage), "epochInStage", "must be from 0 to 100000")
        try check((0...most).contains(batchInEpoch), "batchInEpoch", "must not be negative")
        try check((0...most).contains(globalStep), "globalStep", "must not be negative")
        try check(epochLossSum.isFinite && epochLossSum >= 0, "epochLossSum", "must be a number >= 0")
        try check((0...most).contains(epochSeen), "epochSeen", "must not be negative")
        try check((0...epochSeen).contains(epochCorrect), "epochCorrect", "must be from 0 to epochSeen (\(epochSeen))")
        try check(bestAccuracy.map { $0.isFinite && (0...1).contains($0) } ?? true, "bestAccuracy", "must be a fraction from 0 to 1")
        try check(bestEpoch.map { (1...1_000_000).contains($0) } ?? true, "bestEpoch", "must be an epoch from 1")
        try check((bestAccuracy == nil) == (bestEpoch == nil), "bestEpoch", "and bestAccuracy must be given together")
        try check(bestValue.map(options.bestMetric.accepts) ?? true, "bestValue", "must be a value of \(options.bestMetric.title)")
        try check((bestValue == nil) == (bestEpoch == nil), "bestValue", "and bestEpoch must be given together")
        try check(bestFromAverage == nil || (bestFromAverage == true && bestEpoch != nil && options.ema != nil), "bestFromAverage",
                  "must be true or absent, and true only for a best epoch of a run with --ema")
        try check((0...100_000).contains(epochsWithoutImprovement), "epochsWithoutImprovement", "must be from 0 to 100000")
        try check((1...most).contains(generation), "generation", "must be a commit number from 1")
        try check((0...most).contains(metricsBytes), "metricsBytes", "must not be negative")
        try check(sessions.count <= Limits.runSessions, "sessions", "must list at most \(Limits.runSessions)")
        for (i, session) in sessions.enumerated() {
            if let problem = session.problem { try check(false, "sessions[\(i)]", problem) }
        }
        try check(commandLine.reduce(0) { $0 + $1.utf8.count + 1 } <= Limits.commandLineBytes, "commandLine",
                  "must be at most \(Limits.commandLineBytes) bytes")
    }

    /// The counters against the run's plan: `stageEpochs` (epochs of each stage) and `batches`
    /// (batches per epoch, `options.accumulate` of them to an optimiser step), so that every
    /// index the loop forms from them is in range.
    func checkProgress(stageEpochs: [Int], batches: Int, file: String) throws {
        func check(_ ok: Bool, _ field: String, _ problem: String) throws {
            if !ok { throw TrainingError.resume("\(file): \(field) \(problem)") }
        }
        try check(stage <= stageEpochs.count, "stage", "\(stage) is past the run's \(stageEpochs.count) stage(s)")
        try check(finished == (stage == stageEpochs.count), "finished", "disagrees with stage \(stage) of \(stageEpochs.count)")
        let inStage = stage < stageEpochs.count ? stageEpochs[stage] : 0
        try check(epochInStage <= inStage, "epochInStage", "\(epochInStage) is past the stage's \(inStage) epochs")
        try check(batchInEpoch <= batches, "batchInEpoch", "\(batchInEpoch) is past the epoch's \(batches) batches")
        try check(batchInEpoch % options.accumulate == 0 || batchInEpoch == batches, "batchInEpoch",
                  "\(batchInEpoch) is inside a step of \(options.accumulate) accumulated batches")
        try check(epochsWithoutImprovement <= epochInStage, "epochsWithoutImprovement", "is more than epochInStage (\(epochInStage))")
        let images = CheckedSize.product(batchInEpoch, options.batchSize) ?? Int.max
        try check(epochSeen <= images, "epochSeen", "\(epochSeen) is more than \(batchInEpoch) batches hold")
        let done = stageEpochs.prefix(stage).reduce(0, +) + epochInStage
        try check((bestEpoch ?? 0) <= done, "bestEpoch", "\(bestEpoch ?? 0) is past the \(done) finished epoch(s)")
        let steps = CheckedSize.sum(CheckedSize.product(done, options.steps(perEpochOf: batches)) ?? Int.max,
                                    options.steps(perEpochOf: batchInEpoch)) ?? Int.max
        try check(globalStep <= steps, "globalStep", "\(globalStep) is more than the \(steps) steps of the finished epochs")
    }
}

/// Why training stopped early or could not start.
public enum TrainingError: Error, CustomStringConvertible {
    case data(String)
    case resume(String)
    case diverged(String)
    /// The output folder cannot be used (it holds another run, or cannot be written).
    case output(String)
    /// Asked to stop before anything was trained or committed (Ctrl-C in `--lr auto`'s range test).
    case interrupted(String)

    public var description: String {
        switch self {
        case .data(let m), .resume(let m), .diverged(let m), .output(let m), .interrupted(let m): return m
        }
    }
}
