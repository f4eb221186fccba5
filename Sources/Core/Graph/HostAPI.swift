import PluginABI

/// The builder table handed to plugins (`ft_host_api`): C functions that forward to the
/// `GraphBuilder` behind the opaque `ft_builder*` handle.
enum HostAPI {
    static let table: ft_host_api = {
        var api = ft_host_api()
        api.struct_size = UInt32(MemoryLayout<ft_host_api>.size)
        api.abi_major = FT_ABI_MAJOR
        api.abi_minor = FT_ABI_MINOR
        api.input = { b, channels in
            builder(b).record { try builder(b).input(channels: Int(channels)) }
        }
        api.conv2d = { b, name, x, params in
            builder(b).record {
                guard let params, params.pointee.struct_size >= UInt32(MemoryLayout<ft_conv2d_params>.size) else {
                    throw GraphError.badInput(layer: text(name) ?? "conv2d", reason: "missing or too small ft_conv2d_params")
                }
                let p = params.pointee
                var c = Conv2DParams(outChannels: Int(p.out_channels), kernel: 1, groups: Int(p.groups), bias: p.bias != 0)
                c.kernel = (Int(p.kernel_h), Int(p.kernel_w))
                c.stride = (Int(p.stride_h), Int(p.stride_w))
                c.padding = Padding(top: Int(p.pad_top), bottom: Int(p.pad_bottom), left: Int(p.pad_left), right: Int(p.pad_right))
                c.dilation = (Int(p.dilation_h), Int(p.dilation_w))
                return try builder(b).conv2d(text(name), Int(x), c)
            }
        }
        api.batch_norm = { b, name, x, eps, momentum in
            builder(b).record { try builder(b).batchNorm(text(name), Int(x), eps: eps, momentum: momentum) }
        }
        api.activation = { b, name, x, kind in
            builder(b).record {
                guard let a = Activation(abiKind: kind) else {
                    throw GraphError.badInput(layer: text(name) ?? "activation", reason: "unknown activation kind \(kind)")
                }
                return try builder(b).activation(text(name), Int(x), a)
            }
        }
        api.add = { b, name, x, y in
            builder(b).record { try builder(b).add(text(name), Int(x), Int(y)) }
        }
        api.channel_multiply = { b, name, x, scale in
            builder(b).record { try builder(b).channelMultiply(text(name), Int(x), Int(scale)) }
        }
        api.max_pool = { b, name, x, params in
            builder(b).record { try builder(b).pool(text(name), Int(x), try pool(params, text(name)), max: true) }
        }
        api.avg_pool = { b, name, x, params in
            builder(b).record { try builder(b).pool(text(name), Int(x), try pool(params, text(name)), max: false) }
        }
        api.global_avg_pool = { b, name, x in
            builder(b).record { try builder(b).globalAvgPool(text(name), Int(x)) }
        }
        api.stochastic_depth = { b, name, x, p in
            builder(b).record { try builder(b).stochasticDepth(text(name), Int(x), p: p) }
        }
        api.dropout = { b, name, x, p in
            builder(b).record { try builder(b).dropout(text(name), Int(x), p: p) }
        }
        api.begin_group = { b, name in
            builder(b).record { try builder(b).beginGroup(text(name)) }
        }
        api.set_features = { b, x in
            builder(b).record { try builder(b).setFeatures(Int(x)) }
        }
        api.set_error = { b, message in
            builder(b).fail(text(message) ?? "the plugin reported an error without a message")
        }
        return api
    }()

    static func builder(_ handle: OpaquePointer?) -> GraphBuilder {
        Unmanaged<GraphBuilder>.fromOpaque(UnsafeRawPointer(handle!)).takeUnretainedValue()
    }

    static func text(_ s: UnsafePointer<CChar>?) -> String? {
        s.map { String(cString: $0) }
    }

    static func pool(_ params: UnsafePointer<ft_pool_params>?, _ name: String?) throws -> PoolParams {
        guard let params, params.pointee.struct_size >= UInt32(MemoryLayout<ft_pool_params>.size) else {
            throw GraphError.badInput(layer: name ?? "pool", reason: "missing or too small ft_pool_params")
        }
        let p = params.pointee
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
        let status = withUnsafePointer(to: HostAPI.table) { api in
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
