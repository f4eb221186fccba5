import Foundation

/// What `--resume` needs beside `last.safetensors`: where the run stopped, the optimiser's
/// moments, and the best result so far. Written atomically to `DIR/training-state.json`
/// after every epoch and on interruption.
public struct TrainingState: Codable, Sendable {
    public static let fileName = "training-state.json"

    public var options: TrainingOptions
    /// Index of the stage in progress.
    public var stage: Int
    /// Epochs finished within that stage.
    public var epochInStage: Int
    /// Batches finished within the epoch in progress (non-zero after an interruption).
    public var batchInEpoch: Int
    /// Optimiser steps so far, across stages.
    public var globalStep: Int
    /// Running training sums of the epoch in progress: loss * images, correct, images.
    public var epochLossSum: Double
    public var epochCorrect: Int
    public var epochSeen: Int
    public var bestAccuracy: Double?
    public var bestEpoch: Int?
    public var bestFile: String?
    /// Epochs of the current stage since validation accuracy last improved.
    public var epochsWithoutImprovement: Int
    /// The optimiser's moments in the stage in progress; nil at a stage's start.
    public var optimizer: OptimizerState?
    public var finished: Bool

    public func write(to dir: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try AtomicFile.write(try encoder.encode(self), to: dir.appendingPathComponent(Self.fileName))
    }

    public static func read(from dir: URL) throws -> TrainingState {
        let url = dir.appendingPathComponent(fileName)
        guard let data = try? Data(contentsOf: url) else {
            throw TrainingError.resume("\(url.path) is missing: the folder holds no run to resume (train with --output first)")
        }
        do { return try JSONDecoder().decode(TrainingState.self, from: data) } catch {
            // A state written before an option existed resumes with that option's default.
            if let completed = try? withDefaultOptions(data), let state = try? JSONDecoder().decode(TrainingState.self, from: completed) {
                return state
            }
            throw TrainingError.resume("\(url.path) is not a valid training state (\(error))")
        }
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
}

/// Why training stopped early or could not start.
public enum TrainingError: Error, CustomStringConvertible {
    case data(String)
    case resume(String)
    case diverged(String)

    public var description: String {
        switch self {
        case .data(let m), .resume(let m), .diverged(let m): return m
        }
    }
}
