/// One named tensor as weight files hold it: a torchvision state_dict key, the shape in the
/// file layout (OIHW for convolution weights, (N, F) for linear weights, `[]` for a scalar)
/// and the values, row-major and contiguous, converted to Float32.
public struct NamedTensor: Equatable, Sendable {
    public var name: String
    public var shape: [Int]
    public var values: [Float]

    /// - Parameters:
    ///   - name: the state_dict key, e.g. `layer1.0.conv1.weight`.
    ///   - shape: dimensions, outermost first; `[]` for a scalar.
    ///   - values: `shape.reduce(1, *)` values in row-major order.
    public init(name: String, shape: [Int], values: [Float]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "tensor '\(name)': negative dimension in \(shape)")
        precondition(values.count == shape.reduce(1, *),
                     "tensor '\(name)': \(values.count) values for shape \(shape)")
        self.name = name
        self.shape = shape
        self.values = values
    }

    /// A tensor of `shape` filled with zeros.
    public init(zeros name: String, shape: [Int]) {
        self.init(name: name, shape: shape, values: [Float](repeating: 0, count: shape.reduce(1, *)))
    }

    public var count: Int { values.count }
}

/// How a weight file stores one element; every type is read as Float32.
enum ElementType: String, CaseIterable, Sendable {
    case f32 = "F32", f64 = "F64", f16 = "F16", bf16 = "BF16", i64 = "I64", i32 = "I32"

    var size: Int {
        switch self {
        case .f32, .i32: return 4
        case .f64, .i64: return 8
        case .f16, .bf16: return 2
        }
    }

    /// `count` elements starting at element `first` of little-endian `raw`, as Float32.
    /// The caller has checked that they lie inside `raw`.
    func decode(_ raw: UnsafeRawBufferPointer, first: Int = 0, count: Int) -> [Float] {
        let base = first * size
        precondition(base >= 0 && base + count * size <= raw.count, "element range outside the buffer")
        return [Float](unsafeUninitializedCapacity: count) { out, initialized in
            switch self {
            case .f32:
                if count > 0 {
                    UnsafeMutableRawPointer(out.baseAddress!).copyMemory(from: raw.baseAddress! + base, byteCount: count * 4)
                }
            default:
                for i in 0..<count { out[i] = element(raw, byteOffset: base + i * size) }
            }
            initialized = count
        }
    }

    /// The element at `byteOffset` of little-endian `raw`, as Float32.
    @inline(__always)
    func element(_ raw: UnsafeRawBufferPointer, byteOffset: Int) -> Float {
        switch self {
        case .f32: return Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: byteOffset, as: UInt32.self)))
        case .f64: return Float(Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: byteOffset, as: UInt64.self))))
        case .f16: return Float(halfBits: UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: byteOffset, as: UInt16.self)))
        case .bf16:
            let bits = UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: byteOffset, as: UInt16.self))
            return Float(bitPattern: UInt32(bits) << 16)
        case .i64: return Float(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: byteOffset, as: Int64.self)))
        case .i32: return Float(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: byteOffset, as: Int32.self)))
        }
    }
}

extension Float {
    /// IEEE 754 binary16 bits widened exactly to Float32 (subnormals, infinities and NaN kept).
    init(halfBits h: UInt16) {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = Int(h >> 10) & 0x1f
        let mantissa = UInt32(h & 0x03ff)
        switch exponent {
        case 0:
            // Zero or subnormal: mantissa * 2^-24.
            let magnitude = Float(mantissa) * Float(sign: .plus, exponent: -24, significand: 1)
            self = sign != 0 ? -magnitude : magnitude
        case 0x1f:
            self = Float(bitPattern: sign | 0x7f80_0000 | (mantissa << 13))
        default:
            self = Float(bitPattern: sign | UInt32(exponent - 15 + 127) << 23 | (mantissa << 13))
        }
    }
}
