/// Size arithmetic on numbers that came from outside (file headers, plugins, run folders):
/// every product, sum and range is checked for overflow and sign, so a crafted value is
/// refused before it becomes a pointer offset or an allocation. Each returns nil when the
/// result does not exist; the caller throws an error that names the file and the value.
public enum CheckedSize {
    /// `a * b` for non-negative operands, or nil on a negative operand or overflow.
    @inlinable
    public static func product(_ a: Int, _ b: Int) -> Int? {
        guard a >= 0, b >= 0 else { return nil }
        let (p, overflow) = a.multipliedReportingOverflow(by: b)
        return overflow ? nil : p
    }

    /// The product of non-negative `factors` (1 for none), or nil on a negative factor or overflow.
    @inlinable
    public static func product<S: Sequence>(of factors: S) -> Int? where S.Element == Int {
        var p = 1
        for f in factors {
            guard let q = product(p, f) else { return nil }
            p = q
        }
        return p
    }

    /// `a + b` for non-negative operands, or nil on a negative operand or overflow.
    @inlinable
    public static func sum(_ a: Int, _ b: Int) -> Int? {
        guard a >= 0, b >= 0 else { return nil }
        let (s, overflow) = a.addingReportingOverflow(b)
        return overflow ? nil : s
    }

    /// `offset ..< offset + count` when it lies inside `0 ..< total`, else nil.
    @inlinable
    public static func range(offset: Int, count: Int, within total: Int) -> Range<Int>? {
        guard let end = sum(offset, count), end <= total else { return nil }
        return offset..<end
    }

    /// The byte count of `elements` values of `elementSize` bytes, or nil on overflow.
    @inlinable
    public static func bytes(elements: Int, elementSize: Int) -> Int? {
        product(elements, elementSize)
    }

    /// The exclusive end (in elements) of a strided view: one past the furthest element that
    /// `offset + sum((shape[i] - 1) * strides[i])` reaches, or nil on overflow or a negative value.
    /// An empty view (a zero dimension) reaches nothing and returns `offset`.
    @inlinable
    public static func viewEnd(offset: Int, shape: [Int], strides: [Int]) -> Int? {
        guard offset >= 0, shape.count == strides.count else { return nil }
        if shape.contains(0) { return shape.allSatisfy({ $0 >= 0 }) && strides.allSatisfy({ $0 >= 0 }) ? offset : nil }
        var last = offset
        for (n, s) in zip(shape, strides) {
            guard let step = product(n - 1, s), let next = sum(last, step) else { return nil }
            last = next
        }
        return sum(last, 1)
    }
}
