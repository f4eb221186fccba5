/// One stretch of a run in one process: from the start (or a `--resume`) to its last commit,
/// in seconds since 1970. `TrainingState.sessions` lists them; their lengths summed are the
/// run's true wall time, the pauses between them left out.
public struct RunSession: Codable, Sendable, Equatable {
    public var start: Double
    public var end: Double

    public init(start: Double, end: Double) {
        self.start = start
        self.end = end
    }

    public var seconds: Double { end - start }

    /// Why the session cannot be one a run recorded, or nil.
    var problem: String? {
        guard start.isFinite, end.isFinite, start >= 0 else { return "start and end must be times in seconds since 1970" }
        return end >= start ? nil : "must not end before it starts"
    }
}

extension [RunSession] {
    /// The wall time of the sessions together.
    public var seconds: Double { reduce(0) { $0 + $1.seconds } }
}
