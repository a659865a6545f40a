// Hugging Face `CLIPVisionModel` (transformers `models/clip/modeling_clip.py`), e.g. the vision
// tower of openai/clip-vit-large-patch14-336 that LLaVA uses. Loads a vision-only checkpoint or
// the vision half of a full CLIP checkpoint.
import Foundation
import TesseraCore
import TesseraMedia
import TesseraNN

/// The CLIP vision transformer: patch embedding (no bias) + CLS + positions → pre-LayerNorm →
/// encoder layers (QuickGELU for OpenAI weights) → `post_layernorm` on the CLS token
/// (`pooler_output`); `last_hidden_state` is the last layer's output as it is.
public struct CLIPVisionTower: VisionEncoder {
    /// The vision config as config.json states it.
    public let config: HFVisionConfig
    /// Family `clip`, one CLS token before the patches.
    public let descriptor: EncoderDescriptor
    /// CLIPImageProcessor's transform (preprocessor_config.json).
    public let preprocessing: Preprocessing
    /// The encoder layers `vision_model.encoder.layers.{i}`.
    public let stack: TransformerStack
    let patchEmbed: PatchEmbedding
    let classEmbedding: Tensor
    let positionEmbedding: Tensor
    let preNorm: LayerNorm
    let postNorm: LayerNorm

    /// Loads config.json, preprocessor_config.json and the weights of a CLIP (vision) directory.
    /// - Throws: ``ModelConfigError`` for the config, `WeightLoadError` listing every key problem.
    public init(directory: URL) throws {
        // A full CLIP checkpoint also holds the text tower and projections.
        let opened = try HFVisionDirectory(
            directory, family: .clip,
            ignoring: ["text_model.", "text_projection.", "visual_projection.", "logit_scale"])
        let config = opened.config, loader = opened.loader
        (self.config, descriptor, preprocessing) = (config, opened.descriptor, opened.preprocessing)
        let w = loader.root["vision_model"], d = config.hiddenSize
        patchEmbed = try PatchEmbedding(
            w["embeddings"]["patch_embedding"], dim: d, patchSize: config.patchSize, bias: false)
        classEmbedding = try w["embeddings"].tensor("class_embedding", shape: [d])
        positionEmbedding = try w["embeddings"].tensor(
            "position_embedding.weight", shape: [config.grid * config.grid + 1, d])
        preNorm = try LayerNorm(w["pre_layrnorm"], dim: d, eps: config.layerNormEps)
        stack = try config.encoderStack(w["encoder"]["layers"])
        postNorm = try LayerNorm(w["post_layernorm"], dim: d, eps: config.layerNormEps)
        try loader.finish()
    }

    /// Encoder input `[B, 1 + N, D]`: patch embedding, CLS, positions, `pre_layrnorm`.
    public func embed(_ pixels: Tensor) -> Tensor {
        requireInput(pixels, descriptor)
        let b = pixels.shape[0], d = config.hiddenSize
        let cls = classEmbedding.reshaped([1, 1, d]).expanded(batch: b)
        return preNorm(Tensor.concatenate([cls, patchEmbed(pixels)], axis: 1) + positionEmbedding)
    }

    /// `last_hidden_state` is the last layer's output; `pooler_output` the post-normalized CLS token.
    public func finish(_ hidden: Tensor) -> (last: Tensor, pooled: Tensor?) {
        let b = hidden.shape[0], d = config.hiddenSize
        return (hidden, postNorm(hidden.slice(axis: 1, 0..<1).reshaped([b, d])))
    }
}
