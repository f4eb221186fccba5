/// Moving tensors between a `Model` (kernel layouts) and files (torchvision's names and layouts).
extension Model {
    /// Sets every tensor in `weights` (file layout, keyed by graph tensor name).
    public func load(_ weights: [String: NamedTensor]) throws {
        for (name, tensor) in weights {
            try tensor.values.withUnsafeBufferPointer { try setTensor(name, fileLayout: $0) }
        }
    }

    /// Every tensor in graph order, in the file layout.
    public func namedTensors() -> [NamedTensor] {
        slots.map { slot in
            let layout = kernelLayout(slot)
            return NamedTensor(name: slot.spec.name, shape: slot.spec.shape,
                               values: (0..<slot.spec.count).map { slot.value[layout($0)] })
        }
    }
}
