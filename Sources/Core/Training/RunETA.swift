import Foundation

/// The seconds left in a whole run, from what its epochs took so far. An epoch of a stage that
/// has finished one is expected to take as long as the last did (steps, caching and validation
/// together). A stage not yet timed is estimated from the network's measured inference time per
/// image: a frozen backbone's epoch passes every training and validation image through it once;
/// an epoch that trains the backbone costs about three times that per training image (forward,
/// then backward through activations and weights).
struct RunETA {
    /// Seconds per image of the whole network in inference: validation passes, caching and
    /// frozen steps measure it. nil until one has run.
    var inferenceSecondsPerImage: Double?
    /// Wall seconds of the last whole epoch of each stage, by stage index.
    var epochSeconds: [Int: Double] = [:]

    /// Folds in a measurement of `images` through the network in inference taking `seconds`.
    mutating func measuredInference(images: Int, seconds: Double) {
        guard images > 0, seconds > 0, seconds.isFinite else { return }
        inferenceSecondsPerImage = seconds / Double(images)
    }

    /// The expected seconds of one epoch of `stages[index]`, or nil when nothing says yet.
    func epochEstimate(_ index: Int, stages: [Stage], trainsBackbone: (Stage) -> Bool,
                       trainImages: Int, validationImages: Int) -> Double? {
        if let measured = epochSeconds[index] { return measured }
        guard let perImage = inferenceSecondsPerImage else { return nil }
        let trainCost = trainsBackbone(stages[index]) ? 3.0 : 1.0
        return perImage * (trainCost * Double(trainImages) + Double(validationImages))
    }

    /// Seconds left in the run: `epochLeft` for the epoch in progress of stage `stage` (with
    /// `epochsAfter` more epochs in that stage), then every later stage. Infinity when unknown.
    func remaining(stage: Int, epochLeft: Double, epochsAfter: Int, stages: [Stage], trainsBackbone: (Stage) -> Bool,
                   trainImages: Int, validationImages: Int) -> Double {
        var total = epochLeft
        for index in stage..<stages.count {
            let epochs = index == stage ? epochsAfter : stages[index].epochs
            guard epochs > 0 else { continue }
            guard let each = epochEstimate(index, stages: stages, trainsBackbone: trainsBackbone,
                                           trainImages: trainImages, validationImages: validationImages) else { return .infinity }
            total += Double(epochs) * each
        }
        return total
    }
}
