// Net.swift — a thin Swift face on the host's builder table (ft_host_api) and the descriptor
// plumbing, for backbone plugins written in Swift. PluginKit depends on PluginABI alone and is
// linked into each plugin library, which is all a plugin needs besides its own code.
import PluginABI

/// Thrown when the host returns a negative id; the host already keeps the reason.
public struct BuildFailed: Error {}

/// The graph being recorded: every method adds one node and returns its id, or throws.
/// Layer names are torchvision state_dict prefixes, so pretrained weights load by name.
///
/// The host's table is read through its pointer and no further than its `struct_size`: an
/// operation added after ABI 1.0 is looked up with the header's rule (FT_HAS_FIELD) and, when
/// the host is older, the build fails with a message naming the operation.
public struct Net {
    let host: UnsafePointer<ft_host_api>
    let b: OpaquePointer?

    private func check(_ id: Int32) throws -> Int32 {
        guard id >= 0 else { throw BuildFailed() }
        return id
    }

    /// The host's entry for an operation added in ABI 1.1 (`field`), or a failed build that says
    /// which operation this host lacks.
    private func operation<F>(_ field: KeyPath<ft_host_api, F?>, _ name: String) throws -> F {
        let offset = MemoryLayout<ft_host_api>.offset(of: field)!
        // Read alone, through a raw pointer: a 1.0 host's table ends before the field.
        if ft_struct_holds(host.pointee.struct_size, offset, MemoryLayout<F?>.size) != 0,
           let f = UnsafeRawPointer(host).load(fromByteOffset: offset, as: F?.self) {
            return f
        }
        throw lacks("the builder operation '\(name)'")
    }

    /// Records that this host lacks `what` (an ABI 1.1 feature) and returns the error to throw.
    private func lacks(_ what: String) -> BuildFailed {
        let message = "the backbone needs \(what) (plugin ABI 1.1), which this host "
            + "(ABI \(host.pointee.abi_major).\(host.pointee.abi_minor)) lacks: update finetune"
        message.withCString { host.pointee.set_error!(b, $0) }
        return BuildFailed()
    }

    public func group(_ name: String) throws {
        _ = try check(name.withCString { host.pointee.begin_group!(b, $0) })
    }

    public func input(channels: Int32) throws -> Int32 {
        try check(host.pointee.input!(b, channels))
    }

    /// Square kernel, symmetric padding (k - 1) / 2 unless given (dilation 1), as torchvision's layers use.
    public func conv(_ name: String, _ x: Int32, out: Int32, kernel k: Int32, stride s: Int32 = 1,
              groups: Int32 = 1, bias: Bool = false, padding: Int32? = nil) throws -> Int32 {
        let pad = padding ?? (k - 1) / 2
        var p = ft_conv2d_params(
            struct_size: UInt32(MemoryLayout<ft_conv2d_params>.size), out_channels: out,
            kernel_h: k, kernel_w: k, stride_h: s, stride_w: s,
            pad_top: pad, pad_bottom: pad, pad_left: pad, pad_right: pad,
            dilation_h: 1, dilation_w: 1, groups: groups, bias: bias ? 1 : 0)
        return try check(name.withCString { host.pointee.conv2d!(b, $0, x, &p) })
    }

    /// nn.BatchNorm2d's defaults (eps 1e-5, momentum 0.1) unless given.
    public func batchNorm(_ name: String, _ x: Int32, eps: Float = 1e-5, momentum: Float = 0.1) throws -> Int32 {
        try check(name.withCString { host.pointee.batch_norm!(b, $0, x, eps, momentum) })
    }

    /// The kinds added in ABI 1.1 (GELU, hardswish, hardsigmoid) fail on a 1.0 host with a message.
    public func activation(_ name: String, _ x: Int32, _ kind: Int32) throws -> Int32 {
        let added: [Int32: String] = [FT_ACT_GELU: "gelu", FT_ACT_HARDSWISH: "hardswish", FT_ACT_HARDSIGMOID: "hardsigmoid"]
        if let what = added[kind], host.pointee.abi_minor < 1 { throw lacks("the activation \(what)") }
        return try check(name.withCString { host.pointee.activation!(b, $0, x, kind) })
    }

    /// torchvision's Conv2dNormActivation: a Sequential named `<prefix>.0` (conv, no bias),
    /// `<prefix>.1` (batch norm) and, when `activation` is given, `<prefix>.2`.
    public func convNormActivation(_ prefix: String, _ x: Int32, out: Int32, kernel: Int32, stride: Int32 = 1,
                            groups: Int32 = 1, activation kind: Int32?, eps: Float = 1e-5, momentum: Float = 0.1) throws -> Int32 {
        var y = try conv("\(prefix).0", x, out: out, kernel: kernel, stride: stride, groups: groups)
        y = try batchNorm("\(prefix).1", y, eps: eps, momentum: momentum)
        if let kind { y = try activation("\(prefix).2", y, kind) }
        return y
    }

    /// torchvision's SqueezeExcitation: global average pool, fc1 (1x1 conv with bias) and
    /// `activation`, fc2 (1x1 conv with bias) and `scaleActivation`, then the input scaled channel
    /// by channel. EfficientNet: SiLU and sigmoid; RegNet: ReLU and sigmoid; MobileNetV3: ReLU and hardsigmoid.
    public func squeezeExcitation(_ p: String, _ x: Int32, channels: Int32, squeeze: Int32,
                                  activation: Int32, scaleActivation: Int32 = FT_ACT_SIGMOID) throws -> Int32 {
        var scale = try globalAvgPool("\(p).avgpool", x)
        scale = try conv("\(p).fc1", scale, out: squeeze, kernel: 1, bias: true)
        scale = try self.activation("\(p).activation", scale, activation)
        scale = try conv("\(p).fc2", scale, out: channels, kernel: 1, bias: true)
        scale = try self.activation("\(p).scale_activation", scale, scaleActivation)
        return try channelMultiply(p, x, scale: scale)
    }

    public func add(_ name: String, _ x: Int32, _ y: Int32) throws -> Int32 {
        try check(name.withCString { host.pointee.add!(b, $0, x, y) })
    }

    public func channelMultiply(_ name: String, _ x: Int32, scale: Int32) throws -> Int32 {
        try check(name.withCString { host.pointee.channel_multiply!(b, $0, x, scale) })
    }

    /// Max pooling with a square window and symmetric padding, floor rounding (ceil_mode=False).
    public func maxPool(_ name: String, _ x: Int32, kernel k: Int32, stride s: Int32, padding pad: Int32) throws -> Int32 {
        var p = ft_pool_params(
            struct_size: UInt32(MemoryLayout<ft_pool_params>.size), kernel_h: k, kernel_w: k,
            stride_h: s, stride_w: s, pad_top: pad, pad_bottom: pad, pad_left: pad, pad_right: pad,
            ceil_mode: 0, count_include_pad: 0)
        return try check(name.withCString { host.pointee.max_pool!(b, $0, x, &p) })
    }

    /// Average pooling with a square window and symmetric padding, floor rounding, padded cells
    /// counted (nn.AvgPool2d's defaults).
    public func avgPool(_ name: String, _ x: Int32, kernel k: Int32, stride s: Int32, padding pad: Int32 = 0) throws -> Int32 {
        var p = ft_pool_params(
            struct_size: UInt32(MemoryLayout<ft_pool_params>.size), kernel_h: k, kernel_w: k,
            stride_h: s, stride_w: s, pad_top: pad, pad_bottom: pad, pad_left: pad, pad_right: pad,
            ceil_mode: 0, count_include_pad: 1)
        return try check(name.withCString { host.pointee.avg_pool!(b, $0, x, &p) })
    }

    public func dropout(_ name: String, _ x: Int32, p: Float) throws -> Int32 {
        try check(name.withCString { host.pointee.dropout!(b, $0, x, p) })
    }

    public func globalAvgPool(_ name: String, _ x: Int32) throws -> Int32 {
        try check(name.withCString { host.pointee.global_avg_pool!(b, $0, x) })
    }

    public func stochasticDepth(_ name: String, _ x: Int32, p: Float) throws -> Int32 {
        try check(name.withCString { host.pointee.stochastic_depth!(b, $0, x, p) })
    }

    public func setFeatures(_ x: Int32) throws {
        _ = try check(host.pointee.set_features!(b, x))
    }

    // ABI 1.1

    /// torch.cat(xs, dim=1).
    public func concat(_ name: String, _ xs: [Int32]) throws -> Int32 {
        let f = try operation(\.concat, "concat")
        return try check(name.withCString { n in xs.withUnsafeBufferPointer { f(b, n, $0.baseAddress, Int32($0.count)) } })
    }

    /// x.narrow(1, start, length).
    public func narrow(_ name: String, _ x: Int32, start: Int32, length: Int32) throws -> Int32 {
        let f = try operation(\.narrow, "narrow")
        return try check(name.withCString { f(b, $0, x, start, length) })
    }

    /// nn.Linear over the channels of every pixel.
    public func linear(_ name: String, _ x: Int32, out: Int32, bias: Bool = true) throws -> Int32 {
        let f = try operation(\.linear, "linear")
        return try check(name.withCString { f(b, $0, x, out, bias ? 1 : 0) })
    }


    /// nn.LayerNorm(C, eps) over the channels of every pixel.
    public func layerNorm(_ name: String, _ x: Int32, eps: Float = 1e-6) throws -> Int32 {
        let f = try operation(\.layer_norm, "layer_norm")
        return try check(name.withCString { f(b, $0, x, eps) })
    }

    /// A learnable per-channel scale named `name` (the tensor's own key).
    public func channelScale(_ name: String, _ x: Int32, initial: Float) throws -> Int32 {
        let f = try operation(\.channel_scale, "channel_scale")
        return try check(name.withCString { f(b, $0, x, initial) })
    }

    /// torchvision's channel_shuffle(x, groups).
    public func channelShuffle(_ name: String, _ x: Int32, groups: Int32) throws -> Int32 {
        let f = try operation(\.channel_shuffle, "channel_shuffle")
        return try check(name.withCString { f(b, $0, x, groups) })
    }
}

/// The `build` entry of a backbone descriptor: runs `body` against the host's table and returns
/// 0, or 1 when the host rejected a layer (it keeps the reason) or its table is too old.
public func runBuild(_ host: UnsafePointer<ft_host_api>?, _ b: OpaquePointer?, _ body: (Net) throws -> Void) -> Int32 {
    // ABI 1.0's table ends at set_error; the operations after it are checked as they are used.
    func size<F>(through field: KeyPath<ft_host_api, F>) -> Int { MemoryLayout<ft_host_api>.offset(of: field)! + MemoryLayout<F>.size }
    let minimum = size(through: \.set_error)
    guard let host, host.pointee.struct_size >= UInt32(minimum), host.pointee.abi_major == FT_ABI_MAJOR else { return 1 }
    do {
        try body(Net(host: host, b: b))
        return 0
    } catch {
        return 1
    }
}

/// torchvision's _make_divisible (from TensorFlow's MobileNet): the nearest multiple of `divisor`,
/// but never more than 10% below `v`.
public func makeDivisible(_ v: Double, _ divisor: Int = 8) -> Int32 {
    var n = max(divisor, Int(v + Double(divisor) / 2) / divisor * divisor)
    if Double(n) < 0.9 * v { n += divisor }
    return Int32(n)
}

/// A NUL-terminated copy of `s` that lives for the life of the process.
private func permanentCString(_ s: String) -> UnsafePointer<CChar> {
    let bytes = s.utf8CString
    let p = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count)
    bytes.withUnsafeBufferPointer { p.initialize(from: $0.baseAddress!, count: $0.count) }
    return UnsafePointer(p)
}

/// One published weight set (ft_weight_set).
public struct WeightSetInfo {
    public var name, fileName, url, sha256: String
    public var crop, resize: Int32
    public var bicubic: Bool
    public var top1: Float

    /// A torchvision weight set: `url` is its download address, whose file name ends in the
    /// SHA-256 prefix torchvision checks (`resnet18-f37072fd.pth`).
    public init(_ name: String, url: String, crop: Int32, resize: Int32, bicubic: Bool = false, top1: Float) {
        let file = String(url.split(separator: "/").last ?? "")
        let stem = file.split(separator: ".").first ?? ""
        (self.name, self.fileName, self.url) = (name, file, url)
        sha256 = String(stem.split(separator: "-").last ?? "")
        (self.crop, self.resize, self.bicubic, self.top1) = (crop, resize, bicubic, top1)
    }
}

/// What a plugin says about one backbone.
public struct BackboneInfo {
    public var name, summary, weightsHint: String
    public var inFeatures, inputSize, evalResize: Int32
    public var mean: (Float, Float, Float) = (0.485, 0.456, 0.406)  // ImageNet statistics, RGB
    public var std: (Float, Float, Float) = (0.229, 0.224, 0.225)
    public var weightSets: [WeightSetInfo]
    public var classifierKey: String?
    public var build: @convention(c) (UnsafePointer<ft_host_api>?, OpaquePointer?) -> Int32

    public init(name: String, summary: String, weightsHint: String, inFeatures: Int32, inputSize: Int32, evalResize: Int32,
                mean: (Float, Float, Float) = (0.485, 0.456, 0.406), std: (Float, Float, Float) = (0.229, 0.224, 0.225),
                weightSets: [WeightSetInfo] = [], classifierKey: String? = nil,
                build: @convention(c) (UnsafePointer<ft_host_api>?, OpaquePointer?) -> Int32) {
        (self.name, self.summary, self.weightsHint) = (name, summary, weightsHint)
        (self.inFeatures, self.inputSize, self.evalResize) = (inFeatures, inputSize, evalResize)
        (self.mean, self.std, self.build) = (mean, std, build)
        (self.weightSets, self.classifierKey) = (weightSets, classifierKey)
    }
}

/// Allocates the plugin descriptor for `backbones`; called once, never freed.
public func makePluginDescriptor(pluginName: String, _ backbones: [BackboneInfo]) -> UnsafePointer<ft_plugin_desc> {
    let list = UnsafeMutablePointer<UnsafePointer<ft_backbone_desc>?>.allocate(capacity: backbones.count)
    for (i, info) in backbones.enumerated() {
        let sets = UnsafeMutablePointer<UnsafePointer<ft_weight_set>?>.allocate(capacity: max(1, info.weightSets.count))
        for (k, w) in info.weightSets.enumerated() {
            let set = UnsafeMutablePointer<ft_weight_set>.allocate(capacity: 1)
            set.initialize(to: ft_weight_set(
                struct_size: UInt32(MemoryLayout<ft_weight_set>.size), name: permanentCString(w.name),
                file_name: permanentCString(w.fileName), url: permanentCString(w.url), sha256: permanentCString(w.sha256),
                crop_size: w.crop, resize_size: w.resize, interpolation: w.bicubic ? FT_INTERP_BICUBIC : FT_INTERP_BILINEAR,
                top1: w.top1))
            (sets + k).initialize(to: UnsafePointer(set))
        }
        let backbone = UnsafeMutablePointer<ft_backbone_desc>.allocate(capacity: 1)
        backbone.initialize(to: ft_backbone_desc(
            struct_size: UInt32(MemoryLayout<ft_backbone_desc>.size), abi_major: FT_ABI_MAJOR, abi_minor: FT_ABI_MINOR,
            name: permanentCString(info.name), summary: permanentCString(info.summary),
            in_features: info.inFeatures, input_size: info.inputSize, eval_resize: info.evalResize,
            mean: info.mean, std: info.std, weights_hint: permanentCString(info.weightsHint), build: info.build,
            weight_set_count: Int32(info.weightSets.count), weight_sets: UnsafePointer(sets),
            classifier_key: info.classifierKey.map(permanentCString)))
        (list + i).initialize(to: UnsafePointer(backbone))
    }
    let plugin = UnsafeMutablePointer<ft_plugin_desc>.allocate(capacity: 1)
    plugin.initialize(to: ft_plugin_desc(
        struct_size: UInt32(MemoryLayout<ft_plugin_desc>.size), abi_major: FT_ABI_MAJOR, abi_minor: FT_ABI_MINOR,
        plugin_name: permanentCString(pluginName), plugin_version: permanentCString("1.1.0"),
        backbone_count: Int32(backbones.count), backbones: UnsafePointer(list)))
    return UnsafePointer(plugin)
}
