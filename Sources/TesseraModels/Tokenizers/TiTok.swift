// TiTok, One-D-Piece and TA-TiTok (bytedance/1d-tokenizer `modeling/titok.py`,
// `modeling/modules/blocks.py`; turingmotors/One-D-Piece), loaded from the Hugging Face
// directories as published: config.json (the training config, `model.vq_model.*`) and
// model.safetensors with the original key names.
import Foundation
import TesseraCore
import TesseraMedia
import TesseraNN
import TesseraQuantizers

// MARK: - Configuration

/// TiTok's configuration as its config.json states it. Keys missing from old checkpoints
/// take the original code's defaults: `is_legacy` true, `quantize_mode` "vq".
public struct TiTokConfig: Sendable, Equatable {
    /// One of TiTok's two ViTs (encoder or decoder).
    public struct ViT: Sendable, Equatable {
        /// Token width.
        public var width: Int
        /// Transformer blocks.
        public var layers: Int
        /// Attention heads.
        public var heads: Int
        /// Patch side in pixels.
        public var patchSize: Int

        /// The stack `transformer.{i}`: open_clip residual attention blocks (exact GELU, eps 1e-5).
        func stack(_ w: WeightScope) throws -> TransformerStack {
            try TransformerStack(
                w, count: layers, keys: .openCLIP,
                shape: BlockShape(dim: width, heads: heads, mlpHidden: 4 * width, activation: .gelu, eps: 1e-5))
        }
    }

    /// Square input side (`dataset.preprocessing.crop_size`, 256 by default).
    public var imageSize: Int
    /// The encoder ViT.
    public var encoder: ViT
    /// The decoder ViT.
    public var decoder: ViT
    /// Latent tokens per image (`num_latent_tokens`).
    public var tokens: Int
    /// Channels per token (`token_size`).
    public var tokenSize: Int
    /// What sits between encoder and decoder (`quantize_mode`).
    public var bottleneck: Bottleneck
    /// Nearest-codeword search on L2-normalised vectors (`use_l2_norm`).
    public var useL2Norm: Bool
    /// Legacy encoder reshape and proxy-code decoder head.
    public var isLegacy: Bool
    /// Two-stage decoding through the MaskGIT-VQGAN pixel decoder.
    public var twoStage: Bool
    /// The MaskGIT-VQGAN pixel decoder's shape (`model.pixel_decoder`).
    public var pixelDecoder: PixelDecoderConfig
    /// TA-TiTok text conditioning (context length, embedding width), when the decoder has it.
    public var textContext: (length: Int, dim: Int)? {
        get { textLength.map { ($0, textDim) } }
        set { textLength = newValue?.length; textDim = newValue?.dim ?? 768 }
    }
    var textLength: Int?
    var textDim: Int = 768
    /// The config.json this came from, named by ``validate(against:)``'s errors.
    var path: String?
    /// Resampling filter of the model's preprocessing (bicubic; One-D-Piece: bilinear).
    public var resizeFilter: ResizeFilter

    /// `quantize_mode`: a VQ codebook, or a VAE posterior (continuous tokens).
    public enum Bottleneck: Sendable, Equatable {
        case vq(codebookSize: Int)
        case vae
    }

    /// Patches per side.
    public var grid: Int { imageSize / encoder.patchSize }
    /// Whether the tokens are continuous (VAE bottleneck).
    public var isVAE: Bool { bottleneck == .vae }
    /// Codebook entries (VQ), nil for the VAE.
    public var codebookSize: Int? {
        if case .vq(let size) = bottleneck { size } else { nil }
    }

    static let sizes: [String: (width: Int, layers: Int, heads: Int)] = [
        "small": (512, 8, 8), "base": (768, 12, 12), "large": (1024, 24, 16),
    ]
}

/// config.json as written by the original `TiTok._save_pretrained` (an OmegaConf dump).
struct TiTokHubConfig: Decodable {
    struct VQModel: Decodable {
        var codebook_size: Int?
        var token_size: Int
        var use_l2_norm: Bool?
        var vit_enc_model_size: String
        var vit_dec_model_size: String
        var vit_enc_patch_size: Int
        var vit_dec_patch_size: Int
        var num_latent_tokens: Int
        var finetune_decoder: Bool?
        var is_legacy: Bool?
        var quantize_mode: String?
        var text_context_length: Int?
        var text_embed_dim: Int?
        // Tessera extensions: explicit widths for models smaller than the published ones.
        var vit_enc_width: Int?
        var vit_enc_num_layers: Int?
        var vit_enc_num_heads: Int?
        var vit_dec_width: Int?
        var vit_dec_num_layers: Int?
        var vit_dec_num_heads: Int?
    }
    struct Model: Decodable {
        /// "one_d_piece" in One-D-Piece's configs.
        var type: String?
        var vq_model: VQModel
        var pixel_decoder: PixelDecoderConfig?
    }
    struct Dataset: Decodable {
        struct Preprocessing: Decodable {
            var crop_size: Int?
            var interpolation: String?
        }
        var preprocessing: Preprocessing?
    }
    var model: Model
    var dataset: Dataset?
}

extension TiTokConfig {
    /// Reads config.json from a model directory.
    public init(directory: URL) throws {
        let hub = try loadModelConfig(TiTokHubConfig.self, directory: directory)
        let path = directory.appendingPathComponent("config.json").path
        let v = hub.model.vq_model
        func vit(_ size: String, _ width: Int?, _ layers: Int?, _ heads: Int?, _ patch: Int) throws -> ViT {
            let base = TiTokConfig.sizes[size]
            guard let w = width ?? base?.width, let l = layers ?? base?.layers, let h = heads ?? base?.heads else {
                throw ModelConfigError(path: path, reason: "unknown ViT size '\(size)' (small, base or large)")
            }
            return ViT(width: w, layers: l, heads: h, patchSize: patch)
        }
        imageSize = hub.dataset?.preprocessing?.crop_size ?? 256
        encoder = try vit(
            v.vit_enc_model_size, v.vit_enc_width, v.vit_enc_num_layers, v.vit_enc_num_heads, v.vit_enc_patch_size)
        decoder = try vit(
            v.vit_dec_model_size, v.vit_dec_width, v.vit_dec_num_layers, v.vit_dec_num_heads, v.vit_dec_patch_size)
        tokens = v.num_latent_tokens
        tokenSize = v.token_size
        switch v.quantize_mode ?? "vq" {
        case "vq":
            guard let size = v.codebook_size, size > 0 else {
                throw ModelConfigError(path: path, reason: "vq model without a positive codebook_size")
            }
            bottleneck = .vq(codebookSize: size)
        case "vae":
            bottleneck = .vae
        case let mode:
            throw ModelConfigError(path: path, reason: "unknown quantize_mode '\(mode)' (vq or vae)")
        }
        useL2Norm = v.use_l2_norm ?? false
        isLegacy = v.is_legacy ?? true
        twoStage = (v.finetune_decoder ?? true) && bottleneck != .vae
        pixelDecoder = hub.model.pixel_decoder ?? PixelDecoderConfig()
        textLength = v.text_context_length
        textDim = v.text_embed_dim ?? 768
        // One-D-Piece's inference script resizes with torchvision's default (bilinear).
        let defaultFilter: ResizeFilter = hub.model.type == "one_d_piece" ? .bilinear : .bicubic
        resizeFilter = hub.dataset?.preprocessing?.interpolation.flatMap(ResizeFilter.init(rawValue:)) ?? defaultFilter
        try checkRanges(ConfigCheck(path: path))
        guard encoder.patchSize == decoder.patchSize, imageSize % encoder.patchSize == 0 else {
            throw ModelConfigError(
                path: path,
                reason: "image size \(imageSize) and patch sizes \(encoder.patchSize)/\(decoder.patchSize) do not fit")
        }
        guard encoder.width % encoder.heads == 0, decoder.width % decoder.heads == 0, tokens > 0 else {
            throw ModelConfigError(path: path, reason: "inconsistent ViT widths/heads or token count")
        }
        guard !isLegacy || twoStage || isVAE else {
            throw ModelConfigError(
                path: path,
                reason:
                    "legacy TiTok without finetune_decoder predicts proxy codes only (stage-1 checkpoint); it cannot "
                    + "produce images"
            )
        }
        self.path = path
    }

    /// Range checks of every size, before any of them sizes an allocation (hostile or broken
    /// configs: negative, zero or absurd values).
    func checkRanges(_ check: ConfigCheck) throws {
        try check.size("dataset.preprocessing.crop_size", imageSize, in: 1...8192)
        for (name, vit) in [("enc", encoder), ("dec", decoder)] {
            try check.size("vit_\(name)_patch_size", vit.patchSize, in: 1...imageSize)
            try check.size("vit_\(name)_width", vit.width, in: 1...65536)
            try check.size("vit_\(name)_num_layers", vit.layers, in: 1...1024)
            try check.size("vit_\(name)_num_heads", vit.heads, in: 1...vit.width)
        }
        try check.size("num_latent_tokens", tokens, in: 1...65536)
        try check.size("token_size", tokenSize, in: 1...65536)
        if let size = codebookSize { try check.size("codebook_size", size, in: 1...(1 << 24)) }
        if let text = textContext {
            try check.size("text_context_length", text.length, in: 1...4096)
            try check.size("text_embed_dim", text.dim, in: 1...65536)
        }
        if twoStage {
            let p = pixelDecoder
            try check.size("pixel_decoder.hidden_channels", p.hiddenChannels, in: 1...4096)
            try check.size("pixel_decoder.z_channels", p.latentChannels, in: 1...4096)
            try check.size("pixel_decoder.num_res_blocks", p.residualBlocks, in: 1...16)
            try check.size("pixel_decoder.channel_mult (levels)", p.channelMultipliers.count, in: 1...8)
            for m in p.channelMultipliers {
                try check.size("pixel_decoder.channel_mult", m, in: 1...16)
                // GroupNorm(32) over every level's channels
                try check.size(
                    "pixel_decoder.hidden_channels × channel_mult mod 32", p.hiddenChannels * m % 32, in: 0...0)
            }
        }
    }

    /// Ranges, then the checkpoint's tensors against the sizes that shape them (widths, depths,
    /// grid, tokens, codebook, pixel decoder), so a config that disagrees with its weights is
    /// refused before a model of its sizes is allocated.
    /// - Throws: ``ModelConfigError`` naming the config file and the field.
    public func validate(against checkpoint: Checkpoint) throws {
        let check = ConfigCheck(path: path ?? checkpoint.path)
        try checkRanges(check)
        let cells = grid * grid + 1
        for (name, vit, scope) in [("enc", encoder, "encoder"), ("dec", decoder, "decoder")] {
            try check.agrees(
                checkpoint, "\(scope).positional_embedding", [cells, vit.width],
                fields: "crop_size, vit_\(name)_patch_size and vit_\(name)_width")
            try check.agrees(
                checkpoint, "\(scope).latent_token_positional_embedding", [tokens, vit.width],
                fields: "num_latent_tokens and vit_\(name)_width")
            try check.agrees(
                checkpoint, "\(scope).transformer.\(vit.layers - 1).ln_1.weight", [vit.width],
                fields: "vit_\(name)_num_layers and vit_\(name)_width")
        }
        try check.agrees(
            checkpoint, "decoder.decoder_embed.weight", [decoder.width, tokenSize], fields: "token_size")
        if let size = codebookSize {
            try check.agrees(
                checkpoint, "quantize.embedding.weight", [size, tokenSize], fields: "codebook_size and token_size")
        }
        guard twoStage else { return }
        let p = pixelDecoder, mult = p.channelMultipliers, top = p.hiddenChannels * mult[mult.count - 1]
        let fields = "pixel_decoder sizes"
        try check.agrees(checkpoint, "pixel_decoder.conv_in.weight", [top, p.latentChannels, 3, 3], fields: fields)
        try check.agrees(
            checkpoint, "pixel_decoder.mid.\(p.residualBlocks - 1).conv2.weight", [top, top, 3, 3], fields: fields)
        for (i, m) in mult.enumerated() {
            let c = p.hiddenChannels * m
            try check.agrees(
                checkpoint, "pixel_decoder.up.\(i).block.\(p.residualBlocks - 1).conv2.weight", [c, c, 3, 3],
                fields: fields)
        }
    }
}

extension BlockKeys {
    /// open_clip `ResidualAttentionBlock` (TiTok's transformer): `ln_1`, `attn.in_proj_*`,
    /// `attn.out_proj`, `ln_2`, `mlp.c_fc`, `mlp.c_proj`, optional `ls_1.gamma` / `ls_2.gamma`.
    public static let openCLIP = BlockKeys(
        norm1: "ln_1", attention: "attn",
        attentionKeys: AttentionKeys(
            projections: .packedTensors(weight: "in_proj_weight", bias: "in_proj_bias"),
            output: "out_proj"),
        norm2: "ln_2", mlp: "mlp", mlpLayers: ("c_fc", "c_proj"), layerScale1: "ls_1.gamma", layerScale2: "ls_2.gamma")
}

/// A 1×1 convolution as a `Linear` over channels (`weight` `[out, in, 1, 1]`, `bias`).
private func pointwise(_ w: WeightScope, in cin: Int, out cout: Int) throws -> Linear {
    Linear(
        weight: try w.tensor("weight", shape: [cout, cin, 1, 1]).reshaped([cout, cin]),
        bias: try w.tensor("bias", shape: [cout]))
}

// MARK: - Encoder

/// `TiTokEncoder`: patch tokens + class token + learned latent tokens through a ViT; the
/// latent tokens' outputs, projected to the token size.
struct TiTokEncoder: Sendable {
    let config: TiTokConfig
    let patchEmbed: PatchEmbedding
    let classEmbedding: Tensor
    let positionalEmbedding: Tensor
    let latentTokens: Tensor
    let latentPositionalEmbedding: Tensor
    let lnPre: LayerNorm, lnPost: LayerNorm
    let stack: TransformerStack
    let convOut: Linear  // 1×1 conv W → Te

    init(_ root: WeightScope, config c: TiTokConfig) throws {
        config = c
        let w = root["encoder"], width = c.encoder.width, outChannels = c.isVAE ? 2 * c.tokenSize : c.tokenSize
        patchEmbed = try PatchEmbedding(w["patch_embed"], dim: width, patchSize: c.encoder.patchSize)
        classEmbedding = try w.tensor("class_embedding", shape: [1, width])
        positionalEmbedding = try w.tensor("positional_embedding", shape: [c.grid * c.grid + 1, width])
        latentTokens = try root.tensor("latent_tokens", shape: [c.tokens, width])
        latentPositionalEmbedding = try w.tensor("latent_token_positional_embedding", shape: [c.tokens, width])
        lnPre = try LayerNorm(w["ln_pre"], dim: width, eps: 1e-5)
        lnPost = try LayerNorm(w["ln_post"], dim: width, eps: 1e-5)
        stack = try c.encoder.stack(w["transformer"])
        convOut = try pointwise(w["conv_out"], in: width, out: outChannels)
    }

    /// `[B, 3, S, S]` pixels in [0, 1] → `[B, Te, N]` latents (the original's `[B, Te, 1, N]`).
    func callAsFunction(_ pixels: Tensor) -> Tensor {
        let b = pixels.shape[0], width = config.encoder.width, n = config.tokens, g2 = config.grid * config.grid
        let cls = classEmbedding.reshaped([1, 1, width]).expanded(batch: b)
        let latents = (latentTokens + latentPositionalEmbedding).reshaped([1, n, width]).expanded(batch: b)
        let x = Tensor.concatenate(
            [Tensor.concatenate([cls, patchEmbed(pixels)], axis: 1) + positionalEmbedding, latents],
            axis: 1)
        var y = lnPost(stack(lnPre(x)).slice(axis: 1, (1 + g2)..<(1 + g2 + n)))  // [B, N, W]
        // Legacy checkpoints read the [N, W] block as [W, N] (a raw reshape, not a transpose).
        y = config.isLegacy ? y.reshaped([b, width, n]) : y.transposed(1, 2)  // [B, W, N]
        return convOut(y.transposed(1, 2)).transposed(1, 2)  // [B, Te, N]
    }
}

// MARK: - Decoder

/// `TiTokDecoder` (and TA-TiTok's): latent tokens + mask tokens for every patch through a
/// ViT; the patch outputs become proxy-code logits (legacy) or pixels (pixel head).
struct TiTokDecoder: Sendable {
    /// What the patch outputs become.
    enum Head: Sendable {
        /// Legacy: `ffn` W → 2W, tanh, 2W → 1024 proxy-code logits (decoded by the MaskGIT-VQGAN).
        case proxyCodes(Linear, Linear)
        /// `ffn` W → p²·3 pixels, unpatchified, then a 3×3 `conv_out`.
        case pixels(Linear, convOut: Conv2d)
    }

    let config: TiTokConfig
    let embed: Linear
    let classEmbedding: Tensor
    let positionalEmbedding: Tensor
    let maskToken: Tensor
    let latentPositionalEmbedding: Tensor
    let lnPre: LayerNorm, lnPost: LayerNorm
    let stack: TransformerStack
    let head: Head
    let textProjection: Linear?
    let textPositionalEmbedding: Tensor?

    init(_ root: WeightScope, config c: TiTokConfig) throws {
        config = c
        let w = root["decoder"], width = c.decoder.width
        embed = try Linear(w["decoder_embed"], in: c.tokenSize, out: width)
        classEmbedding = try w.tensor("class_embedding", shape: [1, width])
        positionalEmbedding = try w.tensor("positional_embedding", shape: [c.grid * c.grid + 1, width])
        maskToken = try w.tensor("mask_token", shape: [1, 1, width])
        latentPositionalEmbedding = try w.tensor("latent_token_positional_embedding", shape: [c.tokens, width])
        lnPre = try LayerNorm(w["ln_pre"], dim: width, eps: 1e-5)
        lnPost = try LayerNorm(w["ln_post"], dim: width, eps: 1e-5)
        stack = try c.decoder.stack(w["transformer"])
        if c.isLegacy {
            head = .proxyCodes(
                try pointwise(w["ffn"]["0"], in: width, out: 2 * width),
                try pointwise(w["ffn"]["2"], in: 2 * width, out: 1024))
        } else {
            let p = c.decoder.patchSize
            head = .pixels(
                try pointwise(w["ffn"]["0"], in: width, out: p * p * 3),
                convOut: try Conv2d(w["conv_out"], in: 3, out: 3, kernel: (3, 3), padding: (1, 1)))
        }
        if let text = c.textContext {
            textProjection = try Linear(w["text_guidance_proj"], in: text.dim, out: width)
            textPositionalEmbedding = try w.tensor("text_guidance_positional_embedding", shape: [text.length, width])
        } else {
            textProjection = nil
            textPositionalEmbedding = nil
        }
    }

    /// `[B, T, k]` quantized tokens (k ≤ N: a prefix for variable-length decoding) and, for
    /// TA-TiTok, `[B, L, D]` text embeddings → legacy: `[B, g², 1024]` proxy-code logits per
    /// patch; pixel head: `[B, 3, S, S]` image.
    func callAsFunction(_ z: Tensor, text: Tensor? = nil) -> Tensor {
        let (b, k) = (z.shape[0], z.shape[2])
        let width = config.decoder.width, g = config.grid, g2 = g * g
        var latents = embed(z.transposed(1, 2))  // [B, k, W]
        latents = latents + latentPositionalEmbedding.slice(axis: 0, 0..<k)
        let masks = maskToken.reshaped([1, 1, width]).expanded(batch: g2).reshaped([1, g2, width])
        let prefix =
            Tensor.concatenate([classEmbedding.reshaped([1, 1, width]), masks], axis: 1) + positionalEmbedding
        var parts = [prefix.expanded(batch: b), latents]
        if let textProjection, let textPositionalEmbedding, let text {
            parts.append(textProjection(text) + textPositionalEmbedding)
        }
        let x = lnPost(stack(lnPre(Tensor.concatenate(parts, axis: 1))).slice(axis: 1, 1..<(1 + g2)))  // [B, g², W]
        switch head {
        case .proxyCodes(let first, let second):
            var h = first(x)
            h.activate(.tanh)
            return second(h)
        case .pixels(let projection, let convOut):
            let p = config.decoder.patchSize
            return convOut(projection(x).unpatchified(patchSize: p, gridHeight: g, gridWidth: g, channels: 3))
        }
    }
}

// MARK: - Model

/// A TiTok-family tokenizer: encoder, quantizer (VQ or VAE), decoder and, for legacy
/// checkpoints, the MaskGIT-VQGAN pixel decoder behind the soft proxy-code mixture.
public struct TiTok: ImageTokenizer {
    /// The model's configuration as config.json states it.
    public let config: TiTokConfig
    /// Family `titok`: `[N]` tokens, variable length, reconstructions in `0...1`.
    public let descriptor: TokenizerDescriptor
    let encoder: TiTokEncoder
    let decoder: TiTokDecoder
    let quantizer: VectorQuantizer?
    let pixelCodebook: Tensor?  // [1024, z] proxy-code embeddings
    let pixelDecoder: MaskGITPixelDecoder?

    /// Loads config.json + model.safetensors from a TiTok / One-D-Piece / TA-TiTok directory.
    /// - Throws: ``ModelConfigError`` for the config, `WeightLoadError` listing every key problem.
    public init(directory: URL) throws {
        var config = try TiTokConfig(directory: directory)
        let checkpoint = try Checkpoint(directory: directory)
        // TA-TiTok's config does not say so; its checkpoint has the text projection.
        if config.textContext == nil,
            let shape = checkpoint.entry("decoder.text_guidance_positional_embedding")?.shape, shape.count == 2,
            let proj = checkpoint.entry("decoder.text_guidance_proj.weight")?.shape, proj.count == 2
        {
            config.textContext = (shape[0], proj[1])
        }
        try self.init(config: config, checkpoint: checkpoint, modelID: directory.lastPathComponent)
    }

    /// Binds a checkpoint with the original key names to `config`.
    /// - Throws: ``ModelConfigError`` when the config's sizes are out of range or disagree with the
    ///   checkpoint (``TiTokConfig/validate(against:)``), `WeightLoadError` listing every key problem.
    public init(config: TiTokConfig, checkpoint: Checkpoint, modelID: String) throws {
        try config.validate(against: checkpoint)
        self.config = config
        descriptor = TokenizerDescriptor(
            family: "titok", modelID: modelID, inputSize: PixelSize(config.imageSize), tokenShape: [config.tokens],
            vocabularySizes: config.codebookSize.map { [$0] } ?? [],
            latentChannels: config.isVAE ? config.tokenSize : nil,
            variableLength: true, outputRange: 0...1, conditioning: config.textContext.map { [$0.length, $0.dim] })
        // TA-TiTok carries a quantizer usage buffer nothing reads.
        let loader = try WeightLoader(checkpoint, ignored: ["quantize.embed_prob"])
        let w = loader.root
        encoder = try TiTokEncoder(w, config: config)
        decoder = try TiTokDecoder(w, config: config)
        quantizer = try config.codebookSize.map {
            VectorQuantizer(
                codebook: try w.tensor("quantize.embedding.weight", shape: [$0, config.tokenSize]),
                useL2Norm: config.useL2Norm)
        }
        if config.twoStage {
            pixelCodebook = try w.tensor(
                "pixel_quantize.embedding.weight", shape: [1024, config.pixelDecoder.latentChannels])
            pixelDecoder = try MaskGITPixelDecoder(w["pixel_decoder"], config: config.pixelDecoder)
        } else {
            pixelCodebook = nil
            pixelDecoder = nil
        }
        try loader.finish()
    }

    /// TiTok's evaluation transform: shorter side to the image size (bicubic with
    /// antialias; One-D-Piece bilinear), centre crop, [0, 1].
    public var preprocessing: Preprocessing {
        Preprocessing(
            resize: .shorterSide(config.imageSize), filter: config.resizeFilter,
            centerCrop: PixelSize(config.imageSize), normalization: .unit)
    }

    // MARK: stages

    /// Encoder output before quantization: `[B, Te, N]`.
    public func encodeLatents(_ pixels: Tensor) -> Tensor { encoder(pixels) }

    /// Token ids `[B][N]` (VQ) for encoder latents `[B, T, N]`.
    public func quantize(_ latents: Tensor) -> [[Int]] {
        guard let quantizer else { return [] }
        let (b, t, n) = (latents.shape[0], latents.shape[1], latents.shape[2])
        let rows = latents.transposed(1, 2).reshaped([b * n, t])
        let ids = quantizer.encode(rows)
        return (0..<b).map { Array(ids[($0 * n)..<(($0 + 1) * n)]) }
    }

    /// Quantized tokens `[B, T, k]` for ids (`[B][k]`, equal lengths).
    public func lookup(_ ids: [[Int]]) throws -> Tensor {
        guard let quantizer else {
            throw TokenizerError("\(modelID) has continuous tokens; there are no ids to look up")
        }
        let k = ids.first?.count ?? 0
        let codes = try quantizer.decode(ids.flatMap { $0 })
        return codes.reshaped([ids.count, k, config.tokenSize]).transposed(1, 2)
    }

    /// Decoder (and pixel decoder) from quantized tokens `[B, T, k]` to a float image
    /// `[B, 3, S, S]` (not clamped); TA-TiTok takes `[B, L, D]` text embeddings.
    public func decodeLatents(_ z: Tensor, text: Tensor? = nil) -> Tensor {
        let out = decoder(z, text: text)
        guard config.isLegacy, let pixelCodebook, let pixelDecoder else { return out }
        // Soft mixture of the proxy codebook, not an argmax: softmax over the 1024 channels.
        let mixture = out.softmax().matmul(pixelCodebook)  // [B, g², z]
        let (b, g) = (z.shape[0], config.grid)
        let latent = mixture.transposed(1, 2).reshaped([b, config.pixelDecoder.latentChannels, g, g])
        return pixelDecoder(latent)
    }

    // MARK: ImageTokenizer

    /// The ViT encoder's or decoder's activations (patches, class token and latent tokens), and the
    /// MaskGIT-VQGAN pixel decoder's for two-stage models, per image of the batch.
    public func workingMemory(batch: Int, decoding: Bool) -> Int {
        let c = config, sequence = 1 + c.grid * c.grid + c.tokens
        func vit(_ v: TiTokConfig.ViT) -> Int {
            TransformerStack.activationBytes(tokens: sequence, width: v.width, mlpHidden: 4 * v.width)
        }
        let p = c.pixelDecoder
        let pixels = ConvCoderShape(
            channels: p.channelMultipliers.map { p.hiddenChannels * $0 }, blocksPerLevel: p.residualBlocks,
            latentChannels: p.latentChannels)
        let side = c.imageSize, input = 4 * 3 * side * side
        let decode = vit(c.decoder) + (c.twoStage ? pixels.activationBytes(height: side, width: side) : 0)
        return batch * (input + (decoding ? decode : vit(c.encoder)))
    }

    /// Token ids (VQ) or the posterior's mean (VAE; sampled with `options.seed`, one stream per
    /// image keyed by its pixels), `options.batchSize` images per forward pass.
    public func encode(preprocessed images: [Tensor], options: EncodeOptions) throws -> [Tokens] {
        let expected = [3, config.imageSize, config.imageSize]
        if let bad = images.first(where: { $0.shape != expected }) {
            throw TokenizerError("\(modelID) takes preprocessed images of shape \(expected), got \(bad.shape)")
        }
        try options.checkSampleKeys(images: images.count)
        if let k = options.tokenLimit, !(1...config.tokens).contains(k) {
            throw TokenizerError("token limit \(k) is outside 1...\(config.tokens) for \(modelID)")
        }
        let batchSize = max(1, options.batchSize)
        var out: [Tokens] = []
        for start in stride(from: 0, to: images.count, by: batchSize) {
            let range = start..<min(images.count, start + batchSize)
            let pixels = Tensor.concatenate(images[range].map { $0.reshaped([1] + $0.shape) }, axis: 0)
            let latents = encodeLatents(pixels)
            if let codebookSize = config.codebookSize {
                for ids in quantize(latents) {
                    out.append(
                        Tokens(ids: ids, shape: [config.tokens], vocabularySizes: [codebookSize], model: modelID))
                }
            } else {
                let posterior = DiagonalGaussian(parameters: latents, axis: 1)
                let z =
                    options.draw(posterior, images: images, range: range)  // [B, T, N]
                for i in 0..<range.count {
                    let tokens = z.slice(axis: 0, i..<(i + 1)).reshaped([config.tokenSize, config.tokens]).transposed(
                        0, 1)
                    out.append(
                        Tokens(ids: [], shape: [config.tokens], vocabularySizes: [], model: modelID, latents: tokens))
                }
            }
        }
        return options.tokenLimit.map { k in out.map { $0.prefix(k) } } ?? out
    }

    /// Reconstructions `[3, S, S]` in [0, 1] (not clamped), token sets of equal length batched
    /// together. TA-TiTok needs `options.conditioning` (its text embeddings).
    public func decode(_ tokens: [Tokens], options: DecodeOptions) throws -> [Tensor] {
        guard options.seed == nil, options.steps == nil, options.guidanceScale == nil, options.guidanceMode == nil,
            options.noise == nil
        else {
            throw TokenizerError(
                "\(modelID) decodes in one deterministic pass: seed, steps, guidance and noise do not apply")
        }
        let text = try textConditioning(options.conditioning, sets: tokens.count)
        if let k = options.tokenLimit, !(1...config.tokens).contains(k) {
            throw TokenizerError("token limit \(k) is outside 1...\(config.tokens) for \(modelID)")
        }
        let batchSize = max(1, options.batchSize)
        var out: [Tensor] = []
        var start = 0
        while start < tokens.count {
            let k = try validate(tokens[start], limit: options.tokenLimit)
            var end = start + 1
            while end < tokens.count, end - start < batchSize, try validate(tokens[end], limit: options.tokenLimit) == k
            {
                end += 1
            }
            let group = Array(tokens[start..<end])
            let z: Tensor
            if config.isVAE {
                z = Tensor.concatenate(
                    group.map {
                        ($0.latents ?? .zeros([k, config.tokenSize])).slice(axis: 0, 0..<k).transposed(0, 1)
                            .reshaped([1, config.tokenSize, k])
                    }, axis: 0)
            } else {
                z = try lookup(group.map { Array($0.ids.prefix(k)) })
            }
            let images = decodeLatents(z, text: text.map { $0.slice(axis: 0, start..<end) })
            for i in 0..<group.count {
                out.append(images.slice(axis: 0, i..<(i + 1)).reshaped([3, config.imageSize, config.imageSize]))
            }
            start = end
        }
        return out
    }

    /// TA-TiTok's text embeddings as `[N, L, D]` for `sets` token sets.
    private func textConditioning(_ conditioning: Tensor?, sets: Int) throws -> Tensor? {
        guard let context = config.textContext else {
            if conditioning != nil {
                throw TokenizerError("\(modelID) takes no conditioning (it is not a TA-TiTok model)")
            }
            return nil
        }
        let (l, d) = context
        guard let conditioning else {
            throw TokenizerError("\(modelID) is a TA-TiTok model: its decoder needs text embeddings (\(l)×\(d))")
        }
        if conditioning.shape == [l, d] { return conditioning.reshaped([1, l, d]).expanded(batch: sets) }
        guard conditioning.shape == [sets, l, d] else {
            throw TokenizerError(
                "text embeddings must be [\(l), \(d)] or [\(sets), \(l), \(d)], got \(conditioning.shape)")
        }
        return conditioning
    }

    /// Checks a token set against the model; returns how many tokens to decode.
    private func validate(_ t: Tokens, limit: Int?) throws -> Int {
        let n = t.positions
        guard t.shape.count == 1, n >= 1, n <= config.tokens else {
            throw TokenizerError(
                "token set has shape \(t.shape); \(modelID) decodes [k] with 1 ≤ k ≤ \(config.tokens)")
        }
        if let codebookSize = config.codebookSize {
            guard t.ids.count == n else {
                throw TokenizerError("token set has \(t.ids.count) ids for shape \(t.shape)")
            }
            if let bad = t.ids.first(where: { $0 < 0 || $0 >= codebookSize }) {
                throw TokenizerError("token id \(bad) is outside \(modelID)'s codebook (0..<\(codebookSize))")
            }
        } else {
            guard let latents = t.latents, latents.shape == [n, config.tokenSize] else {
                throw TokenizerError("\(modelID) needs continuous tokens [\(n), \(config.tokenSize)]")
            }
        }
        return min(n, limit ?? n)
    }
}
