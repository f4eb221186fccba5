import Foundation

/// How the learning rate changes over a stage's optimizer steps, with PyTorch's
/// `torch.optim.lr_scheduler` formulas. `step` counts optimizer steps from 0 (the learning rate
/// of the first update); `T` is the stage's total number of steps.
///
///     constant:  lr
///     cosine:    minLR + (lr - minLR) * (1 + cos(pi * step / T)) / 2       (CosineAnnealingLR)
///     step:      lr * gamma^floor(step / every)                            (StepLR)
///     oneCycle:  OneCycleLR, cos annealing, two phases: from lr / divFactor up to lr over the
///                first pctStart * T - 1 steps, then down to lr / divFactor / finalDivFactor
///                at step T - 1. (PyTorch's momentum cycling is not reproduced.)
///
/// With `warmupSteps = W > 0` the schedule is torch's `SequentialLR([LinearLR, schedule],
/// milestones: [W])`: for step < W the rate is `lr * (f + (1 - f) * step / W)` with
/// `f = warmupStartFactor`, then the schedule runs as above on `step - W` over `T - W` steps.
/// Steps past the end keep the last rate.
public struct LearningRateSchedule: Equatable, Sendable, CustomStringConvertible {
    public enum Shape: Equatable, Sendable {
        case constant
        /// Cosine annealing to the absolute rate `minLR` (torch's `eta_min`).
        case cosine(minLR: Float)
        /// Multiply by `gamma` every `every` steps.
        case step(every: Int, gamma: Float)
        case oneCycle(pctStart: Double, divFactor: Double, finalDivFactor: Double)

        public static let oneCycleDefault = Shape.oneCycle(pctStart: 0.3, divFactor: 25, finalDivFactor: 1e4)
    }

    /// The forms `init(parsing:)` reads, as the help, the errors and the README give them.
    public static let syntax = "constant, cosine[:MIN_LR], step:EVERY:GAMMA (every EVERY optimizer steps), "
        + "onecycle[:PCT_START[:DIV[:FINAL_DIV]]]"

    public var shape: Shape
    public var warmupSteps: Int
    /// The warm-up's first rate as a fraction of `lr` (torch LinearLR's `start_factor`).
    public var warmupStartFactor: Double

    public init(_ shape: Shape, warmupSteps: Int = 0, warmupStartFactor: Double = 1.0 / 3) {
        precondition(warmupSteps >= 0, "warm-up steps must not be negative")
        precondition(warmupStartFactor > 0 && warmupStartFactor <= 1, "warm-up start factor must be in (0, 1]")
        if case .step(let every, _) = shape { precondition(every > 0, "step schedule period must be positive") }
        self.shape = shape
        self.warmupSteps = warmupSteps
        self.warmupStartFactor = warmupStartFactor
    }

    /// Parses the command line's schedule text:
    ///
    ///     constant                      the same rate throughout
    ///     cosine[:MIN_LR]               cosine annealing to MIN_LR (default 0)
    ///     step:EVERY:GAMMA              multiply by GAMMA every EVERY steps, e.g. step:1000:0.1
    ///     onecycle[:PCT_START[:DIV[:FINAL_DIV]]]   defaults 0.3, 25, 1e4
    public init(parsing text: String, warmupSteps: Int = 0, warmupStartFactor: Double = 1.0 / 3) throws {
        let parts = text.lowercased().split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        let args = parts.dropFirst()
        func number(_ i: Int, _ what: String) throws -> Double {
            guard let v = Double(parts[i]), v.isFinite else {
                throw ScheduleError.badNumber(text: text, field: what, value: parts[i])
            }
            return v
        }
        let shape: Shape
        switch parts[0] {
        case "constant" where args.isEmpty:
            shape = .constant
        case "cosine" where args.count <= 1:
            let minLR = args.isEmpty ? 0 : try number(1, "MIN_LR")
            guard minLR >= 0 else { throw ScheduleError.badNumber(text: text, field: "MIN_LR", value: parts[1]) }
            shape = .cosine(minLR: Float(minLR))
        case "step" where args.count == 2:
            guard let every = Int(parts[1]), every > 0 else {
                throw ScheduleError.badNumber(text: text, field: "EVERY (a positive whole number)", value: parts[1])
            }
            let gamma = try number(2, "GAMMA")
            guard gamma > 0 else { throw ScheduleError.badNumber(text: text, field: "GAMMA", value: parts[2]) }
            shape = .step(every: every, gamma: Float(gamma))
        case "onecycle" where args.count <= 3:
            let pct = args.count >= 1 ? try number(1, "PCT_START") : 0.3
            let div = args.count >= 2 ? try number(2, "DIV") : 25
            let finalDiv = args.count >= 3 ? try number(3, "FINAL_DIV") : 1e4
            guard pct > 0 && pct < 1 else { throw ScheduleError.badNumber(text: text, field: "PCT_START (in (0, 1))", value: parts[1]) }
            guard div > 0, finalDiv > 0 else { throw ScheduleError.badNumber(text: text, field: "DIV and FINAL_DIV", value: text) }
            shape = .oneCycle(pctStart: pct, divFactor: div, finalDivFactor: finalDiv)
        default:
            throw ScheduleError.unknown(text)
        }
        self.init(shape, warmupSteps: warmupSteps, warmupStartFactor: warmupStartFactor)
    }

    /// The text `init(parsing:)` reads back (warm-up excluded).
    public var description: String {
        switch shape {
        case .constant: return "constant"
        case .cosine(let minLR): return minLR == 0 ? "cosine" : "cosine:\(minLR)"
        case .step(let every, let gamma): return "step:\(every):\(gamma)"
        case .oneCycle(let p, let d, let f): return "onecycle:\(p):\(d):\(f)"
        }
    }

    /// The learning rate of optimizer step `step` (from 0) of a stage of `totalSteps` steps.
    /// - Parameters:
    ///   - baseLR: the rate the schedule scales (the peak for one-cycle); each parameter group
    ///     (backbone, head) calls this with its own.
    public func learningRate(step: Int, baseLR: Float, totalSteps: Int) -> Float {
        let step = max(0, step), base = Double(baseLR)
        if step < warmupSteps {
            let f = warmupStartFactor
            return Float(base * (f + (1 - f) * Double(step) / Double(warmupSteps)))
        }
        let t = step - warmupSteps, total = max(1, totalSteps - warmupSteps)
        switch shape {
        case .constant:
            return baseLR
        case .cosine(let minLR):
            let eta = Double(minLR), tt = Double(min(t, total))
            return Float(eta + (base - eta) * (1 + cos(Double.pi * tt / Double(total))) / 2)
        case .step(let every, let gamma):
            return Float(base * pow(Double(gamma), Double(t / every)))
        case .oneCycle(let pctStart, let divFactor, let finalDivFactor):
            let initial = base / divFactor, final = initial / finalDivFactor
            let peakStep = pctStart * Double(total) - 1, lastStep = Double(total - 1)
            let s = Double(min(t, total - 1))
            func anneal(_ from: Double, _ to: Double, _ pct: Double) -> Double {
                to + (from - to) / 2 * (cos(Double.pi * pct) + 1)
            }
            // torch divides by zero when a phase is empty; here an empty phase keeps its start.
            if s <= peakStep { return Float(peakStep > 0 ? anneal(initial, base, s / peakStep) : initial) }
            guard lastStep > peakStep else { return baseLR }
            return Float(anneal(base, final, (s - peakStep) / (lastStep - peakStep)))
        }
    }
}

public enum ScheduleError: Error, CustomStringConvertible, Equatable {
    case unknown(String)
    case badNumber(text: String, field: String, value: String)

    public var description: String { "\(problem); accepted: \(LearningRateSchedule.syntax)" }

    /// What is wrong, without the accepted forms.
    public var problem: String {
        switch self {
        case .unknown(let text):
            return "unknown learning-rate schedule \"\(text)\""
        case .badNumber(let text, let field, let value):
            return "learning-rate schedule \"\(text)\": \(field) \"\(value)\" is not valid"
        }
    }
}
