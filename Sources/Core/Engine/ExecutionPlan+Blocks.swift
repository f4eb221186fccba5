/// Inverted-residual blocks that inference runs as one fused step (`InvertedResidual`): a 1x1
/// expand convolution, a depthwise one and, when nothing else reads the depthwise output, the
/// 1x1 project convolution and the residual add after it, all in inference mode with BN folded.
/// The expanded activations are then never written out whole: MobileNetV2's early blocks write
/// 1.8-4.8 MB of them per sample, past a core's L2 cache.
extension ExecutionPlan {
    /// A BN node and the convolution folded into it.
    struct Folded: Equatable {
        let bn: Int
        let conv: Int
    }

    struct Block: Equatable {
        let expand: Folded
        let depthwise: Folded
        let project: Folded?
        /// The node added to the project's output last (the block input), if any.
        let residual: Int?
        /// The node the expand convolution reads.
        let input: Int
        /// The node whose step (`.block`) runs the block and holds its output.
        let end: Int
    }

    /// Expanded activations per sample below which a block runs layer by layer: small images
    /// (MobileNetV2 from 14x14 on) stay in cache anyway, and a pass's GEMMs over several samples
    /// pack their weights once, not once per band. Measured at 1 << 16 (which fuses MobileNetV2's
    /// 14x14 blocks too) no faster than at 1 << 17.
    static let fusedBlockFloats = 1 << 17

    /// Every BN folded into a convolution, as `.foldedConv` steps or inside blocks.
    var foldedConvs: [Folded] {
        var pairs: [Folded] = []
        for (id, step) in steps.enumerated() { if case .foldedConv(let conv) = step { pairs.append(Folded(bn: id, conv: conv)) } }
        for b in blocks { pairs += [b.expand, b.depthwise] + (b.project.map { [$0] } ?? []) }
        return pairs
    }

    /// Finds the blocks among inference-mode nodes whose BNs are folded, and turns their nodes'
    /// steps into `.skip` but the end's, which becomes `.block(index)`.
    static func blocks(_ graph: Graph, steps: inout [Step], epilogue: [Activation?], inferenceMode: [Bool],
                       consumers: [[Int]]) -> [Block] {
        let nodes = graph.nodes
        func geometry(_ conv: Int) -> ConvGeometry? {
            guard case .conv2d(let p) = nodes[conv].operation else { return nil }
            return ConvGeometry(batch: 1, input: nodes[nodes[conv].inputs[0]].outputShape, output: nodes[conv].outputShape, conv: p)
        }
        func isPointwise(_ conv: Int) -> Bool { geometry(conv).map { $0.isPointwise && $0.groups == 1 } ?? false }
        // The folded convolution that alone reads BN node `bn`'s output (after its fused activation).
        func next(_ bn: Int) -> Folded? {
            let out = epilogue[bn] != nil ? consumers[bn][0] : bn
            guard consumers[out].count == 1, out != graph.features, out != graph.output else { return nil }
            let conv = consumers[out][0]
            guard case .skip = steps[conv], consumers[conv].count == 1, let bn = consumers[conv].first,
                  case .foldedConv(conv) = steps[bn] else { return nil }
            return Folded(bn: bn, conv: conv)
        }
        var blocks: [Block] = []
        for node in nodes {
            guard case .foldedConv(let c1) = steps[node.id], isPointwise(c1),
                  nodes[c1].outputShape.count >= fusedBlockFloats,
                  let depthwise = next(node.id), geometry(depthwise.conv)?.isDepthwise == true else { continue }
            let expand = Folded(bn: node.id, conv: c1), input = nodes[c1].inputs[0]
            var project: Folded?, residual: Int?, end = depthwise.bn
            if let p = next(depthwise.bn), isPointwise(p.conv) {
                project = p
                end = p.bn
                if epilogue[p.bn] == nil, consumers[p.bn].count == 1, p.bn != graph.features, p.bn != graph.output {
                    let add = consumers[p.bn][0]
                    if case .add = nodes[add].operation, inferenceMode[add], Set(nodes[add].inputs) == [p.bn, input],
                       nodes[add].outputShape == nodes[input].outputShape {
                        residual = input
                        end = add
                    }
                }
            }
            for bn in [expand.bn, depthwise.bn, project?.bn] { if let bn, bn != end { steps[bn] = .skip } }
            steps[end] = .block(blocks.count)
            blocks.append(Block(expand: expand, depthwise: depthwise, project: project, residual: residual,
                                input: input, end: end))
        }
        return blocks
    }
}
