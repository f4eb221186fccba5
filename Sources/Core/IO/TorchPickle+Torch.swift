/// torch's vocabulary in a state_dict pickle: the globals `TorchPickle` accepts, the
/// persistent ids that name storages, and what the allowed functions build (torch/_utils.py:
/// `_rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks)`;
/// torch/serialization.py: `('storage', storage_type, key, location, numel)`).
extension TorchPickle {
    /// Data types of torch's typed storages.
    static let storageTypes: [String: ElementType] = [
        "FloatStorage": .f32, "DoubleStorage": .f64, "HalfStorage": .f16, "BFloat16Storage": .bf16,
        "LongStorage": .i64, "IntStorage": .i32,
    ]
    static let allowedGlobals = ["collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor",
                                 "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state"]
        + storageTypes.keys.sorted().map { "torch." + $0 }

    /// A storage a tensor points into: `data/<key>` in the archive, `count` elements.
    struct Storage {
        var type: ElementType
        var key: String
        var count: Int
    }

    /// A tensor as `_rebuild_tensor_v2` describes it; offset and strides count elements.
    struct Tensor {
        var storage: Storage
        var offset: Int
        var shape: [Int]
        var strides: [Int]
    }

    /// `('storage', torch.<Type>Storage, key, location, numel)` -> a storage reference.
    func persistent(_ pid: Value) throws -> Value {
        guard case .tuple(let tuple) = pid, case let t = tuple.items, t.count >= 5, case .string("storage") = t[0] else {
            throw fail("unsupported persistent id (expected ('storage', type, key, location, numel))")
        }
        guard case .global(let typeName) = t[1],
              let type = Self.storageTypes[String(typeName.dropFirst("torch.".count))] else {
            throw fail("persistent id without a storage type")
        }
        guard case .string(let key) = t[2], case .int(let count) = t[4], count >= 0 else {
            throw fail("persistent id with a bad key or element count")
        }
        // Legacy files add a sixth field, a view of another storage in PyTorch before 1.0.
        if t.count >= 6, case .tuple = t[5] {
            throw fail("storage '\(key)' is a view of another storage (PyTorch before 1.0); re-save the file with a newer torch")
        }
        return .storage(Storage(type: type, key: key, count: count))
    }

    /// Applies one of the allowed functions to its arguments, as a value.
    func reduce(_ callable: Value, _ args: Value) throws -> Value {
        guard case .global(let name) = callable, case .tuple(let tuple) = args else {
            throw fail("REDUCE needs an allowed global and an argument tuple")
        }
        let a = tuple.items
        switch name {
        case "collections.OrderedDict":
            guard a.isEmpty else { throw fail("OrderedDict with arguments is not supported") }
            return .dict(Dict())
        case "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor":
            // (storage, storage_offset, size, stride[, requires_grad, backward_hooks[, metadata]]);
            // the first form is PyTorch 0.4 and later, the second older legacy files.
            guard a.count >= 4, case .storage(let s) = a[0], case .int(let offset) = a[1],
                  let shape = Self.ints(a[2]), let strides = Self.ints(a[3]), shape.count == strides.count else {
                throw fail("_rebuild_tensor_v2 with unexpected arguments")
            }
            return .tensor(Tensor(storage: s, offset: offset, shape: shape, strides: strides))
        case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state":
            guard let first = a.first, case .tensor = first else { throw fail("\(name) without a tensor") }
            return first
        default:
            throw fail("'\(name)' cannot be called")
        }
    }

    private static func ints(_ v: Value) -> [Int]? {
        guard case .tuple(let t) = v else { return nil }
        var result: [Int] = []
        for item in t.items {
            guard case .int(let i) = item else { return nil }
            result.append(i)
        }
        return result
    }
}
