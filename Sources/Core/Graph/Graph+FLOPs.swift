/// Multiply-add work of one forward pass, counted as 2 FLOPs per multiply-add.
extension Graph {
    /// Forward FLOPs per sample of convolutions and linear layers (the GEMM and depthwise work).
    public var forwardFLOPsPerSample: Int {
        nodes.reduce(0) { total, node in
            switch node.operation {
            case .conv2d(let p):
                let cin = nodes[node.inputs[0]].outputShape.channels
                return total + 2 * node.outputShape.count * p.kernel.h * p.kernel.w * (cin / p.groups)
            case .linear(let o, _):
                return total + 2 * nodes[node.inputs[0]].outputShape.count * o
            default:
                return total
            }
        }
    }
}
