// Hugging Face `SiglipVisionModel` (transformers `models/siglip/modeling_siglip.py`), e.g. the
// vision tower of google/siglip-so400m-patch14-384. No CLS token; the pooled output comes from an
// attention-pooling head (a learned probe attending over the patch tokens).
import Foundation
import TesseraCore
import TesseraMedia
import TesseraNN
import TesseraReduction

/// The SigLIP vision transformer: patch embedding (with bias) + positions → encoder layers
/// (tanh GELU) → `post_layernorm` on every token → optional attention-pooling head.
public struct SigLIPVisionTower: Sendable {
    public let config: HFVisionConfig
    public let processor: HFImageProcessor
    let patchEmbed: Conv2d
    let positionEmbedding: Tensor
    public let layers: [TransformerBlock]
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
            let w = inProjection.weight.split([d, d, d], axis: 0), bias = inProjection.bias!.split([d, d, d], axis: 0)
            let q = probe.linear(weight: w[0], bias: bias[0])                                   // [1, 1, D]
            let k = x.linear(weight: w[1], bias: bias[1]), v = x.linear(weight: w[2], bias: bias[2])
            func heads4(_ t: Tensor, _ len: Int) -> Tensor { t.reshaped([t.shape[0], len, heads, hd]).permuted([0, 2, 1, 3]) }
            let qb = Tensor.concatenate(Array(repeating: heads4(q, 1), count: b), axis: 0)
            let (o, _) = scaledDotProductAttention(q: qb, k: heads4(k, n), v: heads4(v, n))
            var h = outProjection(o.permuted([0, 2, 1, 3]).reshaped([b, 1, d]))
            h.add(mlp(norm(h)))
            return h.reshaped([b, d])
        }
    }

    public init(directory: URL) throws {
        let config = try HFVisionConfig(directory: directory)
        guard config.modelType == "siglip" else { throw ModelConfigError(path: directory.path, reason: "not a SigLIP model") }
        self.config = config
        processor = try HFImageProcessor(directory: directory, config: config)
        let checkpoint = try Checkpoint(directory: directory)
        let loader = WeightLoader(checkpoint, renames: visionPrefixRenames(checkpoint),
                                  ignored: ["text_model.", "logit_scale", "logit_bias", "vision_model.embeddings.position_ids"])
        let w = loader.root["vision_model"], d = config.hiddenSize
        patchEmbed = Conv2d(w["embeddings"]["patch_embedding"], in: 3, out: d, kernel: (config.patchSize, config.patchSize),
                            stride: (config.patchSize, config.patchSize))
        positionEmbedding = w["embeddings"].tensor("position_embedding.weight", shape: [config.grid * config.grid, d])
        layers = config.encoderLayers(w["encoder"]["layers"])
        postNorm = LayerNorm(w["post_layernorm"], dim: d, eps: config.layerNormEps)
        if config.useHead {
            let h = w["head"]
            head = PoolingHead(probe: h.tensor("probe", shape: [1, 1, d]),
                               inProjection: Linear(weight: h.tensor("attention.in_proj_weight", shape: [3 * d, d]),
                                                    bias: h.tensor("attention.in_proj_bias", shape: [3 * d])),
                               outProjection: Linear(h["attention"]["out_proj"], in: d, out: d),
                               norm: LayerNorm(h["layernorm"], dim: d, eps: config.layerNormEps),
                               mlp: MLP(h["mlp"], dim: d, hidden: config.intermediateSize, activation: config.activation),
                               heads: config.heads)
        } else {
            head = nil
        }
        try loader.finish()
    }

    /// No CLS token: every token is a patch.
    public var prefixTokens: Int { 0 }

    /// Encoder input `[B, N, D]`: patch embedding + positions.
    public func embed(_ pixels: Tensor) -> Tensor {
        let b = pixels.shape[0], d = config.hiddenSize, g2 = config.grid * config.grid
        return patchEmbed(pixels).reshaped([b, d, g2]).transposed(1, 2) + positionEmbedding
    }

    /// Runs `[B, 3, S, S]` pixels through the first `layerCount` layers (all by default).
    public func forward(_ pixels: Tensor, layerCount: Int? = nil, statistics: AttentionStatistics = .none) -> VisionTowerOutput {
        let (hidden, attentions) = runEncoder(layers, embed(pixels), layerCount: layerCount, statistics: statistics)
        return output(hidden, attentions: attentions, complete: layerCount == nil, merges: nil)
    }

    /// The forward pass with ToMe inside every layer (after the attention residual; no token is
    /// protected, SigLIP has no CLS). The pooling head attends over the merged tokens.
    public func forward(_ pixels: Tensor, layerCount: Int? = nil, merging: TokenMerging) -> VisionTowerOutput {
        let (hidden, trace) = runEncoderMerging(layers, embed(pixels), merging: merging, classToken: false, layerCount: layerCount)
        return output(hidden, attentions: [], complete: layerCount == nil, merges: trace)
    }

    func output(_ hidden: [Tensor], attentions: [Tensor], complete: Bool, merges: MergeTrace?) -> VisionTowerOutput {
        let x = hidden.last!
        guard complete else { return VisionTowerOutput(hiddenStates: hidden, attentions: attentions, lastHiddenState: x, pooled: nil, merges: merges) }
        let last = postNorm(x)
        return VisionTowerOutput(hiddenStates: hidden, attentions: attentions, lastHiddenState: last, pooled: head.map { $0(last) }, merges: merges)
    }
}
