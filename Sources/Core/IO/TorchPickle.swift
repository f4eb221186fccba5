/// A restricted unpickler for the pickles `torch.save` writes for a state_dict (protocols 2-5).
///
/// It builds plain values and never calls anything: a `GLOBAL` may only name one of the
/// functions and types a tensor state_dict needs (`collections.OrderedDict`, torch's tensor and
/// parameter rebuild functions, the storage types); any other global (`posix.system`,
/// `builtins.eval`, ...) stops reading with an error naming it, before any later opcode runs.
/// `REDUCE` on an allowed function records the tensor it describes; object-creating opcodes
/// (`INST`, `OBJ`, `NEWOBJ`, extension codes, out-of-band buffers) are refused. What a pickle
/// may build is bounded by `Limits`: nesting depth, memo indexes, and values pushed in all.
/// Reference: CPython's Lib/pickletools.py (opcode table) and torch/serialization.py.
struct TorchPickle {
    /// Containers remember how deeply they nest, so a pickle cannot build values too deep to
    /// free or walk. A list or dict placed inside another container is frozen: torch.save fills
    /// every container before using it.
    struct Tuple {
        var items: [Value]
        var depth: Int
    }
    final class List {
        var items: [Value] = []
        var depth = 1
        var frozen = false
    }
    final class Dict {
        var items: [(key: Value, value: Value)] = []
        var depth = 1
        var frozen = false
    }
    indirect enum Value {
        case none, bool(Bool), int(Int), float(Double), string(String), bytes([UInt8])
        case tuple(Tuple), list(List), dict(Dict)
        /// An allowed global, `module.name`.
        case global(String)
        case storage(Storage)
        case tensor(Tensor)
    }

    /// A pickle that cannot be read; `offset` is the opcode's byte position.
    struct Failure: Error {
        var offset: Int
        var reason: String
        var forbiddenGlobal: String?
    }

    private let bytes: UnsafeRawBufferPointer
    private var p: Int
    private var opcodeStart = 0
    private var stack: [Value] = []
    private var marks: [Int] = []
    private var memo: [Int: Value] = [:]
    /// Values and marks pushed so far, against `Limits.pickleValues`.
    private var pushed = 0

    /// Reads one pickle from `start` up to its `STOP`: the top value and the offset after `STOP`.
    static func load(_ bytes: UnsafeRawBufferPointer, from start: Int = 0) throws -> (value: Value, end: Int) {
        var reader = TorchPickle(bytes: bytes, start: start)
        let value = try reader.run()
        return (value, reader.p)
    }

    /// Reads the pickle at the start of `bytes`.
    static func load(_ bytes: [UInt8]) throws -> Value {
        try bytes.withUnsafeBytes { try load($0).value }
    }

    private init(bytes: UnsafeRawBufferPointer, start: Int) {
        self.bytes = bytes
        p = start
    }

    func fail(_ reason: String) -> Failure { Failure(offset: opcodeStart, reason: reason) }

    // MARK: reading operands

    private mutating func take(_ n: Int) throws -> Slice<UnsafeRawBufferPointer> {
        guard n >= 0, n <= bytes.count - p else { throw fail("the pickle ends in the middle of an opcode (truncated)") }
        defer { p += n }
        return bytes[p..<(p + n)]
    }
    private mutating func uint(_ n: Int) throws -> Int {
        var v: UInt64 = 0
        for (i, b) in try take(n).enumerated() { v |= UInt64(b) << (8 * UInt64(i)) }
        guard v <= UInt64(Int.max) else { throw fail("a length does not fit in 64 bits") }
        return Int(v)
    }
    /// Little-endian two's complement of `n` bytes (LONG1/LONG4, BININT).
    private mutating func signed(_ n: Int) throws -> Int {
        let b = try take(n)
        guard n <= 8 else {
            let high = b.dropFirst(8)
            let sign: UInt8 = (b[b.startIndex + 7] & 0x80) != 0 ? 0xff : 0
            guard high.allSatisfy({ $0 == sign }) else { throw fail("an integer does not fit in 64 bits") }
            return Self.signExtend(b.prefix(8))
        }
        return Self.signExtend(b)
    }
    private static func signExtend(_ b: Slice<UnsafeRawBufferPointer>) -> Int {
        guard !b.isEmpty else { return 0 }
        var v: UInt64 = 0
        for (i, x) in b.enumerated() { v |= UInt64(x) << (8 * UInt64(i)) }
        let bits = UInt64(b.count * 8)
        if bits < 64, v & (1 << (bits - 1)) != 0 { v |= ~0 << bits }
        return Int(bitPattern: UInt(v))
    }
    private mutating func line() throws -> String {
        guard let end = bytes[p...].firstIndex(of: 0x0a) else { throw fail("unterminated text operand") }
        defer { p = end + 1 }
        return String(decoding: bytes[p..<end], as: UTF8.self)
    }
    private mutating func utf8(_ n: Int) throws -> String { String(decoding: try take(n), as: UTF8.self) }

    // MARK: the stack

    private mutating func push(_ v: Value) throws {
        try countValue()
        stack.append(v)
    }
    /// Counts one more value (or mark) on the stack against `Limits.pickleValues`.
    private mutating func countValue() throws {
        guard pushed < Limits.pickleValues else {
            throw fail("the pickle builds more than \(Limits.pickleValues) values, more than a state_dict of \(Limits.tensorsPerFile) tensors needs")
        }
        pushed += 1
    }
    private mutating func pop() throws -> Value {
        guard let v = stack.popLast() else { throw fail("pop from an empty stack") }
        return v
    }
    private mutating func popMark() throws -> [Value] {
        guard let m = marks.popLast(), m <= stack.count else { throw fail("no MARK to pop to") }
        defer { stack.removeSubrange(m...) }
        return Array(stack[m...])
    }
    private mutating func top() throws -> Value {
        guard let v = stack.last else { throw fail("empty stack") }
        return v
    }

    /// A global by name: allowed ones become values, anything else ends the read.
    private func global(_ module: String, _ name: String) throws -> Value {
        let full = "\(module).\(name)"
        guard Self.allowedGlobals.contains(full) else {
            var f = fail("refusing global '\(full)': a weights file may only reference "
                         + Self.allowedGlobals.joined(separator: ", "))
            f.forbiddenGlobal = full
            throw f
        }
        return .global(full)
    }

    // MARK: the loop

    private mutating func run() throws -> Value {
        while true {
            opcodeStart = p
            let op = try take(1).first!
            switch op {
            case 0x80: _ = try take(1)                                       // PROTO
            case 0x95: _ = try take(8)                                       // FRAME
            case 0x2e: return try pop()                                      // STOP
            case 0x28:                                                       // MARK
                try countValue()
                marks.append(stack.count)
            case 0x30: _ = try pop()                                         // POP
            case 0x31: _ = try popMark()                                     // POP_MARK
            case 0x32: try push(try top())                                   // DUP
            case 0x4e: try push(.none)                                       // NONE
            case 0x88: try push(.bool(true))                                 // NEWTRUE
            case 0x89: try push(.bool(false))                                // NEWFALSE
            case 0x4b: try push(.int(try uint(1)))                           // BININT1
            case 0x4d: try push(.int(try uint(2)))                           // BININT2
            case 0x4a: try push(.int(try signed(4)))                         // BININT
            case 0x8a: try push(.int(try signed(try uint(1))))               // LONG1
            case 0x8b: try push(.int(try signed(try uint(4))))               // LONG4
            case 0x49, 0x4c:                                                 // INT, LONG (text)
                var text = try line()
                if text.hasSuffix("L") { text.removeLast() }
                switch text {
                case "00": try push(.bool(false))
                case "01": try push(.bool(true))
                default:
                    guard let i = Int(text) else { throw fail("bad integer '\(text)'") }
                    try push(.int(i))
                }
            case 0x47:                                                       // BINFLOAT (big-endian)
                var v: UInt64 = 0
                for b in try take(8) { v = v << 8 | UInt64(b) }
                try push(.float(Double(bitPattern: v)))
            case 0x46:                                                       // FLOAT (text)
                let text = try line()
                guard let d = Double(text) else { throw fail("bad float '\(text)'") }
                try push(.float(d))
            case 0x58: try push(.string(try utf8(try uint(4))))              // BINUNICODE
            case 0x8c: try push(.string(try utf8(try uint(1))))              // SHORT_BINUNICODE
            case 0x8d: try push(.string(try utf8(try uint(8))))              // BINUNICODE8
            case 0x55: try push(.string(try utf8(try uint(1))))              // SHORT_BINSTRING
            case 0x54: try push(.string(try utf8(try uint(4))))              // BINSTRING
            case 0x43: try push(.bytes(Array(try take(try uint(1)))))        // SHORT_BINBYTES
            case 0x42: try push(.bytes(Array(try take(try uint(4)))))        // BINBYTES
            case 0x8e: try push(.bytes(Array(try take(try uint(8)))))        // BINBYTES8
            case 0x96: try push(.bytes(Array(try take(try uint(8)))))        // BYTEARRAY8
            case 0x29: try push(try tuple([]))                               // EMPTY_TUPLE
            case 0x74: try push(try tuple(try popMark()))                    // TUPLE
            case 0x85: try push(try tuple([try pop()]))                      // TUPLE1
            case 0x86:                                                       // TUPLE2
                let b = try pop(), a = try pop()
                try push(try tuple([a, b]))
            case 0x87:                                                       // TUPLE3
                let c = try pop(), b = try pop(), a = try pop()
                try push(try tuple([a, b, c]))
            case 0x5d, 0x8f: try push(.list(List()))                         // EMPTY_LIST, EMPTY_SET
            case 0x6c, 0x91:                                                 // LIST, FROZENSET
                let l = List()
                try append(try popMark(), to: l)
                try push(.list(l))
            case 0x61:                                                       // APPEND
                let v = try pop()
                guard case .list(let l) = try top() else { throw fail("APPEND to a non-list") }
                try append([v], to: l)
            case 0x65, 0x90:                                                 // APPENDS, ADDITEMS
                let vs = try popMark()
                guard case .list(let l) = try top() else { throw fail("APPENDS to a non-list") }
                try append(vs, to: l)
            case 0x7d: try push(.dict(Dict()))                               // EMPTY_DICT
            case 0x64:                                                       // DICT
                let d = Dict()
                try insert(try popMark(), into: d)
                try push(.dict(d))
            case 0x73:                                                       // SETITEM
                let v = try pop(), k = try pop()
                guard case .dict(let d) = try top() else { throw fail("SETITEM on a non-dict") }
                try insert([k, v], into: d)
            case 0x75:                                                       // SETITEMS
                let kvs = try popMark()
                guard case .dict(let d) = try top() else { throw fail("SETITEMS on a non-dict") }
                try insert(kvs, into: d)
            case 0x67: try get(Int(try line()))                              // GET
            case 0x68: try get(try uint(1))                                  // BINGET
            case 0x6a: try get(try uint(4))                                  // LONG_BINGET
            case 0x70: try put(Int(try line()))                              // PUT
            case 0x71: try put(try uint(1))                                  // BINPUT
            case 0x72: try put(try uint(4))                                  // LONG_BINPUT
            case 0x94: try put(memo.count)                                   // MEMOIZE
            case 0x63:                                                       // GLOBAL
                let module = try line(), name = try line()
                try push(try global(module, name))
            case 0x93:                                                       // STACK_GLOBAL
                guard case .string(let name) = try pop(), case .string(let module) = try pop() else {
                    throw fail("STACK_GLOBAL needs two strings")
                }
                try push(try global(module, name))
            case 0x69:                                                       // INST: a class named inline
                let module = try line(), name = try line()
                _ = try global(module, name)
                throw fail("INST is not allowed")
            case 0x51:                                                       // BINPERSID
                try push(try persistent(try pop()))
            case 0x52:                                                       // REDUCE
                let args = try pop(), callable = try pop()
                try push(try reduce(callable, args))
            case 0x62:                                                       // BUILD
                let state = try pop()
                switch try top() {
                case .dict: break  // OrderedDict's `_metadata` attribute: versions, not weights
                case .tensor:
                    if case .none = state { break }
                    if case .dict(let d) = state, d.items.isEmpty { break }
                    throw fail("a tensor with extra Python state is not supported")
                default: throw fail("BUILD on an unsupported object")
                }
            case 0x81, 0x92, 0x6f:
                throw fail("object creation (NEWOBJ/NEWOBJ_EX/OBJ) is not allowed in a weights file")
            case 0x82, 0x83, 0x84:
                throw fail("extension codes (EXT1/EXT2/EXT4) are not allowed in a weights file")
            case 0x97, 0x98:
                throw fail("out-of-band buffers are not allowed in a weights file")
            case 0x50:
                throw fail("text persistent ids (PERSID) are not used by torch.save")
            default:
                throw fail(String(format: "unknown opcode 0x%02x (corrupted pickle?)", op))
            }
        }
    }

    private mutating func get(_ index: Int?) throws {
        guard let index, let v = memo[index] else { throw fail("memo entry \(index.map(String.init) ?? "?") is missing") }
        try push(v)
    }

    /// Stores the top of the stack at memo `index`, below `Limits.pickleMemo`.
    private mutating func put(_ index: Int?) throws {
        guard let index, index >= 0 else { throw fail("bad memo index") }
        guard index < Limits.pickleMemo else {
            throw fail("memo index \(index) is beyond the \(Limits.pickleMemo) entries a weights file may use")
        }
        memo[index] = try top()
    }

    // MARK: containers

    /// Freezes `v` if it is a list or dict and returns how deeply it nests.
    private func adopt(_ v: Value) -> Int {
        switch v {
        case .tuple(let t): return t.depth
        case .list(let l): l.frozen = true; return l.depth
        case .dict(let d): d.frozen = true; return d.depth
        default: return 0
        }
    }

    /// The depth of a container holding `items`, checked against the limit.
    private func depth(holding items: [Value]) throws -> Int {
        let d = 1 + items.reduce(0) { max($0, adopt($1)) }
        guard d <= Limits.pickleDepth else { throw fail("values nest more than \(Limits.pickleDepth) deep") }
        return d
    }

    private func tuple(_ items: [Value]) throws -> Value {
        .tuple(Tuple(items: items, depth: try depth(holding: items)))
    }

    private func append(_ items: [Value], to l: List) throws {
        guard !l.frozen else { throw fail("a list is changed after being used") }
        guard !items.contains(where: { if case .list(let x) = $0 { return x === l }; return false }) else {
            throw fail("a list contains itself")
        }
        l.depth = max(l.depth, try depth(holding: items))
        l.items += items
    }

    /// Adds key/value pairs given flat: k1, v1, k2, v2, ...
    private func insert(_ flat: [Value], into d: Dict) throws {
        guard !d.frozen else { throw fail("a dict is changed after being used") }
        guard !flat.contains(where: { if case .dict(let x) = $0 { return x === d }; return false }) else {
            throw fail("a dict contains itself")
        }
        guard flat.count % 2 == 0 else { throw fail("odd number of items for a dict") }
        d.depth = max(d.depth, try depth(holding: flat))
        for i in stride(from: 0, to: flat.count, by: 2) { d.items.append((flat[i], flat[i + 1])) }
    }
}
