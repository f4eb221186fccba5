import PluginABI

/// Activation functions a graph node can apply elementwise.
public enum Activation: String, Sendable {
    case relu, relu6, silu, sigmoid
    /// ABI 1.1: GELU exact (erf, as torchvision's nn.GELU()), hardswish and hardsigmoid (MobileNetV3).
    case gelu, hardswish, hardsigmoid

    init?(abiKind: Int32) {
        switch abiKind {
        case FT_ACT_RELU: self = .relu
        case FT_ACT_RELU6: self = .relu6
        case FT_ACT_SILU: self = .silu
        case FT_ACT_SIGMOID: self = .sigmoid
        case FT_ACT_GELU: self = .gelu
        case FT_ACT_HARDSWISH: self = .hardswish
        case FT_ACT_HARDSIGMOID: self = .hardsigmoid
        default: return nil
        }
    }

    /// Whether the derivative is computed from the input (else from the output, which backward
    /// then keeps instead).
    var derivativeReadsInput: Bool { self == .silu || self == .gelu || self == .hardswish }
}

/// A 2-D convolution's hyper-parameters (weights in files are OIHW, as torchvision's).
public struct Conv2DParams: Equatable, Sendable {
    public var outChannels: Int
    public var kernel: (h: Int, w: Int)
    public var stride: (h: Int, w: Int)
    public var padding: Padding
    public var dilation: (h: Int, w: Int)
    public var groups: Int
    public var bias: Bool

    public init(outChannels: Int, kernel: Int, stride: Int = 1, padding: Int? = nil,
                dilation: Int = 1, groups: Int = 1, bias: Bool = false) {
        let p = padding ?? (kernel - 1) / 2 * dilation
        self.outChannels = outChannels
        self.kernel = (kernel, kernel)
        self.stride = (stride, stride)
        self.padding = Padding(top: p, bottom: p, left: p, right: p)
        self.dilation = (dilation, dilation)
        self.groups = groups
        self.bias = bias
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.outChannels == b.outChannels && a.kernel == b.kernel && a.stride == b.stride
            && a.padding == b.padding && a.dilation == b.dilation && a.groups == b.groups && a.bias == b.bias
    }
}

/// Zero padding added on each side of the spatial dimensions.
public struct Padding: Equatable, Sendable {
    public var top: Int, bottom: Int, left: Int, right: Int
    public init(top: Int, bottom: Int, left: Int, right: Int) {
        self.top = top; self.bottom = bottom; self.left = left; self.right = right
    }
    /// The four sides, for checks that treat them alike.
    var all: [Int] { [top, bottom, left, right] }
}

/// Max or average pooling's window.
public struct PoolParams: Equatable, Sendable {
    public var kernel: (h: Int, w: Int)
    public var stride: (h: Int, w: Int)
    public var padding: Padding
    public var ceilMode: Bool
    public var countIncludePad: Bool

    public init(kernel: Int, stride: Int, padding: Int = 0, ceilMode: Bool = false, countIncludePad: Bool = true) {
        self.kernel = (kernel, kernel)
        self.stride = (stride, stride)
        self.padding = Padding(top: padding, bottom: padding, left: padding, right: padding)
        self.ceilMode = ceilMode
        self.countIncludePad = countIncludePad
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.kernel == b.kernel && a.stride == b.stride && a.padding == b.padding
            && a.ceilMode == b.ceilMode && a.countIncludePad == b.countIncludePad
    }
}

/// What a graph node computes.
public enum Operation: Equatable, Sendable {
    case input
    case conv2d(Conv2DParams)
    case batchNorm(eps: Float, momentum: Float)
    case activation(Activation)
    case add
    /// x (N,H,W,C) times scale (N,1,1,C).
    case channelMultiply
    case maxPool(PoolParams)
    case avgPool(PoolParams)
    case globalAvgPool
    /// Drops the whole input per sample with probability p in training, scaling survivors by 1/(1-p).
    case stochasticDepth(p: Float)
    case dropout(p: Float)
    /// Fully connected layer on (N,1,1,C) features: the classifier head.
    case linear(outFeatures: Int, bias: Bool)
    /// The inputs' channels one after another (torch.cat(dim=1)); same N, H and W.
    case concat
    /// Channels [start, start + length) of the input (Tensor.narrow(1, start, length)).
    case narrow(start: Int, length: Int)
    /// ShuffleNet's channel shuffle: output channel i * groups + g is input channel g * (C / groups) + i.
    case channelShuffle(groups: Int)
    /// Layer normalisation over the channels of every pixel, with a per-channel scale and shift.
    case layerNorm(eps: Float)
    /// x times a learnable per-channel scale (ConvNeXt's layer_scale), initialised to `initial`.
    case channelScale(initial: Float)

    /// Short name for tables.
    public var label: String {
        switch self {
        case .input: return "input"
        case .conv2d(let p):
            var s = "conv\(p.kernel.h)x\(p.kernel.w)"
            if p.stride.h > 1 { s += "/\(p.stride.h)" }
            if p.groups > 1 { s += " g\(p.groups)" }
            return s
        case .batchNorm: return "batch_norm"
        case .activation(let a): return a.rawValue
        case .add: return "add"
        case .channelMultiply: return "channel_multiply"
        case .maxPool(let p): return "max_pool\(p.kernel.h)x\(p.kernel.w)/\(p.stride.h)"
        case .avgPool(let p): return "avg_pool\(p.kernel.h)x\(p.kernel.w)/\(p.stride.h)"
        case .globalAvgPool: return "global_avg_pool"
        case .stochasticDepth(let p): return "stochastic_depth(\(p))"
        case .dropout(let p): return "dropout(\(p))"
        case .linear: return "linear"
        case .concat: return "concat"
        case .narrow(let start, let length): return "narrow[\(start)..<\(start + length)]"
        case .channelShuffle(let g): return "channel_shuffle g\(g)"
        case .layerNorm: return "layer_norm"
        case .channelScale: return "channel_scale"
        }
    }
}
