import TesseraCore

/// Where a pre-norm transformer block's weights sit in a checkpoint, relative to the block's
/// scope. Each model family declares its own preset next to its model (timm's in `TimmViT.swift`,
/// open_clip's in `TiTok.swift`, Hugging Face's in `HFVisionConfig.swift`).
public struct BlockKeys: Sendable {
    /// The first LayerNorm (before attention).
    public var norm1: String
    /// The attention module's scope and the keys inside it.
    public var attention: String
    /// The projections' keys inside ``attention``.
    public var attentionKeys: AttentionKeys
    /// The second LayerNorm (before the MLP).
    public var norm2: String
    /// The MLP's scope and its two linear layers inside it.
    public var mlp: String
    /// The MLP's two linear layers inside ``mlp``.
    public var mlpLayers: (first: String, second: String)
    /// Optional LayerScale tensors (full keys inside the block, e.g. `ls1.gamma`), used when present.
    public var layerScale1: String?
    /// Optional LayerScale of the MLP sublayer.
    public var layerScale2: String?

    /// A block layout; see the presets of the model families for real examples.
    public init(
        norm1: String, attention: String, attentionKeys: AttentionKeys, norm2: String, mlp: String,
        mlpLayers: (first: String, second: String), layerScale1: String? = nil, layerScale2: String? = nil
    ) {
        self.norm1 = norm1
        self.attention = attention
        self.attentionKeys = attentionKeys
        self.norm2 = norm2
        self.mlp = mlp
        self.mlpLayers = mlpLayers
        self.layerScale1 = layerScale1
        self.layerScale2 = layerScale2
    }
}

/// The shape of a pre-norm block: width, heads, MLP width, activation, LayerNorm eps.
public struct BlockShape: Sendable, Equatable {
    /// Model width.
    public var dim: Int
    /// Attention heads.
    public var heads: Int
    /// The MLP's hidden width.
    public var mlpHidden: Int
    /// The MLP's activation.
    public var activation: Activation
    /// LayerNorm epsilon.
    public var eps: Float
    /// Whether the q/k/v projections have biases.
    public var qkvBias: Bool

    /// - Parameters:
    ///   - dim: model width (divisible by `heads`).
    ///   - heads: attention heads.
    ///   - mlpHidden: the MLP's hidden width.
    ///   - activation: the MLP's activation.
    ///   - eps: LayerNorm epsilon.
    ///   - qkvBias: whether the q/k/v projections have biases.
    public init(dim: Int, heads: Int, mlpHidden: Int, activation: Activation, eps: Float, qkvBias: Bool = true) {
        self.dim = dim
        self.heads = heads
        self.mlpHidden = mlpHidden
        self.activation = activation
        self.eps = eps
        self.qkvBias = qkvBias
    }
}

/// The attention half of a block, with everything observers need: the normalized input, the
/// packed q/k/v, the output after LayerScale, and the requested attention probabilities.
public struct AttentionSublayer: Sendable {
    /// `norm1(x)`, `[B, N, D]`.
    public var input: Tensor
    /// Packed projections of `input`, `[B, N, 3D]` (q | k | v, heads contiguous in each).
    public var qkv: Tensor
    /// `ls1 · attn(norm1(x))`: what the residual adds, `[B, N, D]`.
    public var output: Tensor
    /// The attention statistics asked for, if any.
    public var probabilities: Tensor?

    /// The keys `[B, N, D]`, heads contiguous.
    public var keys: Tensor { qkv.projection(.key) }
}

/// A pre-norm transformer block, `x + ls1·attn(norm1(x))` then `x + ls2·mlp(norm2(x))`, bound to
/// the key names the family declares (``BlockKeys``).
///
/// The two halves are public (``attentionSublayer(_:bias:mask:statistics:)`` and
/// ``mlpSublayer(_:)``) so a ``BlockRunner`` can observe or alter a block during the one forward
/// pass (ToMe merges between them; TransPrune reads their inputs and outputs) without
/// re-implementing it.
public struct TransformerBlock: Sendable {
    /// LayerNorm before attention.
    public var norm1: LayerNorm
    /// Self-attention with packed projections.
    public var attention: SelfAttention
    /// LayerNorm before the MLP.
    public var norm2: LayerNorm
    /// The MLP.
    public var mlp: MLP
    /// LayerScale of the attention output, `[D]`, when the checkpoint has one.
    public var layerScale1: Tensor?
    /// LayerScale of the MLP output, `[D]`.
    public var layerScale2: Tensor?

    /// Binds a block under `w` with the family's `keys`.
    public init(_ w: WeightScope, keys: BlockKeys, shape: BlockShape) throws {
        let d = shape.dim
        norm1 = try LayerNorm(w[keys.norm1], dim: d, eps: shape.eps)
        attention = try SelfAttention(
            w[keys.attention], dim: d, heads: shape.heads, keys: keys.attentionKeys,
            qkvBias: shape.qkvBias)
        norm2 = try LayerNorm(w[keys.norm2], dim: d, eps: shape.eps)
        mlp = try MLP(w[keys.mlp], dim: d, hidden: shape.mlpHidden, activation: shape.activation, names: keys.mlpLayers)
        layerScale1 = try keys.layerScale1.flatMap { try w.optionalTensor($0, shape: [d]) }
        layerScale2 = try keys.layerScale2.flatMap { try w.optionalTensor($0, shape: [d]) }
    }

    /// `ls1 · attn(norm1(x))` with its input, packed q/k/v and probabilities.
    /// - Parameters:
    ///   - x: `[B, N, D]` block input.
    ///   - bias: added to the attention logits (broadcast to `[B, H, N, N]`).
    ///   - mask: `N · N` booleans, true = attend.
    ///   - statistics: attention probabilities to return.
    public func attentionSublayer(
        _ x: Tensor, bias: Tensor? = nil, mask: [Bool]? = nil,
        statistics: AttentionStatistics = .none
    ) -> AttentionSublayer {
        let input = norm1(x)
        var (output, qkv, probabilities) = attention.attend(input, bias: bias, mask: mask, statistics: statistics)
        if let layerScale1 { output = output * layerScale1 }
        return AttentionSublayer(input: input, qkv: qkv, output: output, probabilities: probabilities)
    }

    /// `ls2 · mlp(norm2(h))` and its normalized input.
    public func mlpSublayer(_ h: Tensor) -> (input: Tensor, output: Tensor) {
        let input = norm2(h)
        var output = mlp(input)
        if let layerScale2 { output = output * layerScale2 }
        return (input, output)
    }

    /// The block applied to `[B, N, D]`, with the requested attention probabilities.
    public func callAsFunction(
        _ x: Tensor, attentionBias: Tensor? = nil, mask: [Bool]? = nil,
        statistics: AttentionStatistics = .none
    ) -> (Tensor, Tensor?) {
        var h = x
        let probabilities: Tensor?
        do {  // the sublayer's normed input and q/k/v are released before the MLP allocates
            let a = attentionSublayer(x, bias: attentionBias, mask: mask, statistics: statistics)
            h.add(a.output)
            probabilities = a.probabilities
        }
        h.add(mlpSublayer(h).output)
        return (h, probabilities)
    }
}
