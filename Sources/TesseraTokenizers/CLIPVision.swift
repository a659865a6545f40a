// Hugging Face `CLIPVisionModel` (transformers `models/clip/modeling_clip.py`), e.g. the vision
// tower of openai/clip-vit-large-patch14-336 that LLaVA uses. Loads a vision-only checkpoint or
// the vision half of a full CLIP checkpoint.
import Foundation
import TesseraCore
import TesseraMedia
import TesseraNN
import TesseraReduction

/// Outputs of a vision tower forward pass.
public struct VisionTowerOutput: Sendable {
    /// `hidden_states`: the encoder input, then the output of every layer (`[B, N, D]` each).
    public var hiddenStates: [Tensor]
    /// The requested attention probabilities of every layer (empty when none were asked for).
    public var attentions: [Tensor]
    /// `last_hidden_state` (SigLIP: after `post_layernorm`).
    public var lastHiddenState: Tensor
    /// `pooler_output` (CLIP: normalized CLS token; SigLIP: attention-pooling head), if any.
    public var pooled: Tensor?
    /// With ToMe inside the forward pass: sizes and sources of the tokens after the last layer run.
    public var merges: MergeTrace?

    public init(hiddenStates: [Tensor], attentions: [Tensor], lastHiddenState: Tensor, pooled: Tensor?, merges: MergeTrace? = nil) {
        self.hiddenStates = hiddenStates
        self.attentions = attentions
        self.lastHiddenState = lastHiddenState
        self.pooled = pooled
        self.merges = merges
    }
}

/// The CLIP vision transformer: patch embedding (no bias) + CLS + positions → pre-LayerNorm →
/// encoder layers (QuickGELU for OpenAI weights) → `post_layernorm` on the CLS token.
public struct CLIPVisionTower: Sendable {
    public let config: HFVisionConfig
    public let processor: HFImageProcessor
    let patchEmbed: Conv2d
    let classEmbedding: Tensor
    let positionEmbedding: Tensor
    let preNorm: LayerNorm
    public let layers: [TransformerBlock]
    let postNorm: LayerNorm

    public init(directory: URL) throws {
        let config = try HFVisionConfig(directory: directory)
        guard config.modelType == "clip" else { throw ModelConfigError(path: directory.path, reason: "not a CLIP model") }
        self.config = config
        processor = try HFImageProcessor(directory: directory, config: config)
        // A full CLIP checkpoint also holds the text tower and projections.
        let checkpoint = try Checkpoint(directory: directory)
        let loader = WeightLoader(checkpoint, renames: visionPrefixRenames(checkpoint),
                                  ignored: ["text_model.", "text_projection.", "visual_projection.", "logit_scale", "vision_model.embeddings.position_ids"])
        let w = loader.root["vision_model"], d = config.hiddenSize
        patchEmbed = Conv2d(w["embeddings"]["patch_embedding"], in: 3, out: d, kernel: (config.patchSize, config.patchSize),
                            stride: (config.patchSize, config.patchSize), bias: false)
        classEmbedding = w["embeddings"].tensor("class_embedding", shape: [d])
        positionEmbedding = w["embeddings"].tensor("position_embedding.weight", shape: [config.grid * config.grid + 1, d])
        preNorm = LayerNorm(w["pre_layrnorm"], dim: d, eps: config.layerNormEps)
        layers = config.encoderLayers(w["encoder"]["layers"])
        postNorm = LayerNorm(w["post_layernorm"], dim: d, eps: config.layerNormEps)
        try loader.finish()
    }

    /// Tokens are CLS then patches.
    public var prefixTokens: Int { 1 }

    /// Encoder input `[B, 1 + N, D]`: patch embedding, CLS, positions, `pre_layrnorm`.
    public func embed(_ pixels: Tensor) -> Tensor {
        let b = pixels.shape[0], d = config.hiddenSize, g2 = config.grid * config.grid
        let patches = patchEmbed(pixels).reshaped([b, d, g2]).transposed(1, 2)
        let cls = Tensor.concatenate(Array(repeating: classEmbedding.reshaped([1, 1, d]), count: b), axis: 0)
        return preNorm(Tensor.concatenate([cls, patches], axis: 1) + positionEmbedding)
    }

    /// Runs `[B, 3, S, S]` pixels through the first `layerCount` layers (all by default).
    public func forward(_ pixels: Tensor, layerCount: Int? = nil, statistics: AttentionStatistics = .none) -> VisionTowerOutput {
        let (hidden, attentions) = runEncoder(layers, embed(pixels), layerCount: layerCount, statistics: statistics)
        return output(hidden, attentions: attentions, complete: layerCount == nil, merges: nil)
    }

    /// The forward pass with ToMe inside every layer (after the attention residual; the CLS token
    /// is protected), as facebookresearch/ToMe patches timm. Hidden states shrink layer by layer;
    /// `merges` holds the sizes and sources after the last layer run.
    public func forward(_ pixels: Tensor, layerCount: Int? = nil, merging: TokenMerging) -> VisionTowerOutput {
        let (hidden, trace) = runEncoderMerging(layers, embed(pixels), merging: merging, classToken: true, layerCount: layerCount)
        return output(hidden, attentions: [], complete: layerCount == nil, merges: trace)
    }

    func output(_ hidden: [Tensor], attentions: [Tensor], complete: Bool, merges: MergeTrace?) -> VisionTowerOutput {
        let x = hidden.last!, b = x.shape[0], d = config.hiddenSize
        let pooled = complete ? postNorm(x.slice(axis: 1, 0..<1).reshaped([b, d])) : nil
        return VisionTowerOutput(hiddenStates: hidden, attentions: attentions, lastHiddenState: x, pooled: pooled, merges: merges)
    }
}
