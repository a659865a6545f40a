// ToMe inside the forward pass of a pre-norm ViT (facebookresearch/ToMe `tome/patch/timm.py`:
// `ToMeBlock`, `ToMeAttention`), shared by every tower built from ``TransformerBlock``s: timm ViT,
// Hugging Face CLIP and SigLIP. The matching itself is TesseraReduction's ``BipartiteMatching``.
import Foundation
import TesseraCore
import TesseraNN
import TesseraReduction

// MARK: - Configuration

/// Token merging inside the forward pass: after each block's attention residual, `r` tokens
/// merge by bipartite soft matching on the keys (averaged over heads); with proportional
/// attention the attention logits get `log(size)` of each key.
public struct TokenMerging: Sendable, Equatable {
    /// r per block (see ``MergeSchedule``); blocks past the end merge nothing.
    public var schedule: [Int]
    /// Add `log(size)` to the attention logits (ToMe's `prop_attn`, on for off-the-shelf models).
    public var proportionalAttention: Bool

    public init(schedule: [Int], proportionalAttention: Bool = true) {
        self.schedule = schedule
        self.proportionalAttention = proportionalAttention
    }

    /// ToMe's `parse_r(layers, (r, inflect))`: constant r, or a linear ramp around it.
    public init(r: Int, inflect: Double = 0, layers: Int, proportionalAttention: Bool = true) {
        self.init(schedule: MergeSchedule.perLayer(r: r, inflect: inflect, layers: layers), proportionalAttention: proportionalAttention)
    }

    /// Token count after each of the first `layers` blocks for `tokens` input tokens, with ToMe's
    /// clamp `r ≤ (T − protected) div 2` applied per block.
    public func tokenCounts(tokens: Int, protected: Int, layers: Int) -> [Int] {
        var t = tokens, counts: [Int] = []
        for i in 0..<layers {
            let r = i < schedule.count ? schedule[i] : 0
            t -= max(0, min(r, (t - protected) / 2))
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

// MARK: - Block

extension TransformerBlock {
    /// `ToMeBlock.forward`: attention (proportional when asked) + residual, then `r` tokens merged
    /// by size-weighted average (`merge_wavg`) with the head-averaged keys as the metric, then the
    /// MLP residual. `trace` carries sizes and sources across blocks. `classToken` protects token 0.
    public func merging(_ input: Tensor, r: Int, trace: inout MergeTrace, classToken: Bool,
                        proportionalAttention: Bool = true) -> Tensor {
        var x = input
        let (b, t, d) = (x.shape[0], x.shape[1], x.shape[2])
        let heads = attention.heads, hd = d / heads
        let qkv = attention.qkv(norm1(x))                                                   // [B, T, 3D]
        let bias = proportionalAttention
            ? Tensor(shape: [b, 1, 1, t], scalars: trace.sizes.flatMap { $0.map { Foundation.log($0) } }) : nil
        let (attended, _) = packedSelfAttention(qkv, heads: heads, bias: bias)
        var a = attention.out(attended)
        if let layerScale1 { a = a * layerScale1 }
        x.add(a)
        if r > 0 {
            let keys = qkv.slice(axis: 2, d..<(2 * d)).reshaped([b, t, heads, hd]).mean(axis: 2)   // [B, T, hd]
            var outputs: [Tensor] = []
            for s in 0..<b {
                let matching = BipartiteMatching(metric: keys.slice(axis: 0, s..<(s + 1)).reshaped([t, hd]), r: r,
                                                 classToken: classToken)
                let (tokens, sizes) = matching.mergeWeighted(x.slice(axis: 0, s..<(s + 1)).reshaped([t, d]), sizes: trace.sizes[s])
                let slot = matching.slotOf
                trace.slotOf[s] = trace.slotOf[s].map { slot[$0] }
                trace.sizes[s] = sizes
                outputs.append(tokens.reshaped([1, tokens.shape[0], d]))
            }
            x = b == 1 ? outputs[0] : Tensor.concatenate(outputs, axis: 0)
        }
        var m = mlp(norm2(x))
        if let layerScale2 { m = m * layerScale2 }
        x.add(m)
        return x
    }
}

/// Runs the first `layerCount` blocks with ToMe: `hidden` is the input, then every block's output
/// (shrinking as tokens merge), and the trace after the last block run.
func runEncoderMerging(_ layers: [TransformerBlock], _ input: Tensor, merging: TokenMerging, classToken: Bool,
                       layerCount: Int? = nil) -> (hidden: [Tensor], trace: MergeTrace) {
    var x = input, hidden = [input]
    var trace = MergeTrace(batch: input.shape[0], tokens: input.shape[1])
    for (i, layer) in layers.prefix(layerCount ?? layers.count).enumerated() {
        let r = i < merging.schedule.count ? merging.schedule[i] : 0
        x = layer.merging(x, r: r, trace: &trace, classToken: classToken, proportionalAttention: merging.proportionalAttention)
        hidden.append(x)
    }
    return (hidden, trace)
}
