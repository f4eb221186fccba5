// Dataset+Subset: a stratified, seeded subset of a dataset (`--max-train-samples`), for quick
// trials on a large set.

extension ImageDataset {
    /// `count` of the samples, each class keeping its share: one sample of each class first
    /// (while `count` allows), the rest shared in proportion to the samples each class has left,
    /// rounded by largest remainder (ties to the lower class index). Which samples is decided by a hash of (seed,
    /// path relative to `root`), as `split` decides, so the subset is the same on every run and
    /// machine. The dataset itself when `count` is not below its size.
    public func stratifiedSubset(count: Int, seed: UInt64) -> ImageDataset {
        guard count < samples.count else { return self }
        var byClass = [[Int]](repeating: [], count: classes.count)
        for (index, sample) in samples.enumerated() { byClass[Int(sample.label)].append(index) }
        let present = byClass.indices.filter { !byClass[$0].isEmpty }
        var quota = [Int](repeating: 0, count: classes.count)
        // One each first (while count allows), then the rest by share, largest remainder first.
        for c in present.prefix(count) { quota[c] = 1 }
        let rest = count - quota.reduce(0, +)
        let spare = present.map { byClass[$0].count - quota[$0] }, spareTotal = spare.reduce(0, +)
        if rest > 0, spareTotal > 0 {
            let exact = spare.map { Double(rest) * Double($0) / Double(spareTotal) }
            for (k, c) in present.enumerated() { quota[c] += Int(exact[k]) }
            let order = present.indices.sorted { a, b in
                let ra = exact[a] - exact[a].rounded(.down), rb = exact[b] - exact[b].rounded(.down)
                return ra != rb ? ra > rb : a < b
            }
            var left = count - quota.reduce(0, +)
            for k in order where left > 0 && quota[present[k]] < byClass[present[k]].count {
                quota[present[k]] += 1
                left -= 1
            }
        }
        var kept = [Bool](repeating: false, count: samples.count)
        let subsetSeed = seed ^ 0x7375_6273_6574  // not the validation split's ranking
        for c in present {
            let ranked = byClass[c].map { (key: stableHash(relativePath(samples[$0].path), seed: subsetSeed), index: $0) }
                .sorted { $0.key != $1.key ? $0.key < $1.key : samples[$0.index].path < samples[$1.index].path }
            for entry in ranked.prefix(quota[c]) { kept[entry.index] = true }
        }
        return ImageDataset(classes: classes, samples: samples.indices.filter { kept[$0] }.map { samples[$0] }, root: root)
    }
}
