import Foundation

/// Softmax cross-entropy on logits with optional label smoothing and class weights, with
/// PyTorch's `nn.CrossEntropyLoss(weight:, label_smoothing:)` mean reduction:
///
///     loss = sum_i [ (1-e) w[y_i] (-log p_i,y_i) + e/C sum_c w_c (-log p_ic) ] / sum_i w[y_i]
///
///     logits, dLogits  (n, classes)   labels (n)   classWeights (classes) or nil
enum SoftmaxCrossEntropy {
    /// Returns the mean loss; writes d loss / d logits into `dLogits` when given, and the
    /// softmax probabilities into `probabilities` when given.
    static func forwardBackward(logits: UnsafePointer<Float>, labels: UnsafePointer<Int32>, n: Int, classes: Int,
                                labelSmoothing e: Float = 0, classWeights: UnsafePointer<Float>? = nil,
                                dLogits: UnsafeMutablePointer<Float>? = nil) -> Float {
        func weight(_ c: Int) -> Double { classWeights.map { Double($0[c]) } ?? 1 }
        var total = 0.0, weightSum = 0.0
        for i in 0..<n { weightSum += weight(Int(labels[i])) }
        var logp = [Double](repeating: 0, count: classes)
        for i in 0..<n {
            let z = logits + i * classes, y = Int(labels[i])
            var m = -Double.infinity
            for c in 0..<classes { m = max(m, Double(z[c])) }
            var s = 0.0
            for c in 0..<classes { s += exp(Double(z[c]) - m) }
            let lse = m + log(s)
            for c in 0..<classes { logp[c] = Double(z[c]) - lse }
            var smooth = 0.0
            if e > 0 { for c in 0..<classes { smooth -= weight(c) * logp[c] } }
            total += Double(1 - e) * weight(y) * -logp[y] + Double(e) / Double(classes) * smooth
            guard let dLogits else { continue }
            // t_c: the target mass on class c; d loss / d z_c = (p_c * sum(t) - t_c) / weightSum
            var tSum = 0.0
            for c in 0..<classes {
                let t = Double(e) / Double(classes) * (e > 0 ? weight(c) : 0) + (c == y ? Double(1 - e) * weight(y) : 0)
                tSum += t
                logp[c] = t  // reuse as t once log-probabilities are consumed
            }
            let out = dLogits + i * classes
            for c in 0..<classes {
                let p = exp(Double(z[c]) - lse)
                out[c] = Float((p * tSum - logp[c]) / weightSum)
            }
        }
        return Float(total / weightSum)
    }

    /// Soft targets (mixup, CutMix): PyTorch's `nn.CrossEntropyLoss(weight:)` with class
    /// probabilities as the target, mean reduction over the batch (timm's `SoftTargetCrossEntropy`
    /// without weights):
    ///
    ///     loss = sum_i sum_c w_c t_ic (-log p_ic) / n        d loss / d z_ic = (p_ic sum_c' w_c' t_ic' - w_c t_ic) / n
    ///
    ///     targets (n, classes), each row a distribution (label smoothing already folded in)
    static func forwardBackward(logits: UnsafePointer<Float>, targets: UnsafePointer<Float>, n: Int, classes: Int,
                                classWeights: UnsafePointer<Float>? = nil,
                                dLogits: UnsafeMutablePointer<Float>? = nil) -> Float {
        func weight(_ c: Int) -> Double { classWeights.map { Double($0[c]) } ?? 1 }
        var total = 0.0
        for i in 0..<n {
            let z = logits + i * classes, t = targets + i * classes
            var m = -Double.infinity
            for c in 0..<classes { m = max(m, Double(z[c])) }
            var s = 0.0
            for c in 0..<classes { s += exp(Double(z[c]) - m) }
            let lse = m + log(s)
            var weighted = 0.0
            for c in 0..<classes {
                let wt = weight(c) * Double(t[c])
                total -= wt * (Double(z[c]) - lse)
                weighted += wt
            }
            guard let dLogits else { continue }
            let out = dLogits + i * classes
            for c in 0..<classes {
                out[c] = Float((exp(Double(z[c]) - lse) * weighted - weight(c) * Double(t[c])) / Double(n))
            }
        }
        return Float(total / Double(n))
    }
}
