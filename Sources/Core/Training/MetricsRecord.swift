/// One line of `metrics.jsonl` (DESIGN §7): a logged training step or a finished epoch.
/// Key names are a contract with outside scripts.
public struct MetricsRecord: Codable, Equatable, Sendable {
    public enum Kind: String, Codable, Sendable { case step, epoch }
    public var kind: Kind
    /// "freeze" or "finetune" for two-stage runs; the strategy name otherwise.
    public var stage: String
    /// 1-based epoch, counted across stages.
    public var epoch: Int
    /// Optimiser steps so far, across stages.
    public var step: Int
    /// Mean training loss and accuracy: since the last step record, or over the epoch.
    public var loss: Double
    public var accuracy: Double
    public var learning_rate: Double
    public var images_per_second: Double
    /// Epoch records with a validation set.
    public var val_loss: Double?
    public var val_accuracy: Double?
    /// Epoch records: the validation set's balanced accuracy and macro-F1 (see `ConfusionMatrix`).
    public var val_balanced_accuracy: Double?
    public var val_macro_f1: Double?
    /// Epoch records of a run with `--ema`, in stages that keep the weight average: its validation results.
    public var ema_val_loss: Double?
    public var ema_val_accuracy: Double?
    public var ema_val_balanced_accuracy: Double?
    public var ema_val_macro_f1: Double?
    /// Wall-clock seconds the run has trained so far, summed over its sessions (a resumed run
    /// goes on from the time its last commit recorded).
    public var elapsed: Double
    /// Epoch records whose steps read images: what the loader's workers could supply, images
    /// per second of their CPU time times their number (next to `images_per_second`, whether
    /// decoding keeps the engine fed).
    public var data_images_per_second: Double?
    /// Epoch records: the head's learning rate at every step of the epoch, in order (the last
    /// one at `step`), so the report draws the schedule from every step, not only the logged ones.
    public var step_learning_rates: [Double]?

    public init(kind: Kind, stage: String, epoch: Int, step: Int, loss: Double, accuracy: Double,
                learning_rate: Double, images_per_second: Double, val_loss: Double? = nil,
                val_accuracy: Double? = nil, elapsed: Double) {
        self.kind = kind; self.stage = stage; self.epoch = epoch; self.step = step
        self.loss = loss; self.accuracy = accuracy; self.learning_rate = learning_rate
        self.images_per_second = images_per_second; self.val_loss = val_loss
        self.val_accuracy = val_accuracy; self.elapsed = elapsed
    }
}

extension MetricsRecord {
    /// Why the record cannot be a real one (a number out of its range), or nil. Records read back
    /// from a file are checked with it before they reach the report's charts.
    public var problem: String? {
        let numbers = [("loss", loss), ("accuracy", accuracy), ("learning_rate", learning_rate),
                       ("images_per_second", images_per_second), ("elapsed", elapsed),
                       ("val_loss", val_loss ?? 0), ("val_accuracy", val_accuracy ?? 0),
                       ("val_balanced_accuracy", val_balanced_accuracy ?? 0), ("val_macro_f1", val_macro_f1 ?? 0),
                       ("data_images_per_second", data_images_per_second ?? 0),
                       ("ema_val_loss", ema_val_loss ?? 0), ("ema_val_accuracy", ema_val_accuracy ?? 0),
                       ("ema_val_balanced_accuracy", ema_val_balanced_accuracy ?? 0), ("ema_val_macro_f1", ema_val_macro_f1 ?? 0)]
        if let (name, _) = numbers.first(where: { !$0.1.isFinite || $0.1 < 0 }) { return "\(name) must be a number >= 0" }
        if [accuracy, val_accuracy ?? 0, val_balanced_accuracy ?? 0, val_macro_f1 ?? 0, ema_val_accuracy ?? 0,
            ema_val_balanced_accuracy ?? 0, ema_val_macro_f1 ?? 0].contains(where: { $0 > 1 }) {
            return "accuracies and F1 must be fractions from 0 to 1"
        }
        if !(1...1_000_000).contains(epoch) { return "epoch must be from 1 to 1000000" }
        if !(0...(1 << 40)).contains(step) { return "step must be from 0 to 2^40" }
        if stage.isEmpty || stage.count > 64 { return "stage must be a stage name" }
        if let rates = step_learning_rates {
            if rates.count > min(step, Limits.stepsPerEpoch) { return "step_learning_rates must list at most the epoch's steps" }
            if rates.contains(where: { !$0.isFinite || $0 < 0 }) { return "step_learning_rates must be numbers >= 0" }
        }
        return nil
    }
}
