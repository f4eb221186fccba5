extension Model {
    /// Sets every tensor this model shares by name with `other` to `other`'s values. Both models'
    /// graphs come from one classifier graph (see `Graph+Split.swift`), so a tensor of a given
    /// name has the same kernel layout in both and is copied as is.
    func copyValues(from other: Model) {
        for slot in slots {
            guard let source = other.slot(named: slot.spec.name) else { continue }
            precondition(source.value.count == slot.value.count, "\(slot.spec.name): the two models disagree on its size")
            slot.value.pointer.update(from: source.value.pointer, count: slot.value.count)
        }
        markChanged()
    }
}
