/// What an executor allocates, counted before it allocates (see `MemoryBudget`).
extension Executor {
    /// Floats of the activation, gradient, scratch, segment, mask and folded-weight buffers (with
    /// the transformed weights of folded Winograd convolutions)
    /// `init` allocates for `plan` over `batchSize` samples; nil when the count overflows.
    static func floatsToAllocate(_ plan: ExecutionPlan, graph: Graph, geometry: [ConvGeometry?], batchSize: Int,
                                 training: Bool) -> Int? {
        let nodes = graph.nodes
        func batch(_ count: Int) -> Int? { CheckedSize.product(count, batchSize) }
        var terms: [Int?] = plan.bufferSizes + plan.gradBufferSizes
        terms.append(training ? batch(nodes.map(\.outputShape.count).max() ?? 0) : 0)  // accumulate
        terms.append(batchSize == 0 ? 0 : scratchCount(plan, geometry: geometry))
        terms += zip(plan.segments, plan.segments.dropFirst()).map { segment, next in
            CheckedSize.product(next.passSize, nodes[segment.end].outputShape.count)
        }
        for node in nodes where !plan.inferenceMode[node.id] {
            if case .dropout = node.operation { terms.append(batch(node.outputShape.count)) }
        }
        for conv in plan.foldedConvs.map(\.conv) {
            terms.append(nodes[conv].tensors.first.flatMap { CheckedSize.product(of: $0.shape) })
            terms.append(nodes[conv].outputShape.channels)
            if let g = geometry[conv], WinogradConv3x3.applies(g) { terms.append(WinogradConv3x3.transformedCount(g)) }
        }
        return MemoryBudget.total(terms)
    }

    /// Floats of the scratch buffer the convolutions and fused blocks share.
    static func scratchCount(_ plan: ExecutionPlan, geometry: [ConvGeometry?]) -> Int {
        let convs = geometry.compactMap { $0.map(Conv2D.scratchCount) }.max() ?? 0
        let blocks = plan.blocks.map { InvertedResidual.scratchCount(geometry[$0.depthwise.conv]!) }.max() ?? 0
        return max(convs, blocks)
    }
}
