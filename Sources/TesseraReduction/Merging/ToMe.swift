// Token Merging (Bolya et al., facebookresearch/ToMe `tome/merge.py`): bipartite soft matching
// between alternating token sets, size-weighted merging, source tracking and r schedules.
import TesseraCore

/// One round of bipartite soft matching over `T` tokens: which tokens merge into which.
///
/// Tokens alternate between set A (even positions) and set B (odd). Each A token's most similar
/// B token is its candidate; the `r` A tokens with the highest similarity merge into their
/// candidates. The output order is ToMe's: the unmerged A tokens, then all B tokens.
public struct BipartiteMatching: Sendable, Equatable {
    /// Number of input tokens `T`.
    public let tokenCount: Int
    /// Tokens merged away: the requested r clamped to `0...(T − protected) / 2`.
    public let r: Int
    /// A-set positions (indices into A) kept, in output order.
    public let unmerged: [Int]
    /// A-set positions merged away, and the B-set position each goes to.
    public let sources: [Int]
    /// The B-set position (index into B) that each of ``sources`` merges into.
    public let destinations: [Int]

    /// `bipartite_soft_matching(metric, r, class_token, distill_token)`; `metric` is `[T, C]`.
    public init(metric: Tensor, r requested: Int, classToken: Bool = false, distillToken: Bool = false) {
        precondition(metric.rank == 2, "metric must be [T, C]")
        let t = metric.shape[0]
        let protected = (classToken ? 1 : 0) + (distillToken ? 1 : 0)
        let r = max(0, min(requested, (t - protected) / 2))
        tokenCount = t
        self.r = r
        let aCount = (t + 1) / 2, bCount = t / 2
        guard r > 0 else {
            unmerged = Array(0..<aCount)
            sources = []
            destinations = []
            return
        }
        // metric / ‖metric‖ (no eps, as upstream), then A·Bᵀ through BLAS
        let unit = metric.l2Normalized(eps: 0)
        let scores = unit.indexSelect(axis: 0, Array(stride(from: 0, to: t, by: 2)))
            .matmul(unit.indexSelect(axis: 0, Array(stride(from: 1, to: t, by: 2))), transposeB: true)  // [A, B]
        var nodeMax = [Float](repeating: -.infinity, count: aCount)
        var nodeIdx = [Int](repeating: 0, count: aCount)
        scores.scalars.withUnsafeBufferPointer { sp in
            for a in 0..<aCount {
                for b in 0..<bCount {
                    var s = sp[a * bCount + b]
                    if classToken && a == 0 { s = -.infinity }
                    if distillToken && b == 0 { s = -.infinity }
                    if b == 0 || s > nodeMax[a] { nodeMax[a] = s; nodeIdx[a] = b }  // first maximum wins
                }
            }
        }
        // argsort descending; ties keep index order
        let order = (0..<aCount).sorted { nodeMax[$0] > nodeMax[$1] || (nodeMax[$0] == nodeMax[$1] && $0 < $1) }
        sources = Array(order.prefix(r))
        destinations = sources.map { nodeIdx[$0] }
        let rest = Array(order.dropFirst(r))
        unmerged = classToken ? rest.sorted() : rest
    }

    /// Number of tokens after merging.
    public var outputCount: Int { tokenCount - r }

    /// For every input token, the output slot it ends up in (ToMe's `merge_source` as indices).
    public var slotOf: [Int] {
        var slots = [Int](repeating: 0, count: tokenCount)
        let kept = unmerged.count
        for (position, a) in unmerged.enumerated() { slots[2 * a] = position }
        for (s, d) in zip(sources, destinations) { slots[2 * s] = kept + d }
        for b in 0..<(tokenCount / 2) { slots[2 * b + 1] = kept + b }
        return slots
    }

    /// `merge(x, mode="sum")` on `[T, C]` rows.
    public func mergeSum(_ x: Tensor) -> Tensor { mergeMap.mergeSum(x) }

    /// ToMe's `merge_wavg`: size-weighted average of merged tokens, with the new sizes.
    public func mergeWeighted(_ x: Tensor, sizes: [Float]? = nil) -> (tokens: Tensor, sizes: [Float]) {
        mergeMap.mergeWeighted(x, sizes: sizes)
    }

    /// Copies merged outputs back to every input position (`y[slotOf]`): the sequence length
    /// is restored for dense outputs.
    public func unmerge(_ y: Tensor) -> Tensor {
        y.indexSelect(axis: 0, slotOf)
    }
}

/// ToMe's r schedules (`parse_r`).
public enum MergeSchedule {
    /// r per layer: constant (`inflect` 0) or linearly decreasing/increasing around r.
    public static func perLayer(r: Int, inflect: Double = 0, layers: Int) -> [Int] {
        guard layers > 1 else { return [r] }
        let minimum = Int(Double(r) * (1 - inflect))
        let maximum = 2 * r - minimum
        let step = Double(maximum - minimum) / Double(layers - 1)
        return (0..<layers).map { Int(Double(minimum) + step * Double($0)) }
    }
}
