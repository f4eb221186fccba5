/// Multiply-add work of one forward pass, counted as 2 FLOPs per multiply-add.
extension Graph {
    /// Forward FLOPs per sample of convolutions and linear layers (the GEMM and depthwise work),
    /// saturating at `Int.max` for a graph too large to count.
    public var forwardFLOPsPerSample: Int {
        nodes.reduce(0) { total, node in
            let flops: Int?
            switch node.operation {
            case .conv2d(let p):
                let cin = nodes[node.inputs[0]].outputShape.channels
                flops = CheckedSize.product(of: [2, node.outputShape.count, p.kernel.h, p.kernel.w, cin / p.groups])
            case .linear(let o, _):
                flops = CheckedSize.product(of: [2, nodes[node.inputs[0]].outputShape.count, o])
            default:
                flops = 0
            }
            return flops.flatMap { CheckedSize.sum(total, $0) } ?? Int.max
        }
    }
}
