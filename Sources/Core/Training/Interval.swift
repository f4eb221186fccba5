import Foundation

/// A closed range of numbers as an option gives it, `MIN,MAX` (`--crop-scale 0.25,1`). Kept as
/// two plain fields so a saved run state that holds MIN > MAX decodes and is then refused by
/// validation with the option's name, as the command line's value would be.
public struct Interval: Codable, Equatable, Sendable, CustomStringConvertible {
    public var lower: Double
    public var upper: Double

    public init(_ lower: Double, _ upper: Double) {
        self.lower = lower
        self.upper = upper
    }

    /// `MIN,MAX`, two numbers separated by a comma; nil for anything else.
    public init?(parsing text: String) {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false)
        guard parts.count == 2,
              let lower = Double(parts[0].trimmingCharacters(in: .whitespaces)),
              let upper = Double(parts[1].trimmingCharacters(in: .whitespaces)) else { return nil }
        self.init(lower, upper)
    }

    /// Whether both ends are finite, `lower <= upper`, and both lie in `bounds`, the lower end
    /// above `bounds.lowerBound` when `openBelow`.
    public func isOrdered(within bounds: ClosedRange<Double>, openBelow: Bool) -> Bool {
        lower.isFinite && upper.isFinite && lower <= upper && bounds.contains(lower) && bounds.contains(upper)
            && (!openBelow || lower > bounds.lowerBound)
    }

    /// The range; `lower <= upper` must hold (validated options).
    public var range: ClosedRange<Double> { lower...upper }

    public var description: String { "\(lower),\(upper)" }
}
