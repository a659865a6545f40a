import TesseraCore

/// Multi-head self-attention over `[B, N, D]`, in the three checkpoint layouts in use:
/// packed `qkv` + `proj` (timm), packed `in_proj_weight` + `out_proj` (`nn.MultiheadAttention`,
/// open_clip), and separate `q_proj`/`k_proj`/`v_proj` + `out_proj` (Hugging Face CLIP/SigLIP).
public struct SelfAttention: Sendable {
    public enum Layout: Sendable { case timm, torchMultihead, huggingFace }

    public var heads: Int
    public var dim: Int
    /// Packed `[3D, D]` projection (q, k, v stacked) and bias.
    public var qkv: Linear
    public var out: Linear

    public init(_ w: WeightScope, dim: Int, heads: Int, layout: Layout, qkvBias: Bool = true) {
        precondition(dim % heads == 0, "dim \(dim) not divisible by \(heads) heads")
        self.dim = dim
        self.heads = heads
        switch layout {
        case .timm:
            qkv = Linear(w["qkv"], in: dim, out: 3 * dim, bias: qkvBias)
            out = Linear(w["proj"], in: dim, out: dim)
        case .torchMultihead:
            qkv = Linear(weight: w.tensor("in_proj_weight", shape: [3 * dim, dim]),
                         bias: qkvBias ? w.tensor("in_proj_bias", shape: [3 * dim]) : nil)
            out = Linear(w["out_proj"], in: dim, out: dim)
        case .huggingFace:
            let q = Linear(w["q_proj"], in: dim, out: dim, bias: qkvBias)
            let k = Linear(w["k_proj"], in: dim, out: dim, bias: qkvBias)
            let v = Linear(w["v_proj"], in: dim, out: dim, bias: qkvBias)
            qkv = Linear(weight: Tensor.concatenate([q.weight, k.weight, v.weight], axis: 0),
                         bias: qkvBias ? Tensor.concatenate([q.bias!, k.bias!, v.bias!], axis: 0) : nil)
            out = Linear(w["out_proj"], in: dim, out: dim)
        }
    }

    /// Attention output `[B, N, D]` and the requested probabilities.
    public func callAsFunction(_ x: Tensor, bias: Tensor? = nil, mask: [Bool]? = nil,
                               statistics: AttentionStatistics = .none) -> (Tensor, Tensor?) {
        precondition(x.rank == 3 && x.shape[2] == dim, "attention input must be [B, N, \(dim)], got \(x.shape)")
        let (merged, probs) = packedSelfAttention(qkv(x), heads: heads, bias: bias, mask: mask, statistics: statistics)
        return (out(merged), probs)
    }
}
