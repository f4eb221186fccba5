/// A value from outside (a command-line option, a library argument, an option read back from a
/// run folder) outside the range it accepts: the option, as the command line names it, and what
/// it accepts. Every command checks its numeric options through `check`, so each message reads
/// alike: "--batch-size must be an integer from 1 to 65536".
public struct InvalidOption: Error, CustomStringConvertible, Equatable {
    public var option: String
    public var accepted: String

    public init(option: String, accepted: String) {
        self.option = option
        self.accepted = accepted
    }

    public var description: String { "\(option) must be \(accepted)" }

    /// Throws naming `option` unless `ok`.
    public static func check(_ ok: Bool, _ option: String, _ accepted: String) throws {
        if !ok { throw InvalidOption(option: option, accepted: accepted) }
    }

    /// Throws naming `option` and `range` unless `range` holds `value`.
    /// - Parameter unit: appended to the range in the message, e.g. "pixels".
    public static func check(_ value: Int, in range: ClosedRange<Int>, _ option: String, unit: String? = nil) throws {
        try check(range.contains(value), option,
                  "an integer from \(range.lowerBound) to \(range.upperBound)" + (unit.map { " " + $0 } ?? ""))
    }

    /// Throws unless `value` is nil (the option left out) or in `range`.
    public static func check(_ value: Int?, in range: ClosedRange<Int>, _ option: String, unit: String? = nil) throws {
        if let value { try check(value, in: range, option, unit: unit) }
    }
}

/// The ranges several commands share.
public enum OptionRange {
    /// `--batch-size`, `--batch`.
    public static let batchSize = 1...Limits.batchSize
    /// `--input-size` and the side of any network input.
    public static let imageSide = Limits.minimumImageSide...Limits.imageSide
    /// `--threads`, `--workers`.
    public static let threads = 1...Limits.threads
    /// `--num-classes`, `--top-k`.
    public static let classes = 1...Limits.classes
}
