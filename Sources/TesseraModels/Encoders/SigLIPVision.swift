// Hugging Face `SiglipVisionModel` (transformers `models/siglip/modeling_siglip.py`), e.g. the
// vision tower of google/siglip-so400m-patch14-384. No CLS token; the pooled output comes from an
// attention-pooling head (a learned probe attending over the patch tokens).
import Foundation
import TesseraCore
import TesseraMedia
import TesseraNN

/// The SigLIP vision transformer: patch embedding (with bias) + positions → encoder layers
/// (tanh GELU) → `post_layernorm` on every token → optional attention-pooling head.
public struct SigLIPVisionTower: VisionEncoder {
    /// The vision config as config.json states it.
    public let config: HFVisionConfig
    /// Family `siglip`, no prefix tokens.
    public let descriptor: EncoderDescriptor
    /// SiglipImageProcessor's transform (preprocessor_config.json).
    public let preprocessing: Preprocessing
    /// The encoder layers `vision_model.encoder.layers.{i}`.
    public let stack: TransformerStack
    let patchEmbed: PatchEmbedding
    let positionEmbedding: Tensor
    let postNorm: LayerNorm
    let head: PoolingHead?

    /// `SiglipMultiheadAttentionPoolingHead`: probe → cross-attention over the tokens
    /// (`nn.MultiheadAttention`) → residual MLP on its LayerNorm.
    struct PoolingHead: Sendable {
        let probe: Tensor
        let inProjection: Linear
        let outProjection: Linear
        let norm: LayerNorm
        let mlp: MLP
        let heads: Int

        func callAsFunction(_ x: Tensor) -> Tensor {
            let (b, n, d) = (x.shape[0], x.shape[1], x.shape[2])
            let hd = d / heads
            let w = inProjection.weight.split([d, d, d], axis: 0)
            let bias = inProjection.bias.map { $0.split([d, d, d], axis: 0) }
            let q = probe.linear(weight: w[0], bias: bias?[0])  // [1, 1, D]
            let k = x.linear(weight: w[1], bias: bias?[1]), v = x.linear(weight: w[2], bias: bias?[2])
            func split(_ t: Tensor, _ len: Int) -> Tensor {
                t.reshaped([t.shape[0], len, heads, hd]).permuted([0, 2, 1, 3])
            }
            let (o, _) = scaledDotProductAttention(q: split(q, 1).expanded(batch: b), k: split(k, n), v: split(v, n))
            var h = outProjection(o.permuted([0, 2, 1, 3]).reshaped([b, 1, d]))
            h.add(mlp(norm(h)))
            return h.reshaped([b, d])
        }
    }

    /// Loads config.json, preprocessor_config.json and the weights of a SigLIP (vision) directory.
    /// - Throws: ``ModelConfigError`` for the config, `WeightLoadError` listing every key problem.
    public init(directory: URL) throws {
        let opened = try HFVisionDirectory(
            directory, family: .siglip, ignoring: ["text_model.", "logit_scale", "logit_bias"])
        let config = opened.config, loader = opened.loader
        (self.config, descriptor, preprocessing) = (config, opened.descriptor, opened.preprocessing)
        let w = loader.root["vision_model"], d = config.hiddenSize
        patchEmbed = try PatchEmbedding(w["embeddings"]["patch_embedding"], dim: d, patchSize: config.patchSize)
        positionEmbedding = try w["embeddings"].tensor(
            "position_embedding.weight", shape: [config.grid * config.grid, d])
        stack = try config.encoderStack(w["encoder"]["layers"])
        postNorm = try LayerNorm(w["post_layernorm"], dim: d, eps: config.layerNormEps)
        if config.useHead {
            let h = w["head"]
            head = PoolingHead(
                probe: try h.tensor("probe", shape: [1, 1, d]),
                inProjection: Linear(
                    weight: try h.tensor("attention.in_proj_weight", shape: [3 * d, d]),
                    bias: try h.tensor("attention.in_proj_bias", shape: [3 * d])),
                outProjection: try Linear(h["attention"]["out_proj"], in: d, out: d),
                norm: try LayerNorm(h["layernorm"], dim: d, eps: config.layerNormEps),
                mlp: try MLP(h["mlp"], dim: d, hidden: config.intermediateSize, activation: config.activation),
                heads: config.heads)
        } else {
            head = nil
        }
        try loader.finish()
    }

    /// Encoder input `[B, N, D]`: patch embedding + positions.
    public func embed(_ pixels: Tensor) -> Tensor {
        requireInput(pixels, descriptor)
        return patchEmbed(pixels) + positionEmbedding
    }

    /// `post_layernorm` on every token, then the pooling head (over merged tokens too, with ToMe).
    public func finish(_ hidden: Tensor) -> (last: Tensor, pooled: Tensor?) {
        let last = postNorm(hidden)
        return (last, head.map { $0(last) })
    }
}
