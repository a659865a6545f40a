import TesseraCore

/// A pre-norm transformer block, `x + attn(norm1(x))` then `x + mlp(norm2(x))`, bound to the
/// key names of the family it comes from.
public struct TransformerBlock: Sendable {
    /// Checkpoint layouts of the same block.
    public enum Family: Sendable {
        /// timm `Block`: norm1, attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2 (optional ls1/ls2 layer scale).
        case timm
        /// open_clip `ResidualAttentionBlock` (TiTok): ln_1, attn.in_proj_*, attn.out_proj, ln_2, mlp.c_fc, mlp.c_proj.
        case openCLIP
        /// Hugging Face CLIP/SigLIP encoder layer: layer_norm1, self_attn.{q,k,v,out}_proj, layer_norm2, mlp.fc1, mlp.fc2.
        case huggingFace
    }

    public var norm1: LayerNorm
    public var attention: SelfAttention
    public var norm2: LayerNorm
    public var mlp: MLP
    public var layerScale1: Tensor?
    public var layerScale2: Tensor?

    public init(_ w: WeightScope, family: Family, dim: Int, heads: Int, mlpHidden: Int,
                activation: Activation, eps: Float, qkvBias: Bool = true) {
        switch family {
        case .timm:
            norm1 = LayerNorm(w["norm1"], dim: dim, eps: eps)
            attention = SelfAttention(w["attn"], dim: dim, heads: heads, layout: .timm, qkvBias: qkvBias)
            norm2 = LayerNorm(w["norm2"], dim: dim, eps: eps)
            mlp = MLP(w["mlp"], dim: dim, hidden: mlpHidden, activation: activation)
            layerScale1 = w.optionalTensor("ls1.gamma", shape: [dim])
            layerScale2 = w.optionalTensor("ls2.gamma", shape: [dim])
        case .openCLIP:
            norm1 = LayerNorm(w["ln_1"], dim: dim, eps: eps)
            attention = SelfAttention(w["attn"], dim: dim, heads: heads, layout: .torchMultihead, qkvBias: qkvBias)
            norm2 = LayerNorm(w["ln_2"], dim: dim, eps: eps)
            mlp = MLP(w["mlp"], dim: dim, hidden: mlpHidden, activation: activation, names: ("c_fc", "c_proj"))
            layerScale1 = w.optionalTensor("ls_1.gamma", shape: [dim])
            layerScale2 = w.optionalTensor("ls_2.gamma", shape: [dim])
        case .huggingFace:
            norm1 = LayerNorm(w["layer_norm1"], dim: dim, eps: eps)
            attention = SelfAttention(w["self_attn"], dim: dim, heads: heads, layout: .huggingFace, qkvBias: qkvBias)
            norm2 = LayerNorm(w["layer_norm2"], dim: dim, eps: eps)
            mlp = MLP(w["mlp"], dim: dim, hidden: mlpHidden, activation: activation)
        }
    }

    /// The block applied to `[B, N, D]`, with the requested attention probabilities.
    public func callAsFunction(_ x: Tensor, attentionBias: Tensor? = nil, mask: [Bool]? = nil,
                               statistics: AttentionStatistics = .none) -> (Tensor, Tensor?) {
        var (a, probs) = attention(norm1(x), bias: attentionBias, mask: mask, statistics: statistics)
        if let layerScale1 { a = a * layerScale1 }
        var h = x
        h.add(a)
        var m = mlp(norm2(h))
        if let layerScale2 { m = m * layerScale2 }
        h.add(m)
        return (h, probs)
    }
}
