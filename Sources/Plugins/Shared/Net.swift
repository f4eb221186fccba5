// Net.swift — a thin Swift face on the host's builder table (ft_host_api) and the descriptor
// plumbing. A plugin depends on PluginABI alone, so this file is compiled into each built-in
// plugin through a symbolic link (Sources/Plugins/*/Net.swift -> ../Shared/Net.swift).
import PluginABI

/// Thrown when the host returns a negative id; the host already keeps the reason.
struct BuildFailed: Error {}

/// The graph being recorded: every method adds one node and returns its id, or throws.
/// Layer names are torchvision state_dict prefixes, so pretrained weights load by name.
struct Net {
    let host: ft_host_api
    let b: OpaquePointer?

    private func check(_ id: Int32) throws -> Int32 {
        guard id >= 0 else { throw BuildFailed() }
        return id
    }

    func group(_ name: String) throws {
        _ = try check(name.withCString { host.begin_group!(b, $0) })
    }

    func input(channels: Int32) throws -> Int32 {
        try check(host.input!(b, channels))
    }

    /// Square kernel, symmetric padding (k - 1) / 2 (dilation 1), as torchvision's layers use.
    func conv(_ name: String, _ x: Int32, out: Int32, kernel k: Int32, stride s: Int32 = 1,
              groups: Int32 = 1, bias: Bool = false) throws -> Int32 {
        let pad = (k - 1) / 2
        var p = ft_conv2d_params(
            struct_size: UInt32(MemoryLayout<ft_conv2d_params>.size), out_channels: out,
            kernel_h: k, kernel_w: k, stride_h: s, stride_w: s,
            pad_top: pad, pad_bottom: pad, pad_left: pad, pad_right: pad,
            dilation_h: 1, dilation_w: 1, groups: groups, bias: bias ? 1 : 0)
        return try check(name.withCString { host.conv2d!(b, $0, x, &p) })
    }

    /// nn.BatchNorm2d's defaults (eps 1e-5, momentum 0.1), which all three torchvision models use.
    func batchNorm(_ name: String, _ x: Int32, eps: Float = 1e-5, momentum: Float = 0.1) throws -> Int32 {
        try check(name.withCString { host.batch_norm!(b, $0, x, eps, momentum) })
    }

    func activation(_ name: String, _ x: Int32, _ kind: Int32) throws -> Int32 {
        try check(name.withCString { host.activation!(b, $0, x, kind) })
    }

    /// torchvision's Conv2dNormActivation: a Sequential named `<prefix>.0` (conv, no bias),
    /// `<prefix>.1` (batch norm) and, when `activation` is given, `<prefix>.2`.
    func convNormActivation(_ prefix: String, _ x: Int32, out: Int32, kernel: Int32, stride: Int32 = 1,
                            groups: Int32 = 1, activation kind: Int32?) throws -> Int32 {
        var y = try conv("\(prefix).0", x, out: out, kernel: kernel, stride: stride, groups: groups)
        y = try batchNorm("\(prefix).1", y)
        if let kind { y = try activation("\(prefix).2", y, kind) }
        return y
    }

    func add(_ name: String, _ x: Int32, _ y: Int32) throws -> Int32 {
        try check(name.withCString { host.add!(b, $0, x, y) })
    }

    func channelMultiply(_ name: String, _ x: Int32, scale: Int32) throws -> Int32 {
        try check(name.withCString { host.channel_multiply!(b, $0, x, scale) })
    }

    /// Max pooling with a square window and symmetric padding, floor rounding (ceil_mode=False).
    func maxPool(_ name: String, _ x: Int32, kernel k: Int32, stride s: Int32, padding pad: Int32) throws -> Int32 {
        var p = ft_pool_params(
            struct_size: UInt32(MemoryLayout<ft_pool_params>.size), kernel_h: k, kernel_w: k,
            stride_h: s, stride_w: s, pad_top: pad, pad_bottom: pad, pad_left: pad, pad_right: pad,
            ceil_mode: 0, count_include_pad: 0)
        return try check(name.withCString { host.max_pool!(b, $0, x, &p) })
    }

    func globalAvgPool(_ name: String, _ x: Int32) throws -> Int32 {
        try check(name.withCString { host.global_avg_pool!(b, $0, x) })
    }

    func stochasticDepth(_ name: String, _ x: Int32, p: Float) throws -> Int32 {
        try check(name.withCString { host.stochastic_depth!(b, $0, x, p) })
    }

    func setFeatures(_ x: Int32) throws {
        _ = try check(host.set_features!(b, x))
    }
}

/// The `build` entry of a backbone descriptor: runs `body` against the host's table and returns
/// 0, or 1 when the host rejected a layer (it keeps the reason) or its table is too old.
func runBuild(_ host: UnsafePointer<ft_host_api>?, _ b: OpaquePointer?, _ body: (Net) throws -> Void) -> Int32 {
    guard let host, host.pointee.struct_size >= UInt32(MemoryLayout<ft_host_api>.size),
          host.pointee.abi_major == FT_ABI_MAJOR else { return 1 }
    do {
        try body(Net(host: host.pointee, b: b))
        return 0
    } catch {
        return 1
    }
}

/// A NUL-terminated copy of `s` that lives for the life of the process.
private func permanentCString(_ s: String) -> UnsafePointer<CChar> {
    let bytes = s.utf8CString
    let p = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count)
    bytes.withUnsafeBufferPointer { p.initialize(from: $0.baseAddress!, count: $0.count) }
    return UnsafePointer(p)
}

/// What a plugin says about its one backbone.
struct BackboneInfo {
    var name, summary, weightsHint: String
    var inFeatures, inputSize, evalResize: Int32
    var mean: (Float, Float, Float) = (0.485, 0.456, 0.406)  // ImageNet statistics, RGB
    var std: (Float, Float, Float) = (0.229, 0.224, 0.225)
    var build: @convention(c) (UnsafePointer<ft_host_api>?, OpaquePointer?) -> Int32
}

/// Allocates the plugin descriptor for one backbone; called once, never freed.
func makePluginDescriptor(pluginName: String, _ info: BackboneInfo) -> UnsafePointer<ft_plugin_desc> {
    let backbone = UnsafeMutablePointer<ft_backbone_desc>.allocate(capacity: 1)
    backbone.initialize(to: ft_backbone_desc(
        struct_size: UInt32(MemoryLayout<ft_backbone_desc>.size), abi_major: FT_ABI_MAJOR, abi_minor: FT_ABI_MINOR,
        name: permanentCString(info.name), summary: permanentCString(info.summary),
        in_features: info.inFeatures, input_size: info.inputSize, eval_resize: info.evalResize,
        mean: info.mean, std: info.std, weights_hint: permanentCString(info.weightsHint), build: info.build))
    let list = UnsafeMutablePointer<UnsafePointer<ft_backbone_desc>?>.allocate(capacity: 1)
    list.initialize(to: UnsafePointer(backbone))
    let plugin = UnsafeMutablePointer<ft_plugin_desc>.allocate(capacity: 1)
    plugin.initialize(to: ft_plugin_desc(
        struct_size: UInt32(MemoryLayout<ft_plugin_desc>.size), abi_major: FT_ABI_MAJOR, abi_minor: FT_ABI_MINOR,
        plugin_name: permanentCString(pluginName), plugin_version: permanentCString("1.0.0"),
        backbone_count: 1, backbones: UnsafePointer(list)))
    return UnsafePointer(plugin)
}
