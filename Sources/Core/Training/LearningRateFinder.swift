import Foundation

/// Leslie Smith's learning-rate range test ("Cyclical Learning Rates for Training Neural
/// Networks", arXiv:1506.01186, section 3.3) as fastai v2 runs it: `Learner.lr_find`, its
/// `LRFinder` callback, the `Recorder`'s `AvgSmoothLoss` and the suggestion functions of
/// fastai/callback/schedule.py. This is the arithmetic: the sweep's rates, the smoothed loss,
/// the stop rule, the trimmed curve and the suggested rates. `Trainer+LearningRateFinder.swift`
/// takes the steps; tools/make_lr_find_fixtures.py checks this against fastai's own functions.
public struct LearningRateFinder: Sendable {
    /// The rates swept: step i (from 0) trains at start * (end / start)^(i / steps), fastai's
    /// `SchedExp` at pos = train_iter / num_it, for at most `steps` steps.
    public struct Sweep: Codable, Equatable, Sendable {
        public var startLR = 1e-7
        public var endLR = 10.0
        public var steps = 100

        public init(startLR: Double = 1e-7, endLR: Double = 10, steps: Int = 100) {
            self.startLR = startLR
            self.endLR = endLR
            self.steps = steps
        }

        public func learningRate(step: Int) -> Double {
            startLR * pow(endLR / startLR, Double(step) / Double(steps))
        }

        /// Throws `InvalidOption` naming the first value out of range, as the command line spells it.
        public func validate() throws {
            try InvalidOption.check(startLR.isFinite && startLR > 0 && startLR <= 1e6, "--start-lr", "a positive number up to 1e6")
            try InvalidOption.check(endLR.isFinite && endLR > startLR && endLR <= 1e6, "--end-lr",
                                    "a number above --start-lr (\(startLR)), up to 1e6")
            // Fewer steps leave too little curve once its first tenth and last 5 points are cut.
            try InvalidOption.check(steps, in: 10...100_000, "--steps")
        }
    }

    /// The loss after each step, smoothed as fastai's `AvgSmoothLoss(beta=0.98)`: an
    /// exponential moving average from 0 (`torch.lerp(loss, val, beta)`), debiased by dividing by
    /// 1 - beta^count.
    public struct SmoothedLoss: Sendable {
        public var beta = 0.98
        private var average = 0.0
        private var count = 0

        public init(beta: Double = 0.98) { self.beta = beta }

        /// Adds a step's loss; returns the smoothed loss so far.
        public mutating func add(_ loss: Double) -> Double {
            count += 1
            average = loss + beta * (average - loss)
            return average / (1 - pow(beta, Double(count)))
        }
    }

    /// One step of the sweep: its rate (the head's), its loss and the smoothed loss after it.
    public struct Point: Codable, Equatable, Sendable {
        public var learningRate: Double
        public var loss: Double
        public var smoothedLoss: Double
    }

    /// Why the sweep ended.
    public enum Stop: String, Sendable {
        /// All `steps` steps were taken.
        case completed
        /// The smoothed loss exceeded 4 times its best (fastai's `stop_div`), or became infinite.
        case diverged
        /// The loss was not a number; fastai records NaN and trains on, which changes nothing
        /// the suggestions see (see `curve`), so the sweep stops here.
        case notANumber
        /// Asked to stop (Ctrl-C) before the sweep ended.
        case interrupted
    }

    /// The suggestion functions fastai offers (`SuggestionMethod`), but `slide`.
    public enum Method: String, Codable, CaseIterable, Sendable {
        /// The middle of the longest stretch of falling loss (fastai's default since 2.5).
        case valley
        /// The steepest fall of the loss against log(rate).
        case steep
        /// A tenth of the rate at the lowest loss.
        case minimum
    }

    /// A suggested rate, and the point of the curve fastai marks for it (for `minimum`, the
    /// point at the lowest loss, ten times the suggestion).
    public struct Suggestion: Equatable, Sendable {
        public var method: Method
        public var learningRate: Double
        public var marked: (learningRate: Double, loss: Double)

        public static func == (a: Suggestion, b: Suggestion) -> Bool {
            a.method == b.method && a.learningRate == b.learningRate && a.marked == b.marked
        }
    }

    public let sweep: Sweep
    public private(set) var points: [Point] = []
    public private(set) var stop: Stop?
    private var smoothing = SmoothedLoss()
    private var best = Double.infinity

    public init(sweep: Sweep = Sweep()) { self.sweep = sweep }

    /// The rate of the next step.
    public var nextLearningRate: Double { sweep.learningRate(step: points.count) }

    /// Records the loss of the step just taken at `nextLearningRate`, as fastai's `Recorder`
    /// and `LRFinder.after_batch` do; returns whether the sweep goes on.
    @discardableResult
    public mutating func record(loss: Double) -> Bool {
        precondition(stop == nil, "the sweep has ended")
        let smoothed = smoothing.add(loss)
        points.append(Point(learningRate: nextLearningRate, loss: loss, smoothedLoss: smoothed))
        if smoothed < best { best = smoothed }
        if smoothed.isNaN {
            stop = .notANumber
        } else if smoothed > 4 * best || smoothed == .infinity {
            stop = .diverged
        } else if points.count >= sweep.steps {
            stop = .completed
        }
        return stop == nil
    }

    /// Ends the sweep before its stop rule did (Ctrl-C).
    public mutating func interrupt() { if stop == nil { stop = .interrupted } }

    /// The points the suggestions are computed on, as `lr_find` cuts the recorded curve:
    /// `[steps // 10 : -5]`, ending before its first NaN. A fastai sweep goes on through NaN
    /// losses to `steps` (NaN never exceeds 4 times the best), so after a NaN at step k its
    /// curve ends at min(k, steps - 5).
    public var curve: ArraySlice<Point> {
        let end = stop == .notANumber ? min(points.count - 1, sweep.steps - 5) : points.count - 5
        let start = sweep.steps / 10
        return end > start ? points[start..<end] : []
    }

    /// The curve fastai plots: every point but the last 5 (`plot_lr_find(skip_end=5)`).
    public var plotted: ArraySlice<Point> { points.dropLast(5) }

    /// The suggestion of `method` on `curve`; nil when the curve has fewer than 2 points.
    public func suggestion(_ method: Method) -> Suggestion? {
        let c = curve
        return Self.suggestion(method, learningRates: c.map(\.learningRate), losses: c.map(\.smoothedLoss))
    }

    /// Every method's suggestion, in `Method` order; empty when the curve is too short.
    public var suggestions: [Suggestion] { Method.allCases.compactMap(suggestion) }

    /// fastai's suggestion function `method` on a curve (rates ascending): its rate and the
    /// point it marks. nil with fewer than 2 points (fastai's functions fail there). Computed in
    /// double precision where fastai's tensors are float32, so two slopes or losses equal to
    /// float32's precision may be told apart differently.
    public static func suggestion(_ method: Method, learningRates lrs: [Double], losses: [Double]) -> Suggestion? {
        precondition(lrs.count == losses.count, "one loss per rate")
        guard lrs.count >= 2 else { return nil }
        func marked(_ i: Int) -> (Double, Double) { (lrs[i], losses[i]) }
        switch method {
        case .valley:
            let i = valleyIndex(losses)
            return Suggestion(method: method, learningRate: lrs[i], marked: marked(i))
        case .steep:
            // (losses[1:] - losses[:-1]) / (log lrs[1:] - log lrs[:-1]); the first of equal minima.
            let slopes = (0..<lrs.count - 1).map { (i: Int) -> Double in
                let rise: Double = losses[i + 1] - losses[i], run: Double = log(lrs[i + 1]) - log(lrs[i])
                return rise / run
            }
            let i = firstArgmin(slopes)
            return Suggestion(method: method, learningRate: lrs[i], marked: marked(i))
        case .minimum:
            let i = firstArgmin(losses)
            return Suggestion(method: method, learningRate: lrs[i] / 10, marked: marked(i))
        }
    }

    /// fastai's `valley`: the longest strictly decreasing subsequence of the losses (O(n²), as
    /// there), then the index `start + int(len / 3) + int(len / 6)` along it, about half-way,
    /// with its quirks kept: `start` is one before the subsequence's first index, and a
    /// negative index counts from the end, as Python's does.
    static func valleyIndex(_ losses: [Double]) -> Int {
        let n = losses.count
        var maxStart = 0, maxEnd = 0
        var lds = [Int](repeating: 1, count: n)
        for i in 1..<n {
            for j in 0..<i {
                if losses[i] < losses[j], lds[i] < lds[j] + 1 { lds[i] = lds[j] + 1 }
                if lds[maxEnd] < lds[i] {
                    maxEnd = i
                    maxStart = maxEnd - lds[maxEnd]
                }
            }
        }
        let sections = Double(maxEnd - maxStart) / 3
        let index = maxStart + Int(sections) + Int(sections / 2)
        return index < 0 ? index + n : index
    }

    /// The first index of the smallest value (torch's `argmin`); NaN never is.
    static func firstArgmin(_ values: [Double]) -> Int {
        var best = 0
        for i in values.indices where values[i] < values[best] || values[best].isNaN { best = i }
        return best
    }
}
