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
    /// Seconds since the run started.
    public var elapsed: Double

    public init(kind: Kind, stage: String, epoch: Int, step: Int, loss: Double, accuracy: Double,
                learning_rate: Double, images_per_second: Double, val_loss: Double? = nil,
                val_accuracy: Double? = nil, elapsed: Double) {
        self.kind = kind; self.stage = stage; self.epoch = epoch; self.step = step
        self.loss = loss; self.accuracy = accuracy; self.learning_rate = learning_rate
        self.images_per_second = images_per_second; self.val_loss = val_loss
        self.val_accuracy = val_accuracy; self.elapsed = elapsed
    }
}
