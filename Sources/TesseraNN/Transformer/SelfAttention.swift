import TesseraCore

/// Where an attention layer's projections sit in a checkpoint, relative to its scope. Declared
/// by the model family that owns the layout (see ``BlockKeys``), so NN needs no edit for a new one.
public struct AttentionKeys: Sendable {
    /// How the query, key and value projections are stored.
    public enum Projections: Sendable {
        /// One packed `Linear` (`{name}.weight` `[3D, D]`, `{name}.bias`): timm's `qkv`.
        case packed(String)
        /// Packed raw tensors, as `nn.MultiheadAttention` stores them (`in_proj_weight`, `in_proj_bias`).
        case packedTensors(weight: String, bias: String)
        /// Three `Linear`s (Hugging Face `q_proj`, `k_proj`, `v_proj`), packed on load.
        case separate(query: String, key: String, value: String)
    }

    /// The q/k/v projections.
    public var projections: Projections
    /// The output projection `Linear` (timm `proj`, torch and Hugging Face `out_proj`).
    public var output: String

    /// Keys for the given projections and output projection.
    public init(projections: Projections, output: String) {
        self.projections = projections
        self.output = output
    }
}

/// Multi-head self-attention over `[B, N, D]` with packed q/k/v (however the checkpoint stores
/// them), so attention runs straight from the packed projection
/// (``packedSelfAttention(_:heads:bias:mask:statistics:)``).
public struct SelfAttention: Sendable {
    /// Number of heads.
    public var heads: Int
    /// Model width D.
    public var dim: Int
    /// Packed `[3D, D]` projection (q, k, v stacked) and bias.
    public var qkv: Linear
    /// The output projection.
    public var out: Linear

    /// Binds the projections under `w` at `keys`.
    /// - Parameters:
    ///   - w: the attention module's scope (e.g. `blocks.3.attn`).
    ///   - dim: model width; must be divisible by `heads` (model configs check this before building).
    ///   - heads: number of heads.
    ///   - keys: where the projections are stored.
    ///   - qkvBias: whether the q/k/v projections have biases.
    public init(_ w: WeightScope, dim: Int, heads: Int, keys: AttentionKeys, qkvBias: Bool = true) throws {
        precondition(heads > 0 && dim % heads == 0, "dim \(dim) not divisible by \(heads) heads")
        self.dim = dim
        self.heads = heads
        switch keys.projections {
        case .packed(let name):
            qkv = try Linear(w[name], in: dim, out: 3 * dim, bias: qkvBias)
        case .packedTensors(let weight, let bias):
            qkv = Linear(
                weight: try w.tensor(weight, shape: [3 * dim, dim]),
                bias: qkvBias ? try w.tensor(bias, shape: [3 * dim]) : nil)
        case .separate(let query, let key, let value):
            let parts = try [query, key, value].map { try Linear(w[$0], in: dim, out: dim, bias: qkvBias) }
            qkv = Linear(
                weight: Tensor.concatenate(parts.map(\.weight), axis: 0),
                bias: qkvBias ? Tensor.concatenate(parts.compactMap(\.bias), axis: 0) : nil)
        }
        out = try Linear(w[keys.output], in: dim, out: dim)
    }

    /// Attention output `[B, N, D]` (after the output projection) and the requested probabilities.
    /// - Parameters:
    ///   - x: `[B, N, D]` input (already normalized by the block).
    ///   - bias: added to the attention logits, broadcastable to `[B, H, N, N]` (ToMe's `log(size)`).
    ///   - mask: `N · N` booleans (true = attend), shared by batch and heads.
    ///   - statistics: which attention probabilities to return.
    public func callAsFunction(
        _ x: Tensor, bias: Tensor? = nil, mask: [Bool]? = nil,
        statistics: AttentionStatistics = .none
    ) -> (Tensor, Tensor?) {
        let (output, _, probabilities) = attend(x, bias: bias, mask: mask, statistics: statistics)
        return (output, probabilities)
    }

    /// Like ``callAsFunction(_:bias:mask:statistics:)``, also returning the packed `[B, N, 3D]`
    /// projections (for methods that read the keys).
    public func attend(_ x: Tensor, bias: Tensor? = nil, mask: [Bool]? = nil, statistics: AttentionStatistics = .none)
        -> (output: Tensor, qkv: Tensor, probabilities: Tensor?)
    {
        precondition(x.rank == 3 && x.shape[2] == dim, "attention input must be [B, N, \(dim)], got \(x.shape)")
        let packed = qkv(x)
        let (merged, probabilities) = packedSelfAttention(
            packed, heads: heads, bias: bias, mask: mask, statistics: statistics)
        return (out(merged), packed, probabilities)
    }
}

/// The three parts of packed `[B, N, 3D]` projections, in their order (q | k | v).
public enum PackedProjection: Int, Sendable {
    case query, key, value
}

extension Tensor {
    /// One part of packed `[B, N, 3D]` projections: `[B, N, D]`, heads contiguous.
    public func projection(_ part: PackedProjection) -> Tensor {
        let d = shape[2] / 3
        return slice(axis: 2, (part.rawValue * d)..<((part.rawValue + 1) * d))
    }
}
