// ToMe inside the forward pass of a pre-norm ViT (facebookresearch/ToMe `tome/patch/timm.py`:
// `ToMeBlock`, `ToMeAttention`), for every encoder built on NN's `TransformerStack`: timm ViT,
// Hugging Face CLIP and SigLIP. The matching itself is ``BipartiteMatching``.
import Foundation
import TesseraCore
import TesseraNN

// MARK: - Configuration

/// Token merging inside the forward pass: after each block's attention residual, `r` tokens
/// merge by bipartite soft matching on the keys (averaged over heads); with proportional
/// attention the attention logits get `log(size)` of each key.
public struct TokenMerging: Sendable, Equatable {
    /// r per block (see ``MergeSchedule``); blocks past the end merge nothing.
    public var schedule: [Int]
    /// Add `log(size)` to the attention logits (ToMe's `prop_attn`, on for off-the-shelf models).
    public var proportionalAttention: Bool

    /// Merging with an explicit r per block.
    public init(schedule: [Int], proportionalAttention: Bool = true) {
        self.schedule = schedule
        self.proportionalAttention = proportionalAttention
    }

    /// ToMe's `parse_r(layers, (r, inflect))`: constant r, or a linear ramp around it.
    public init(r: Int, inflect: Double = 0, layers: Int, proportionalAttention: Bool = true) {
        self.init(
            schedule: MergeSchedule.perLayer(r: r, inflect: inflect, layers: layers),
            proportionalAttention: proportionalAttention)
    }

    /// r of block `index` (0 past the schedule).
    public func r(at index: Int) -> Int { index < schedule.count ? schedule[index] : 0 }

    /// Token count after each of the first `layers` blocks for `tokens` input tokens, with ToMe's
    /// clamp `r ≤ (T − protected) div 2` applied per block.
    public func tokenCounts(tokens: Int, protected: Int, layers: Int) -> [Int] {
        var t = tokens, counts: [Int] = []
        for i in 0..<max(0, layers) {
            t -= max(0, min(r(at: i), (t - protected) / 2))
            counts.append(t)
        }
        return counts
    }
}

/// What ToMe tracked through the blocks, per batch item.
public struct MergeTrace: Sendable, Equatable {
    /// Size (number of input tokens) of every current token: ToMe's `_tome_info["size"]`.
    public var sizes: [[Float]]
    /// For every input token, the current token it was merged into: ToMe's
    /// `_tome_info["source"]` (one-hot `[T_out, T_in]`) as indices.
    public var slotOf: [[Int]]

    /// Nothing merged yet: `tokens` tokens of size 1 per batch item.
    public init(batch: Int, tokens: Int) {
        sizes = [[Float]](repeating: [Float](repeating: 1, count: tokens), count: batch)
        slotOf = [[Int]](repeating: Array(0..<tokens), count: batch)
    }

    /// Input tokens of each current token, ascending (per batch item).
    public func members(_ item: Int) -> [[Int]] {
        var m = [[Int]](repeating: [], count: sizes[item].count)
        for (i, s) in slotOf[item].enumerated() { m[s].append(i) }
        return m
    }
}

// MARK: - Runner

/// `ToMeBlock.forward` for every block of a forward pass: attention (proportional when asked) +
/// residual, then `r` tokens merged by size-weighted average (`merge_wavg`) with the
/// head-averaged keys of that same attention as the metric, then the MLP residual. The keys come
/// from the block's own projections: nothing is computed twice.
///
/// ```swift
/// var tome = ToMeRunner(merging: TokenMerging(r: 13, layers: vit.descriptor.depth), classToken: true)
/// let out = vit.forward(pixels, runner: &tome)     // tokens shrink block by block
/// let sources = tome.trace?.slotOf                  // which input token went where
/// ```
public struct ToMeRunner: BlockRunner {
    /// r per block and whether attention is proportional.
    public var merging: TokenMerging
    /// Protect token 0 (the CLS token) from merging.
    public var classToken: Bool
    /// Sizes and sources after the last block run (set by the first block).
    public private(set) var trace: MergeTrace?

    /// A runner that merges tokens in every block it runs.
    /// - Parameters:
    ///   - merging: r per block and proportional attention.
    ///   - classToken: whether token 0 is a CLS token to protect.
    public init(merging: TokenMerging, classToken: Bool) {
        self.merging = merging
        self.classToken = classToken
    }

    /// Runs `block` as ToMe's `ToMeBlock.forward`: attention and residual, `r(at: index)` merges, MLP.
    ///
    /// Block 0, or the first block run while there is no trace yet, starts a new ``trace``; every block
    /// updates it.
    /// - Returns: The block's output, `[B, T′, D]` with `T′ = T − r` after ToMe's clamp, and the attention
    ///   probabilities `statistics` asks for (over the `T` tokens the block received).
    public mutating func run(_ block: TransformerBlock, _ input: Tensor, index: Int, statistics: AttentionStatistics)
        -> (output: Tensor, probabilities: Tensor?)
    {
        let (b, t, d) = (input.shape[0], input.shape[1], input.shape[2])
        var current = (index == 0 ? nil : trace) ?? MergeTrace(batch: b, tokens: t)
        defer { trace = current }
        let bias =
            merging.proportionalAttention
            ? Tensor(shape: [b, 1, 1, t], scalars: current.sizes.flatMap { $0.map { Foundation.log($0) } }) : nil
        let a = block.attentionSublayer(input, bias: bias, statistics: statistics)
        var x = input
        x.add(a.output)
        let r = merging.r(at: index)
        if r > 0 {
            let heads = block.attention.heads, hd = d / heads
            let keys = a.keys.reshaped([b, t, heads, hd]).mean(axis: 2)  // [B, T, hd]
            var outputs: [Tensor] = []
            for s in 0..<b {
                let matching = BipartiteMatching(
                    metric: keys.slice(axis: 0, s..<(s + 1)).reshaped([t, hd]), r: r,
                    classToken: classToken)
                let (tokens, sizes) = matching.mergeWeighted(
                    x.slice(axis: 0, s..<(s + 1)).reshaped([t, d]),
                    sizes: current.sizes[s])
                let slot = matching.slotOf
                current.slotOf[s] = current.slotOf[s].map { slot[$0] }
                current.sizes[s] = sizes
                outputs.append(tokens.reshaped([1, tokens.shape[0], d]))
            }
            x = b == 1 ? outputs[0] : Tensor.concatenate(outputs, axis: 0)
        }
        x.add(block.mlpSublayer(x).output)
        return (x, a.probabilities)
    }
}
