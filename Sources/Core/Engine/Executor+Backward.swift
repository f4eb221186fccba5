/// The backward pass: walks the graph in reverse from d loss / d output, writing each node's
/// input gradients and accumulating parameter gradients of trainable groups into the model.
extension Executor {
    /// - Parameter outputGradient: d loss / d output, (n, classes) for the batch of the last forward.
    public func backward(_ outputGradient: UnsafePointer<Float>) {
        precondition(training, "backward needs an executor planned for training")
        if !lanes.isEmpty { return backwardInLanes(outputGradient) }
        let out = graph.output
        guard plan.needsGrad[out] else { return }
        for i in gradWritten.indices { gradWritten[i] = false }
        grads[out]!.pointer.update(from: outputGradient, count: graph.nodes[out].outputShape.count * batch)
        gradWritten[out] = true
        for node in graph.nodes.reversed() where plan.needsGrad[node.id] && gradWritten[node.id] {
            if plan.steps[node.id].isAlias {  // an activation its batch norm applies; same gradient buffer
                gradWritten[node.inputs[0]] = true
                continue
            }
            backwardNode(node)
        }
    }

    /// Hands `body` the memory for input `k`'s gradient: its own buffer on the first write,
    /// a scratch buffer that is then added in on later writes (residual branches).
    private func writeGradient(_ node: Node, input k: Int, _ body: (UnsafeMutablePointer<Float>) -> Void) {
        let j = node.inputs[k]
        guard plan.needsGrad[j], let g = grads[j] else { return }
        let count = graph.nodes[j].outputShape.count * batch
        if !gradWritten[j] {
            body(g.pointer)
            gradWritten[j] = true
        } else {
            body(accumulate.pointer)
            let a = accumulate.pointer, d = g.pointer
            parallelFor(count, minimumPerThread: 16384) { r in for i in r { d[i] += a[i] } }
        }
    }

    private func gradientPointer(_ node: Node, input k: Int) -> Bool {
        plan.needsGrad[node.inputs[k]]
    }

    private func backwardNode(_ node: Node) {
        let id = node.id, n = batch
        let dy = grads[id]!.pointer
        let y = pointers[id]!
        func x(_ k: Int = 0) -> UnsafeMutablePointer<Float> { pointers[node.inputs[k]]! }
        let inShape = node.inputs.first.map { graph.nodes[$0].outputShape }
        let count = node.outputShape.count * n
        let s = model.slots(of: id)
        let trainable = plan.trainable[id]
        func grad(_ k: Int) -> UnsafeMutablePointer<Float>? {
            trainable ? (laneGradients[id].isEmpty ? s[k].grad! : laneGradients[id][k]!).pointer : nil
        }

        switch node.operation {
        case .conv2d:
            var g = geometry[id]!; g.n = n
            let bias = s.count > 1 ? grad(1) : nil
            let wantsDx = gradientPointer(node, input: 0)
            if g.isDepthwise {
                if trainable { DepthwiseConv2D.backward(g, x: x(), weight: s[0].value.pointer, dy: dy, dx: nil, dWeight: grad(0), dBias: bias) }
                if wantsDx {
                    writeGradient(node, input: 0) { dx in
                        DepthwiseConv2D.backward(g, x: x(), weight: s[0].value.pointer, dy: dy, dx: dx, dWeight: nil, dBias: nil)
                    }
                }
            } else {
                if trainable {
                    Conv2D.backward(g, x: x(), weight: s[0].value.pointer, dy: dy, dx: nil, dWeight: grad(0), dBias: bias,
                                    scratch: scratch.pointer)
                }
                if wantsDx {
                    writeGradient(node, input: 0) { dx in
                        Conv2D.backward(g, x: x(), weight: s[0].value.pointer, dy: dy, dx: dx, dWeight: nil, dBias: nil,
                                        scratch: scratch.pointer)
                    }
                }
            }
        case .batchNorm(let eps, _) where plan.inferenceMode[id]:  // frozen statistics (BatchNorm+Frozen.swift)
            let rows = n * node.outputShape.height * node.outputShape.width, c = node.outputShape.channels
            var ran = false
            func run(_ dx: UnsafeMutablePointer<Float>?) {
                BatchNorm.backwardFrozen(x: x(), dy: dy, rows: rows, channels: c, gamma: s[0].value.pointer, beta: s[1].value.pointer,
                                         eps: eps, runningMean: s[2].value.pointer, runningVar: s[3].value.pointer,
                                         activation: plan.epilogue[id], y: y, dx: dx, dGamma: grad(0), dBeta: grad(1))
                ran = true
            }
            writeGradient(node, input: 0) { dx in run(dx) }
            if !ran, trainable { run(nil) }
        case .batchNorm:
            let rows = n * node.outputShape.height * node.outputShape.width, c = node.outputShape.channels
            let stats = batchStats[id]!.pointer
            // One call for the input and parameter gradients: with a fused activation it turns dy
            // into the gradient before the activation in place, which must happen once.
            // Lanes exchange their sums, so lane 0 alone adds the parameter gradients.
            let parameters = laneIndex == 0
            func run(_ dx: UnsafeMutablePointer<Float>?) {
                BatchNorm.backward(x: x(), dy: dy, rows: rows, channels: c, gamma: s[0].value.pointer, beta: s[1].value.pointer,
                                   mean: stats, invStd: stats + c, activation: plan.epilogue[id], y: y,
                                   dx: dx, dGamma: parameters ? grad(0) : nil, dBeta: parameters ? grad(1) : nil,
                                   batchRows: wholeBatch * node.outputShape.height * node.outputShape.width,
                                   allRows: sumsOfWholeBatch)
            }
            var ran = false
            writeGradient(node, input: 0) { dx in run(dx); ran = true }
            if !ran, trainable { run(nil) }
        case .activation(let a):
            writeGradient(node, input: 0) { dx in ActivationKernel.backward(a, x: x(), y: y, dy: dy, dx: dx, count: count) }
        case .add:
            for k in 0..<2 { writeGradient(node, input: k) { dx in dx.update(from: dy, count: count) } }
        case .channelMultiply:
            let sh = node.outputShape, hw = sh.height * sh.width
            writeGradient(node, input: 0) { dx in
                ChannelMultiply.backward(x: x(0), scale: x(1), dy: dy, dx: dx, dScale: nil, n: n, hw: hw, c: sh.channels)
            }
            writeGradient(node, input: 1) { ds in
                ChannelMultiply.backward(x: x(0), scale: x(1), dy: dy, dx: nil, dScale: ds, n: n, hw: hw, c: sh.channels)
            }
        case .maxPool:
            var g = geometry[id]!; g.n = n
            writeGradient(node, input: 0) { dx in MaxPool.backward(g, x: x(), y: y, dy: dy, dx: dx) }
        case .avgPool(let p):
            var g = geometry[id]!; g.n = n
            writeGradient(node, input: 0) { dx in AvgPool.backward(g, p, dy: dy, dx: dx) }
        case .globalAvgPool:
            writeGradient(node, input: 0) { dx in
                GlobalAvgPool.backward(dy: dy, dx: dx, n: n, hw: inShape!.height * inShape!.width, c: inShape!.channels)
            }
        case .dropout, .stochasticDepth:
            let per = node.outputShape.count
            let perMask: Int
            if case .dropout = node.operation { perMask = 1 } else { perMask = per }
            writeGradient(node, input: 0) { dx in
                DropMask.apply(x: dy, mask: masks[id]!.pointer, y: dx, n: n, per: per, perMask: perMask)
            }
        case .linear(let o, _):
            let f = inShape!.count
            if trainable {
                Linear.backward(x: x(), weight: s[0].value.pointer, dy: dy, dx: nil, dWeight: grad(0),
                                dBias: s.count > 1 ? grad(1) : nil, n: n, f: f, o: o)
            }
            writeGradient(node, input: 0) { dx in
                Linear.backward(x: x(), weight: s[0].value.pointer, dy: dy, dx: dx, dWeight: nil, dBias: nil, n: n, f: f, o: o)
            }
        case .concat:
            let channels = node.inputs.map { graph.nodes[$0].outputShape.channels }
            let rows = n * node.outputShape.height * node.outputShape.width
            for k in node.inputs.indices {
                writeGradient(node, input: k) { dx in Concat.backward(dy: dy, channels: channels, input: k, dx: dx, rows: rows) }
            }
        case .narrow(let start, let length):
            let rows = n * node.outputShape.height * node.outputShape.width
            writeGradient(node, input: 0) { dx in
                Narrow.backward(dy: dy, channels: inShape!.channels, start: start, length: length, dx: dx, rows: rows)
            }
        case .layerNorm(let eps):
            let rows = n * node.outputShape.height * node.outputShape.width, c = node.outputShape.channels
            if trainable { LayerNorm.backward(x: x(), dy: dy, rows: rows, channels: c, gamma: s[0].value.pointer, eps: eps,
                                              dx: nil, dGamma: grad(0), dBeta: grad(1)) }
            writeGradient(node, input: 0) { dx in
                LayerNorm.backward(x: x(), dy: dy, rows: rows, channels: c, gamma: s[0].value.pointer, eps: eps,
                                   dx: dx, dGamma: nil, dBeta: nil)
            }
        case .channelScale:
            let rows = n * node.outputShape.height * node.outputShape.width, c = node.outputShape.channels
            if trainable { ChannelScale.backward(x: x(), scale: s[0].value.pointer, dy: dy, dx: nil, dScale: grad(0), rows: rows, channels: c) }
            writeGradient(node, input: 0) { dx in
                ChannelScale.backward(x: x(), scale: s[0].value.pointer, dy: dy, dx: dx, dScale: nil, rows: rows, channels: c)
            }
        case .channelShuffle(let groups):
            let rows = n * node.outputShape.height * node.outputShape.width
            writeGradient(node, input: 0) { dx in
                ChannelShuffle.backward(dy: dy, groups: groups, channels: node.outputShape.channels, dx: dx, rows: rows)
            }
        case .input:
            break
        }
    }
}
