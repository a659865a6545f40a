// The model families Tessera loads. Adding a family is one file under Tokenizers/ or Encoders/
// and one entry here; `tessera models`, `tessera encode|decode|roundtrip` and
// `tessera features|prune` pick it up with no other change.
import Foundation
import TesseraCore
import TesseraNN
import TesseraStreams

/// The tokenizer families, in the order their predicates are tried.
public enum TokenizerRegistry {
    /// The registry: one ``ModelEntry`` per family (`tessera models` prints it).
    public static let registry = ModelRegistry<any ImageTokenizer>(
        kind: "tokenizer",
        entries: [
            ModelEntry(
                family: "TiTok (TiTok, One-D-Piece, TA-TiTok)",
                repositories: [
                    "yucornetto/tokenizer_titok_l32_imagenet", "yucornetto/tokenizer_titok_b64_imagenet",
                    "yucornetto/tokenizer_titok_s128_imagenet", "yucornetto/tokenizer_titok_bl64_vq8k_imagenet",
                    "yucornetto/tokenizer_titok_bl128_vq8k_imagenet", "yucornetto/tokenizer_titok_sl256_vq8k_imagenet",
                    "yucornetto/tokenizer_titok_ll32_vae_c16_imagenet",
                    "yucornetto/tokenizer_titok_bl64_vae_c16_imagenet",
                    "yucornetto/tokenizer_titok_bl128_vae_c16_imagenet", "turkeyju/tokenizer_tatitok_bl32_vq",
                    "turkeyju/tokenizer_tatitok_bl64_vq", "turkeyju/tokenizer_tatitok_bl128_vq",
                    "turing-motors/One-D-Piece-S-256", "turing-motors/One-D-Piece-B-256",
                    "turing-motors/One-D-Piece-L-256",
                    "Assets/models/titok-demo (bundled)",
                ],
                notes: "1D tokens: VQ 4096/8192 ids or VAE latents (--sample-seed samples); One-D-Piece decodes any "
                    + "prefix (--tokens K); TA-TiTok's decoder takes 77×768 text embeddings (--text)",
                matches: { $0.configValue("model.vq_model") != nil },
                load: { try TiTok(directory: $0.url) }),
            ModelEntry(
                family: "FlexTok",
                repositories: [
                    "EPFL-VILAB/flextok_d12_d12_in1k", "EPFL-VILAB/flextok_d18_d18_in1k",
                    "EPFL-VILAB/flextok_d18_d28_in1k", "EPFL-VILAB/flextok_d18_d28_dfn",
                ],
                notes: "1…256 FSQ tokens (64000 ids), any prefix decodes (--tokens K) by rectified flow "
                    + "(--steps, --guidance, --guidance-mode apg|cfg, --seed, --noise)",
                matches: { dir in
                    dir.metadata.values.contains { $0.contains("flextok.") }
                        || (dir.configValue("decoder._target_") as? String)?.hasPrefix("flextok.") == true
                },
                load: { try FlexTok(directory: $0.url) }),
            ModelEntry(
                family: "Chameleon VQGAN",
                repositories: [
                    "facebook/chameleon-7b", "facebook/chameleon-30b", "GAIR/Anole-7b-v0.1",
                    "chameleon original release (tokenizer/vqgan.yaml + vqgan.ckpt)",
                ],
                notes: "512² → 32×32 codes of 8192; LM ids from vocabulary_map (tokens vocabulary --from-model); "
                    + "decodes with the original release's decoder",
                matches: { dir in
                    ["chameleon", "chameleon_vqgan"].contains(dir.configValue("model_type") as? String ?? "")
                        || dir.has("tokenizer/vqgan.yaml") || dir.has("vqgan.yaml")
                },
                load: { try Chameleon(directory: $0.url) }),
            ModelEntry(
                family: "Janus-Pro / LlamaGen VQ-16",
                repositories: [
                    "deepseek-community/Janus-Pro-1B", "deepseek-community/Janus-Pro-7B", "deepseek-ai/Janus-Pro-1B",
                    "deepseek-ai/Janus-Pro-7B", "FoundationVision/LlamaGen (vq_ds16_c2i.pt)",
                ],
                notes: "384² → 24×24 codes of 16384 (L2-normalised search), decoded back; generation stream "
                    + "<begin_of_image> + codes",
                matches: { dir in
                    ["janus", "janus_vqgan"].contains(dir.configValue("model_type") as? String ?? "")
                        || dir.configValue("gen_vision_config") != nil || dir.has("vq_ds16_c2i.pt")
                        || dir.has("vq_ds16_t2i.pt")
                },
                load: { try Janus(directory: $0.url) }),
            ModelEntry(
                family: "Emu3 vision tokenizer",
                repositories: [
                    "BAAI/Emu3-VisionTokenizer (original and transformers layouts)", "BAAI/Emu3-Chat-hf",
                    "BAAI/Emu3-Gen-hf",
                ],
                notes: "smart-resized images → [H/8, W/8] codes of 32768, video clips → [T/4, H/8, W/8] "
                    + "(Emu3.encode(clip:)), decoded back (images: frame 0; clips: 4T' frames); LM span from "
                    + "vocabulary_map / tokenizer.json / emu3.tiktoken",
                matches: {
                    ["emu3", "emu3_vqgan", "Emu3VisionVQ"].contains($0.configValue("model_type") as? String ?? "")
                },
                load: { try Emu3(directory: $0.url) }),
            ModelEntry(
                family: "KL autoencoder (diffusers AutoencoderKL)",
                repositories: [
                    "EPFL-VILAB/flextok_vae_c4", "EPFL-VILAB/flextok_vae_c8", "EPFL-VILAB/flextok_vae_c16",
                ],
                notes: "continuous latents [H/8, W/8] × C (posterior mean; --sample-seed samples), decoded back",
                matches: { $0.configValue("_class_name") as? String == "AutoencoderKL" },
                load: { try DiffusersVAE(directory: $0.url) }),
        ])

    /// Every registered family.
    public static var entries: [ModelEntry<any ImageTokenizer>] { registry.entries }

    /// Loads the tokenizer in `directory` with the family that recognises it.
    /// - Throws: ``UnknownModelError`` listing the known families, or the family's own load error.
    public static func load(_ directory: URL) throws -> any ImageTokenizer { try registry.load(directory) }

    /// Loads the tokenizer in `directory` reproducing `behaviour` where the original code and
    /// transformers' port differ (Chameleon's preprocessing, Janus' search, Emu3's resolution text).
    /// - Throws: ``TokenizerError`` when the family has a single behaviour, or its load error.
    public static func load(_ directory: URL, behaviour: ReferenceBehaviour) throws -> any ImageTokenizer {
        guard behaviour == .transformers else { return try load(directory) }
        let model = try load(directory)
        switch model {
        case is Chameleon: return try Chameleon(directory: directory, processor: .transformers)
        case is Janus: return try Janus(directory: directory, search: .transformers)
        case is Emu3: return try Emu3(directory: directory, behaviour: .transformers)
        default: throw TokenizerError("\(model.modelID) (\(model.descriptor.family)) has no transformers variant")
        }
    }
}

extension TokenizerRegistry {
    /// The image span of the LM whose files are in `directory`: its tokenizer's
    /// ``LanguageModelImageTokenizer/lmVocabulary``, or, for an original Emu3 release
    /// (`emu3.tiktoken`; its VQ-VAE is in a separate repository), the vocabulary alone.
    /// - Throws: ``TokenizerError`` when the directory's model feeds no LM or has no vocabulary files,
    ///   ``ModelConfigError`` naming a file that lacks the image tokens.
    public static func lmVocabulary(_ directory: URL, behaviour: ReferenceBehaviour = .original) throws
        -> VisualVocabulary
    {
        if FileManager.default.fileExists(atPath: directory.appendingPathComponent("emu3.tiktoken").path),
            let vocabulary = try Emu3.lmVocabulary(directory: directory, behaviour: behaviour)
        {
            return vocabulary
        }
        let tokenizer = try load(directory, behaviour: behaviour)
        guard let lm = tokenizer as? any LanguageModelImageTokenizer else {
            throw TokenizerError(
                "\(tokenizer.modelID) (\(tokenizer.descriptor.family)) feeds no LM: it has no LM vocabulary")
        }
        guard let vocabulary = lm.lmVocabulary else {
            throw TokenizerError(
                "\(directory.path) has no LM vocabulary (config.json vocabulary_map, tokenizer.json or emu3.tiktoken)")
        }
        return vocabulary
    }
}

/// The vision encoder families, in the order their predicates are tried.
public enum VisionEncoderRegistry {
    /// The registry: one ``ModelEntry`` per family (`tessera models` prints it).
    public static let registry = ModelRegistry<any VisionEncoder>(
        kind: "vision encoder",
        entries: [
            ModelEntry(
                family: "CLIP vision (Hugging Face)",
                repositories: [
                    "openai/clip-vit-large-patch14-336", "openai/clip-vit-large-patch14",
                    "openai/clip-vit-base-patch16", "openai/clip-vit-base-patch32",
                ],
                notes: "CLS token; LLaVA 1.5 / NeXT's tower; full CLIP or vision-only checkpoints",
                matches: { hfFamily($0) == .clip },
                load: { try CLIPVisionTower(directory: $0.url) }),
            ModelEntry(
                family: "SigLIP vision (Hugging Face)",
                repositories: [
                    "google/siglip-so400m-patch14-384", "google/siglip-base-patch16-224",
                    "google/siglip-large-patch16-384",
                ],
                notes: "no CLS token (attention-pooling head); pruning ranks patches by attention received",
                matches: { hfFamily($0) == .siglip },
                load: { try SigLIPVisionTower(directory: $0.url) }),
            ModelEntry(
                family: "timm ViT",
                repositories: [
                    "timm/vit_base_patch16_224.augreg2_in21k_ft_in1k", "timm/vit_tiny_patch16_224.augreg_in21k_ft_in1k",
                    "timm/vit_small_patch16_384.augreg_in21k_ft_in1k",
                ],
                notes:
                    "vit_{tiny,small,medium,base,large,huge}_patch{P}_{S} hub directories (config.json + "
                    + "model.safetensors)",
                matches: { ($0.configValue("architecture") as? String)?.hasPrefix("vit_") == true },
                load: { try TimmViT(directory: $0.url) }),
        ])

    /// Every registered family.
    public static var entries: [ModelEntry<any VisionEncoder>] { registry.entries }

    /// Loads the vision encoder in `directory` with the family that recognises it.
    /// - Throws: ``UnknownModelError`` listing the known families, or the family's own load error.
    public static func load(_ directory: URL) throws -> any VisionEncoder { try registry.load(directory) }

    /// The CLIP/SigLIP family a Hugging Face config names (`model_type`, or the vision config's).
    static func hfFamily(_ directory: ModelDirectory) -> HFVisionConfig.Family? {
        let type =
            directory.configValue("model_type") as? String
            ?? directory.configValue("vision_config.model_type") as? String
        return type.flatMap(HFVisionConfig.Family.init(modelType:))
    }
}
