/// The SHA-256 a file of a weight set must have.
extension WeightSet {
    /// The hex prefixes of the SHA-256 a file of this set must start with: the declared digest
    /// (whole or a prefix), and torchvision's prefix in the file name (`resnet18-f37072fd.pth`:
    /// 8 or more lower-case hex digits between the last '-' and the '.' after it) when the name
    /// carries one, as torch.hub checks it.
    public var digestPrefixes: [String] {
        guard let dash = file_name.lastIndex(of: "-") else { return [sha256] }
        let rest = file_name[file_name.index(after: dash)...]
        guard let dot = rest.firstIndex(of: ".") else { return [sha256] }
        let hex = rest[..<dot]
        let isHex = hex.unicodeScalars.allSatisfy { ("0"..."9").contains($0) || ("a"..."f").contains($0) }
        return hex.count >= 8 && isHex ? [sha256, String(hex)] : [sha256]
    }

    /// Throws `hashMismatch` naming `file` unless `digest` (lower-case hex) starts with every prefix.
    func check(digest: String, file: String, kept: Bool) throws {
        if let wrong = digestPrefixes.first(where: { !digest.hasPrefix($0) }) {
            throw WeightsError.hashMismatch(file: file, expected: wrong, actual: digest, kept: kept)
        }
    }
}
