/// How the backbone's batch norms run in a training step where they or layers before them train.
public enum BatchNormMode: String, Codable, CaseIterable, Sendable {
    /// Batch statistics, the running ones updated with momentum (PyTorch's `train()`).
    case train
    /// The running statistics, never updated; scale and shift still train (PyTorch's `eval()`
    /// with trainable affine parameters). A pretrained backbone then computes in the stage's
    /// first step what it computed in the step before, and each step is cheaper.
    case frozen
}
