import PluginABI

/// A published set of pretrained weights a backbone lists (ABI 1.1's `ft_weight_set`): where it
/// comes from, how to check it, how it was evaluated, and what it scored.
public struct WeightSet: Codable, Equatable, Sendable {
    /// e.g. `IMAGENET1K_V1`.
    public var name: String
    public var file_name: String
    public var url: String
    /// Lower-case hex: the whole SHA-256, or the prefix the publisher gives.
    public var sha256: String
    public var crop_size: Int
    public var resize_size: Int
    public var interpolation: Interpolation
    /// ImageNet-1K top-1 as published, percent.
    public var top1: Double
}

extension WeightSet {
    /// Weight set `i` of backbone `backbone`, every field checked: texts bounded and free of control
    /// characters, a name of letters, digits and '_', a file name without '/', a URL over http or
    /// https, 8 to 64 hex digits of SHA-256, sizes in 1...`Limits.imageSide` with the resize no
    /// smaller than the crop, a known interpolation and a top-1 between 0 and 100.
    init(_ p: UnsafePointer<ft_weight_set>, index i: Int, backbone: String) throws {
        func bad(_ reason: String) -> PluginError { .invalid("backbone '\(backbone)': weight set \(i) \(reason)") }
        let size = UnsafeRawPointer(p).load(as: UInt32.self)
        let minimum = ABIStruct.size(through: \ft_weight_set.top1)
        guard Int(size) >= minimum else { throw bad("is \(size) bytes, ABI 1.1 needs at least \(minimum)") }
        let w = ABIStruct.copy(p, size: size)
        func text(_ s: UnsafePointer<CChar>?, _ what: String) throws -> String {
            guard let s else { throw bad("has no \(what)") }
            do { return try PluginText.read(s, what: what) } catch { throw bad("\(error)") }
        }
        name = try text(w.name, "name")
        file_name = try text(w.file_name, "file name")
        url = try text(w.url, "URL")
        sha256 = try text(w.sha256, "SHA-256")
        guard PluginText.isPlainName(name, allowing: "_") else {
            throw bad("name '\(name)' must be ASCII letters, digits or '_'")
        }
        guard !file_name.isEmpty, !file_name.contains("/"), file_name != ".", file_name != ".." else {
            throw bad("file name '\(file_name)' must be a plain file name")
        }
        guard url.hasPrefix("https://") || url.hasPrefix("http://") else { throw bad("URL '\(url)' is not http or https") }
        guard (8...64).contains(sha256.count), sha256.unicodeScalars.allSatisfy({ ("0"..."9").contains($0) || ("a"..."f").contains($0) }) else {
            throw bad("SHA-256 '\(sha256)' must be 8 to 64 lower-case hex digits")
        }
        guard (1...Limits.imageSide).contains(Int(w.crop_size)), (Int(w.crop_size)...Limits.imageSide).contains(Int(w.resize_size)) else {
            throw bad("crop \(w.crop_size) and resize \(w.resize_size) must satisfy 1 <= crop <= resize <= \(Limits.imageSide)")
        }
        crop_size = Int(w.crop_size)
        resize_size = Int(w.resize_size)
        switch w.interpolation {
        case FT_INTERP_BILINEAR: interpolation = .bilinear
        case FT_INTERP_BICUBIC: interpolation = .bicubic
        default: throw bad("interpolation \(w.interpolation) is neither FT_INTERP_BILINEAR nor FT_INTERP_BICUBIC")
        }
        guard w.top1.isFinite, (0...100).contains(w.top1) else { throw bad("top-1 \(w.top1) is not a percentage") }
        top1 = (Double(w.top1) * 1000).rounded() / 1000  // as published, not Float's binary expansion
    }
}
