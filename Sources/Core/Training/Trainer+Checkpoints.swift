import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Checkpoints: one commit per epoch (and on interruption) of `last.safetensors`,
/// the optimiser's state, `training-state.json` and, on each improvement, `best.safetensors`;
/// the accuracy-named copy of the best model when the run finishes; the folder's lifetime.
extension Trainer {
    /// The model as a model file, with where it came from.
    /// - Parameter weights: the model saved; the trained one unless the weight average's.
    func modelFile(epoch: Int, stage: Stage, metrics: [String: Double], weights: Model? = nil) -> ModelFile {
        let created = ISO8601DateFormatter().string(from: Date())
        var file = ModelFile(backbone: backbone, classes: classes,
                             provenance: Provenance(command: "train", source: pretrained, strategy: options.strategy.rawValue,
                                                    stage: stage.name, epoch: epoch, metrics: metrics, created: created),
                             tensors: (weights ?? model).namedTensors())
        file.head = (try? HeadSpec(parsing: options.head))?.description ?? "linear"
        let size = graph.nodes[0].outputShape.height
        file.inputSize = size
        file.evalResize = Int((Double(size) * Double(backbone.evalResize) / Double(backbone.inputSize)).rounded())
        return file
    }

    /// Commits the run's state (see `RunFolder`): `last.safetensors` from the model as it is,
    /// the optimiser's state, `best` when the epoch improved, and `state` (counters, best so far,
    /// the length of metrics.jsonl) and the weight average inside a stage that keeps one, all together.
    func commit(epoch: Int, stage: Stage, optimizer: OptimizerState, best: ModelFile?, average: ModelEMA? = nil) throws {
        state.generation += 1
        state.metricsBytes = metrics.size
        state.sessions[state.sessions.count - 1].end = Date().timeIntervalSince1970
        let last = modelFile(epoch: epoch, stage: stage, metrics: [:])
        let averaged = average.map { modelFile(epoch: epoch, stage: stage, metrics: ["ema_decay": Double($0.decay)], weights: $0.model) }
        let saved = state
        try folder.commit { staged in
            if let best { try best.write(to: staged(.best)) }
            try last.write(to: staged(.last))
            try averaged?.write(to: staged(.ema))
            try optimizer.write(to: staged(.optimizer), generation: saved.generation)
            try AtomicFile.write(try saved.encoded(), to: staged(.state))
        }
        committed = true
    }

    /// Creates the output folder when training starts (so a run that fails before leaves none)
    /// and, with `--overwrite`, removes what another run wrote there.
    func prepareFolder() throws {
        if !FileManager.default.fileExists(atPath: folder.path) {
            do { try FileManager.default.createDirectory(at: folder.url, withIntermediateDirectories: true) } catch {
                throw TrainingError.output("\(folder.path): cannot create the output folder (\(error.localizedDescription))")
            }
            createdFolder = true
        } else if overwrite && !committed {
            folder.removePreviousRun()
        }
    }

    /// After a failure: removes the folder again when this run created it and committed nothing.
    func removeFolderIfUnused() {
        guard createdFolder, !committed else { return }
        folder.removePreviousRun()
        rmdir(folder.path)  // only when empty: anything else put there meanwhile stays
    }

    /// The copy of `best.safetensors` named with its accuracy, written when the run has finished.
    func writeBestCopy() throws {
        guard let accuracy = state.bestAccuracy else { return }
        let best = try Data(contentsOf: folder.url(.best))
        let name = RunFolder.bestCopyName(backbone: backbone.name, data: options.data, accuracy: accuracy)
        try AtomicFile.write(best, to: folder.url.appendingPathComponent(name))
    }
}
