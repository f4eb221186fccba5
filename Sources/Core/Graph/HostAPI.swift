import PluginABI

/// The builder table handed to plugins (`ft_host_api`): C functions that forward to the
/// `GraphBuilder` behind the opaque `ft_builder*` handle.
///
/// Everything a plugin passes is checked before use: a NULL handle fails the call; names are
/// read bounded and free of control characters (`PluginText`); a parameter struct's
/// `struct_size` is read alone, through its leading field, before the rest of the struct, and
/// the struct is read no further than it says (`ABIStruct`). The table's own `struct_size` is
/// that of this build's header, so a plugin sees with FT_HAS_FIELD which operations it has.
enum HostAPI {
    static let table: ft_host_api = {
        var api = ft_host_api()
        api.struct_size = UInt32(MemoryLayout<ft_host_api>.size)
        api.abi_major = FT_ABI_MAJOR
        api.abi_minor = FT_ABI_MINOR
        api.input = { b, channels in
            call(b) { try $0.input(channels: Int(channels)) }
        }
        api.conv2d = { b, name, x, params in
            call(b) { g in
                let label = try text(name)
                let p = try read(params, minimum: ABIStruct.size(through: \ft_conv2d_params.bias), label ?? "conv2d", "ft_conv2d_params")
                var c = Conv2DParams(outChannels: Int(p.out_channels), kernel: 1, groups: Int(p.groups), bias: p.bias != 0)
                c.kernel = (Int(p.kernel_h), Int(p.kernel_w))
                c.stride = (Int(p.stride_h), Int(p.stride_w))
                c.padding = Padding(top: Int(p.pad_top), bottom: Int(p.pad_bottom), left: Int(p.pad_left), right: Int(p.pad_right))
                c.dilation = (Int(p.dilation_h), Int(p.dilation_w))
                return try g.conv2d(label, Int(x), c)
            }
        }
        api.batch_norm = { b, name, x, eps, momentum in
            call(b) { try $0.batchNorm(text(name), Int(x), eps: eps, momentum: momentum) }
        }
        api.activation = { b, name, x, kind in
            call(b) { g in
                let label = try text(name)
                guard let a = Activation(abiKind: kind) else {
                    throw GraphError.badInput(layer: label ?? "activation", reason: "unknown activation kind \(kind)")
                }
                return try g.activation(label, Int(x), a)
            }
        }
        api.add = { b, name, x, y in
            call(b) { try $0.add(text(name), Int(x), Int(y)) }
        }
        api.channel_multiply = { b, name, x, scale in
            call(b) { try $0.channelMultiply(text(name), Int(x), Int(scale)) }
        }
        api.max_pool = { b, name, x, params in
            call(b) { try $0.pool(text(name), Int(x), try pool(params, text(name)), max: true) }
        }
        api.avg_pool = { b, name, x, params in
            call(b) { try $0.pool(text(name), Int(x), try pool(params, text(name)), max: false) }
        }
        api.global_avg_pool = { b, name, x in
            call(b) { try $0.globalAvgPool(text(name), Int(x)) }
        }
        api.stochastic_depth = { b, name, x, p in
            call(b) { try $0.stochasticDepth(text(name), Int(x), p: p) }
        }
        api.dropout = { b, name, x, p in
            call(b) { try $0.dropout(text(name), Int(x), p: p) }
        }
        api.begin_group = { b, name in
            call(b) { try $0.beginGroup(text(name)) }
        }
        api.set_features = { b, x in
            call(b) { try $0.setFeatures(Int(x)) }
        }
        api.set_error = { b, message in
            builder(b)?.fail(message.map(PluginText.message) ?? "the plugin reported an error without a message")
        }
        api.concat = { b, name, inputs, count in
            call(b) { g in
                let label = try text(name)
                // The count is checked before the plugin's array is read.
                guard let inputs, (1...Int32(Limits.concatInputs)).contains(count) else {
                    throw GraphError.badInput(layer: label ?? "concat", reason: "concat needs 1 to \(Limits.concatInputs) inputs, got \(count)\(inputs == nil ? " and no array" : "")")
                }
                return try g.concat(label, UnsafeBufferPointer(start: inputs, count: Int(count)).map { Int($0) })
            }
        }
        api.narrow = { b, name, x, start, length in
            call(b) { try $0.narrow(text(name), Int(x), start: Int(start), length: Int(length)) }
        }
        api.channel_shuffle = { b, name, x, groups in
            call(b) { try $0.channelShuffle(text(name), Int(x), groups: Int(groups)) }
        }
        api.linear = { b, name, x, outFeatures, bias in
            call(b) { try $0.linear(text(name), Int(x), outFeatures: Int(outFeatures), bias: bias != 0) }
        }
        api.layer_norm = { b, name, x, eps in
            call(b) { try $0.layerNorm(text(name), Int(x), eps: eps) }
        }
        api.channel_scale = { b, name, x, initial in
            call(b) { try $0.channelScale(text(name), Int(x), initial: initial) }
        }
        return api
    }()

    /// Runs one builder call on the builder behind `handle`: its node id, or -1 on error
    /// (kept by the builder) or a NULL handle.
    static func call(_ handle: OpaquePointer?, _ body: (GraphBuilder) throws -> Int) -> Int32 {
        guard let g = builder(handle) else { return -1 }
        return g.record { try body(g) }
    }

    static func builder(_ handle: OpaquePointer?) -> GraphBuilder? {
        handle.map { Unmanaged<GraphBuilder>.fromOpaque(UnsafeRawPointer($0)).takeUnretainedValue() }
    }

    /// A layer name or label (NULL stays nil).
    static func text(_ s: UnsafePointer<CChar>?) throws -> String? {
        try s.map { try PluginText.read($0, what: "layer name") }
    }

    /// A parameter struct, copied only as far as its leading `struct_size` says it reaches, and
    /// only once that covers `minimum` bytes (ABI 1.0's fields); fields past it read as zero.
    static func read<T>(_ params: UnsafePointer<T>?, minimum: Int, _ layer: String, _ type: String) throws -> T {
        guard let params else { throw GraphError.badInput(layer: layer, reason: "no \(type) given") }
        let size = UnsafeRawPointer(params).load(as: UInt32.self)
        guard Int(size) >= minimum else {
            throw GraphError.badInput(layer: layer, reason: "\(type) is \(size) bytes, ABI 1.0 needs at least \(minimum)")
        }
        return ABIStruct.copy(params, size: size)
    }

    static func pool(_ params: UnsafePointer<ft_pool_params>?, _ name: String?) throws -> PoolParams {
        let p = try read(params, minimum: ABIStruct.size(through: \ft_pool_params.count_include_pad), name ?? "pool", "ft_pool_params")
        var q = PoolParams(kernel: 1, stride: 1, ceilMode: p.ceil_mode != 0, countIncludePad: p.count_include_pad != 0)
        q.kernel = (Int(p.kernel_h), Int(p.kernel_w))
        q.stride = (Int(p.stride_h), Int(p.stride_w))
        q.padding = Padding(top: Int(p.pad_top), bottom: Int(p.pad_bottom), left: Int(p.pad_left), right: Int(p.pad_right))
        return q
    }
}

extension GraphBuilder {
    /// Runs a plugin's `build` against this builder and returns the finished graph.
    public func run(_ build: @convention(c) (UnsafePointer<ft_host_api>?, OpaquePointer?) -> Int32) throws -> Graph {
        try run(build, table: HostAPI.table)
    }

    /// `run` with another builder table: tests hand a plugin the table an older host had.
    func run(_ build: @convention(c) (UnsafePointer<ft_host_api>?, OpaquePointer?) -> Int32, table: ft_host_api) throws -> Graph {
        let status = withUnsafePointer(to: table) { api in
            withExtendedLifetime(self) {
                build(api, OpaquePointer(Unmanaged.passUnretained(self).toOpaque()))
            }
        }
        if let error { throw error }
        guard status == 0 else { throw GraphError.plugin("build() failed with status \(status) and no message") }
        guard graph.features != nil else { throw GraphError.noFeatures }
        return graph
    }
}
