/// Runs an inverted-residual block fused by the plan (ExecutionPlan+Blocks) with its folded weights.
extension Executor {
    func runBlock(_ block: ExecutionPlan.Block, y: UnsafeMutablePointer<Float>) {
        var g = geometry[block.depthwise.conv]!
        g.n = batch
        func pointwise(_ f: ExecutionPlan.Folded) -> InvertedResidual.Pointwise {
            InvertedResidual.Pointwise(weight: folded[f.bn]!.weight.pointer, bias: folded[f.bn]!.bias.pointer,
                                       activation: plan.epilogue[f.bn], outChannels: graph.nodes[f.bn].outputShape.channels)
        }
        let d = folded[block.depthwise.bn]!
        InvertedResidual.forward(g, x: pointers[block.input]!, inChannels: graph.nodes[block.input].outputShape.channels,
                                 expand: pointwise(block.expand),
                                 depthwise: (UnsafePointer(d.weight.pointer), UnsafePointer(d.bias.pointer), plan.epilogue[block.depthwise.bn]),
                                 project: block.project.map(pointwise), residual: block.residual.map { pointers[$0]! },
                                 y: y, scratch: scratch.pointer)
    }
}
