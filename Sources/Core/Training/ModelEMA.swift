/// An exponential moving average of a model's weights, as timm's `ModelEmaV2` keeps it: after
/// every optimiser step each tensor of the model's state, parameters and batch-norm running
/// statistics alike, becomes `decay * ema + (1 - decay) * value`. The batch counts
/// (`num_batches_tracked`) are copied, as they are not averages of anything.
///
/// The averaged weights are a classifier of the same graph (`model`): they are validated,
/// saved (`ema.safetensors`) and may become `best.safetensors` like the plain ones.
final class ModelEMA {
    let decay: Float
    /// The averaged weights.
    let model: Model

    /// Starts the average at `source`'s weights.
    init(copying source: Model, decay: Double) throws {
        self.decay = Float(decay)
        model = try Model(graph: source.graph)
        model.copyValues(from: source)
    }

    /// Moves the average towards `source`'s weights (a model of the same graph).
    func update(from source: Model) {
        let d = decay, rest = 1 - decay
        for (average, current) in zip(model.slots, source.slots) {
            precondition(average.spec.name == current.spec.name && average.value.count == current.value.count,
                         "the average and the model must share their graph")
            let e = average.value.pointer, m = current.value.pointer
            if average.spec.name.hasSuffix("num_batches_tracked") {
                e.update(from: m, count: average.value.count)
                continue
            }
            for i in 0..<average.value.count { e[i] = d * e[i] + rest * m[i] }
        }
        model.markChanged()
    }
}
