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
    public struct ViT: Sendable, Equatable {
        public var width: Int
        public var layers: Int
        public var heads: Int
        public var patchSize: Int

        /// The stack `transformer.{i}`: open_clip residual attention blocks (exact GELU, eps 1e-5).
        func blocks(_ w: WeightScope) -> [TransformerBlock] {
            (0..<layers).map {
                TransformerBlock(w[$0], family: .openCLIP, dim: width, heads: heads, mlpHidden: 4 * width, activation: .gelu, eps: 1e-5)
            }
        }
    }

    public var imageSize: Int
    public var encoder: ViT
    public var decoder: ViT
    public var tokens: Int
    public var tokenSize: Int
    public var codebookSize: Int
    public var useL2Norm: Bool
    /// "vq" or "vae".
    public var quantizeMode: String
    /// Legacy encoder reshape and proxy-code decoder head.
    public var isLegacy: Bool
    /// Two-stage decoding through the MaskGIT-VQGAN pixel decoder.
    public var twoStage: Bool
    public var pixelDecoder: PixelDecoderConfig
    /// TA-TiTok text conditioning (context length, embedding width), when the decoder has it.
    public var textContext: (length: Int, dim: Int)? {
        get { textLength.map { ($0, textDim) } }
        set { textLength = newValue?.length; textDim = newValue?.dim ?? 768 }
    }
    var textLength: Int?
    var textDim: Int = 768
    /// Resampling filter of the model's preprocessing (bicubic; One-D-Piece: bilinear).
    public var resizeFilter: ResizeFilter

    public var grid: Int { imageSize / encoder.patchSize }
    public var isVAE: Bool { quantizeMode == "vae" }

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
        encoder = try vit(v.vit_enc_model_size, v.vit_enc_width, v.vit_enc_num_layers, v.vit_enc_num_heads, v.vit_enc_patch_size)
        decoder = try vit(v.vit_dec_model_size, v.vit_dec_width, v.vit_dec_num_layers, v.vit_dec_num_heads, v.vit_dec_patch_size)
        tokens = v.num_latent_tokens
        tokenSize = v.token_size
        quantizeMode = v.quantize_mode ?? "vq"
        codebookSize = v.codebook_size ?? 0
        useL2Norm = v.use_l2_norm ?? false
        isLegacy = v.is_legacy ?? true
        twoStage = (v.finetune_decoder ?? true) && quantizeMode != "vae"
        pixelDecoder = hub.model.pixel_decoder ?? PixelDecoderConfig()
        textLength = v.text_context_length
        textDim = v.text_embed_dim ?? 768
        // One-D-Piece's inference script resizes with torchvision's default (bilinear).
        let defaultFilter: ResizeFilter = hub.model.type == "one_d_piece" ? .bilinear : .bicubic
        resizeFilter = hub.dataset?.preprocessing?.interpolation.flatMap(ResizeFilter.init(rawValue:)) ?? defaultFilter
        guard ["vq", "vae"].contains(quantizeMode) else { throw ModelConfigError(path: path, reason: "unknown quantize_mode '\(quantizeMode)'") }
        guard quantizeMode == "vae" || codebookSize > 0 else { throw ModelConfigError(path: path, reason: "vq model without codebook_size") }
        guard encoder.patchSize == decoder.patchSize, imageSize % encoder.patchSize == 0 else {
            throw ModelConfigError(path: path, reason: "image size \(imageSize) and patch sizes \(encoder.patchSize)/\(decoder.patchSize) do not fit")
        }
        guard encoder.width % encoder.heads == 0, decoder.width % decoder.heads == 0, tokens > 0 else {
            throw ModelConfigError(path: path, reason: "inconsistent ViT widths/heads or token count")
        }
        guard !isLegacy || twoStage || isVAE else {
            throw ModelConfigError(path: path, reason: "legacy TiTok without finetune_decoder predicts proxy codes only (stage-1 checkpoint); it cannot produce images")
        }
    }
}

// MARK: - Encoder

/// `TiTokEncoder`: patch tokens + class token + learned latent tokens through a ViT; the
/// latent tokens' outputs, projected to the token size.
struct TiTokEncoder: Sendable {
    let config: TiTokConfig
    let patchEmbed: Conv2d
    let classEmbedding: Tensor
    let positionalEmbedding: Tensor
    let latentTokens: Tensor
    let latentPositionalEmbedding: Tensor
    let lnPre: LayerNorm, lnPost: LayerNorm
    let blocks: [TransformerBlock]
    let convOut: Linear      // 1×1 conv W → Te

    init(_ root: WeightScope, config c: TiTokConfig) {
        config = c
        let w = root["encoder"], width = c.encoder.width, outChannels = c.isVAE ? 2 * c.tokenSize : c.tokenSize
        patchEmbed = Conv2d(w["patch_embed"], in: 3, out: width, kernel: (c.encoder.patchSize, c.encoder.patchSize),
                            stride: (c.encoder.patchSize, c.encoder.patchSize))
        classEmbedding = w.tensor("class_embedding", shape: [1, width])
        positionalEmbedding = w.tensor("positional_embedding", shape: [c.grid * c.grid + 1, width])
        latentTokens = root.tensor("latent_tokens", shape: [c.tokens, width])
        latentPositionalEmbedding = w.tensor("latent_token_positional_embedding", shape: [c.tokens, width])
        lnPre = LayerNorm(w["ln_pre"], dim: width, eps: 1e-5)
        lnPost = LayerNorm(w["ln_post"], dim: width, eps: 1e-5)
        blocks = c.encoder.blocks(w["transformer"])
        convOut = Linear(weight: w.tensor("conv_out.weight", shape: [outChannels, width, 1, 1]).reshaped([outChannels, width]),
                         bias: w.tensor("conv_out.bias", shape: [outChannels]))
    }

    /// `[B, 3, S, S]` pixels in [0, 1] → `[B, Te, N]` latents (the original's `[B, Te, 1, N]`).
    func callAsFunction(_ pixels: Tensor) -> Tensor {
        let b = pixels.shape[0], width = config.encoder.width, n = config.tokens, g2 = config.grid * config.grid
        let patches = patchEmbed(pixels).reshaped([b, width, g2]).transposed(1, 2)          // [B, g², W]
        let cls = Tensor.concatenate(Array(repeating: classEmbedding.reshaped([1, 1, width]), count: b), axis: 0)
        let latents = (latentTokens + latentPositionalEmbedding).reshaped([1, n, width])
        var x = Tensor.concatenate([cls, patches], axis: 1) + positionalEmbedding
        x = Tensor.concatenate([x, Tensor.concatenate(Array(repeating: latents, count: b), axis: 0)], axis: 1)
        x = lnPre(x)
        for block in blocks { x = block(x).0 }
        var y = lnPost(x.slice(axis: 1, (1 + g2)..<(1 + g2 + n)))                          // [B, N, W]
        // Legacy checkpoints read the [N, W] block as [W, N] (a raw reshape, not a transpose).
        y = config.isLegacy ? y.reshaped([b, width, n]) : y.transposed(1, 2)                 // [B, W, N]
        return convOut(y.transposed(1, 2)).transposed(1, 2)                                   // [B, Te, N]
    }
}

// MARK: - Decoder

/// `TiTokDecoder` (and TA-TiTok's): latent tokens + mask tokens for every patch through a
/// ViT; the patch outputs become proxy-code logits (legacy) or pixels (pixel head).
struct TiTokDecoder: Sendable {
    let config: TiTokConfig
    let embed: Linear
    let classEmbedding: Tensor
    let positionalEmbedding: Tensor
    let maskToken: Tensor
    let latentPositionalEmbedding: Tensor
    let lnPre: LayerNorm, lnPost: LayerNorm
    let blocks: [TransformerBlock]
    let head: [Linear]        // legacy: W→2W, tanh, 2W→1024; pixel head: W→p²·3
    let convOut: Conv2d?
    let textProjection: Linear?
    let textPositionalEmbedding: Tensor?

    init(_ root: WeightScope, config c: TiTokConfig) {
        config = c
        let w = root["decoder"], width = c.decoder.width
        embed = Linear(w["decoder_embed"], in: c.tokenSize, out: width)
        classEmbedding = w.tensor("class_embedding", shape: [1, width])
        positionalEmbedding = w.tensor("positional_embedding", shape: [c.grid * c.grid + 1, width])
        maskToken = w.tensor("mask_token", shape: [1, 1, width])
        latentPositionalEmbedding = w.tensor("latent_token_positional_embedding", shape: [c.tokens, width])
        lnPre = LayerNorm(w["ln_pre"], dim: width, eps: 1e-5)
        lnPost = LayerNorm(w["ln_post"], dim: width, eps: 1e-5)
        blocks = c.decoder.blocks(w["transformer"])
        func conv1x1(_ s: WeightScope, _ cin: Int, _ cout: Int) -> Linear {
            Linear(weight: s.tensor("weight", shape: [cout, cin, 1, 1]).reshaped([cout, cin]), bias: s.tensor("bias", shape: [cout]))
        }
        if c.isLegacy {
            head = [conv1x1(w["ffn"]["0"], width, 2 * width), conv1x1(w["ffn"]["2"], 2 * width, 1024)]
            convOut = nil
        } else {
            let p = c.decoder.patchSize
            head = [conv1x1(w["ffn"]["0"], width, p * p * 3)]
            convOut = Conv2d(w["conv_out"], in: 3, out: 3, kernel: (3, 3), padding: (1, 1))
        }
        if let text = c.textContext {
            textProjection = Linear(w["text_guidance_proj"], in: text.dim, out: width)
            textPositionalEmbedding = w.tensor("text_guidance_positional_embedding", shape: [text.length, width])
        } else {
            textProjection = nil
            textPositionalEmbedding = nil
        }
    }

    /// `[B, T, k]` quantized tokens (k ≤ N: a prefix for variable-length decoding) → legacy:
    /// `[B, g², 1024]` proxy-code logits per patch; pixel head: `[B, 3, S, S]` image.
    func callAsFunction(_ z: Tensor, text: Tensor? = nil) -> Tensor {
        let (b, k) = (z.shape[0], z.shape[2])
        let width = config.decoder.width, g2 = config.grid * config.grid
        var latents = embed(z.transposed(1, 2))                                                 // [B, k, W]
        latents = latents + latentPositionalEmbedding.slice(axis: 0, 0..<k)
        let cls = classEmbedding.reshaped([1, 1, width])
        let masks = Tensor(shape: [1, g2, width], scalars: Array([[Float]](repeating: maskToken.scalars, count: g2).joined()))
        let prefix = Tensor.concatenate([cls, masks], axis: 1) + positionalEmbedding            // [1, 1+g², W]
        var parts = [Tensor.concatenate(Array(repeating: prefix, count: b), axis: 0), latents]
        if let textProjection, let textPositionalEmbedding, let text {
            parts.append(textProjection(text) + textPositionalEmbedding)
        }
        var x = lnPre(Tensor.concatenate(parts, axis: 1))
        for block in blocks { x = block(x).0 }
        x = lnPost(x.slice(axis: 1, 1..<(1 + g2)))                                              // [B, g², W]
        if config.isLegacy {
            var h = head[0](x)
            h.activate(.tanh)
            return head[1](h)
        }
        // 'b (p1 p2 c) h w -> b c (h p1) (w p2)'
        let p = config.decoder.patchSize, g = config.grid, s = config.imageSize
        let pixels = head[0](x)                                                                  // [B, g², p²·3]
        var image = [Float](repeating: 0, count: b * 3 * s * s)
        for bi in 0..<b {
            for hi in 0..<g {
                for wi in 0..<g {
                    let token = (bi * g2 + hi * g + wi) * p * p * 3
                    for p1 in 0..<p {
                        for p2 in 0..<p {
                            for ch in 0..<3 {
                                image[((bi * 3 + ch) * s + hi * p + p1) * s + wi * p + p2] = pixels.scalars[token + (p1 * p + p2) * 3 + ch]
                            }
                        }
                    }
                }
            }
        }
        return convOut!(Tensor(shape: [b, 3, s, s], scalars: image))
    }
}

// MARK: - Model

/// A TiTok-family tokenizer: encoder, quantizer (VQ or VAE), decoder and, for legacy
/// checkpoints, the MaskGIT-VQGAN pixel decoder behind the soft proxy-code mixture.
public struct TiTok: ImageTokenizer {
    public let config: TiTokConfig
    public let modelID: String
    let encoder: TiTokEncoder
    let decoder: TiTokDecoder
    let quantizer: VectorQuantizer?
    let pixelCodebook: Tensor?              // [1024, z] proxy-code embeddings
    let pixelDecoder: MaskGITPixelDecoder?
    /// Images per forward pass.
    public var batchSize = 8
    /// Round instead of truncating when converting reconstructions to 8 bits.
    public var roundOutput = false
    /// VAE models: sample the posterior with this seed instead of using its mean.
    public var sampleSeed: UInt64?
    /// Variable-length decoding: decode only the first `k` tokens (nil: all).
    public var decodeTokenLimit: Int?
    /// TA-TiTok: `[77, 768]` text embeddings for the decoder.
    public var textGuidance: Tensor?

    /// Loads config.json + model.safetensors from a TiTok / One-D-Piece / TA-TiTok directory.
    public init(directory: URL) throws {
        var config = try TiTokConfig(directory: directory)
        let checkpoint = try Checkpoint(directory: directory)
        // TA-TiTok's config does not say so; its checkpoint has the text projection.
        if config.textContext == nil, let shape = checkpoint.entry("decoder.text_guidance_positional_embedding")?.shape, shape.count == 2,
           let proj = checkpoint.entry("decoder.text_guidance_proj.weight")?.shape, proj.count == 2 {
            config.textContext = (shape[0], proj[1])
        }
        if directory.lastPathComponent.lowercased().contains("one-d-piece") { config.resizeFilter = .bilinear }
        try self.init(config: config, checkpoint: checkpoint, modelID: directory.lastPathComponent)
    }

    public init(config: TiTokConfig, checkpoint: Checkpoint, modelID: String) throws {
        self.config = config
        self.modelID = modelID
        // TA-TiTok carries a quantizer usage buffer nothing reads.
        let loader = WeightLoader(checkpoint, ignored: ["quantize.embed_prob"])
        let w = loader.root
        encoder = TiTokEncoder(w, config: config)
        decoder = TiTokDecoder(w, config: config)
        quantizer = config.isVAE ? nil
            : VectorQuantizer(codebook: w.tensor("quantize.embedding.weight", shape: [config.codebookSize, config.tokenSize]),
                              useL2Norm: config.useL2Norm)
        if config.twoStage {
            pixelCodebook = w.tensor("pixel_quantize.embedding.weight", shape: [1024, config.pixelDecoder.z_channels])
            pixelDecoder = MaskGITPixelDecoder(w["pixel_decoder"], config: config.pixelDecoder)
        } else {
            pixelCodebook = nil
            pixelDecoder = nil
        }
        try loader.finish()
    }

    public var imageSize: Int { config.imageSize }
    public var tokenCount: Int { config.tokens }
    public var vocabularySizes: [Int] { config.isVAE ? [] : [config.codebookSize] }
    public var supportsVariableLength: Bool { true }

    /// TiTok's evaluation transform: shorter side to the image size (bicubic with
    /// antialias; One-D-Piece bilinear), centre crop, [0, 1].
    public var preprocessing: Preprocessing {
        Preprocessing(resize: .shorterSide(config.imageSize), filter: config.resizeFilter,
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
        guard let quantizer else { throw TokenizerError("\(modelID) has continuous tokens; there are no ids to look up") }
        let k = ids.first?.count ?? 0
        let codes = try quantizer.decode(ids.flatMap { $0 })
        return codes.reshaped([ids.count, k, config.tokenSize]).transposed(1, 2)
    }

    /// Decoder (and pixel decoder) from quantized tokens `[B, T, k]` to a float image
    /// `[B, 3, S, S]` (not clamped).
    public func decodeLatents(_ z: Tensor, text: Tensor? = nil) -> Tensor {
        let out = decoder(z, text: text)
        guard config.isLegacy, let pixelCodebook, let pixelDecoder else { return out }
        // Soft mixture of the proxy codebook, not an argmax: softmax over the 1024 channels.
        let mixture = out.softmax().matmul(pixelCodebook)                            // [B, g², z]
        let (b, g) = (z.shape[0], config.grid)
        let latent = mixture.transposed(1, 2).reshaped([b, config.pixelDecoder.z_channels, g, g])
        return pixelDecoder(latent)
    }

    // MARK: ImageTokenizer

    public func encode(_ images: [Image]) throws -> [Tokens] {
        try encode(preprocessed: images.map(preprocessing.tensor))
    }

    public func encode(preprocessed images: [Tensor]) throws -> [Tokens] {
        let expected = [3, config.imageSize, config.imageSize]
        if let bad = images.first(where: { $0.shape != expected }) {
            throw TokenizerError("\(modelID) takes preprocessed images of shape \(expected), got \(bad.shape)")
        }
        var out: [Tokens] = []
        for start in stride(from: 0, to: images.count, by: max(1, batchSize)) {
            let batch = images[start..<min(images.count, start + max(1, batchSize))]
            let pixels = Tensor.concatenate(batch.map { $0.reshaped([1] + $0.shape) }, axis: 0)
            let latents = encodeLatents(pixels)
            if config.isVAE {
                let posterior = DiagonalGaussian(parameters: latents, axis: 1)
                let z = sampleSeed.map { posterior.sample(seed: $0 &+ UInt64(start)) } ?? posterior.mean   // [B, T, N]
                for i in 0..<batch.count {
                    let tokens = z.slice(axis: 0, i..<(i + 1)).reshaped([config.tokenSize, config.tokens]).transposed(0, 1)
                    out.append(Tokens(ids: [], shape: [config.tokens], vocabularySizes: [], model: modelID, latents: tokens))
                }
            } else {
                for ids in quantize(latents) {
                    out.append(Tokens(ids: ids, shape: [config.tokens], vocabularySizes: [config.codebookSize], model: modelID))
                }
            }
        }
        return out
    }

    public func decode(_ tokens: [Tokens]) throws -> [Image] {
        try decodeTensors(tokens).map { Image(tensor: $0, rounding: roundOutput) }
    }

    /// Reconstructions as `[3, S, S]` float tensors (before clamping), one per token set.
    public func decodeTensors(_ tokens: [Tokens]) throws -> [Tensor] {
        if config.textContext != nil && textGuidance == nil {
            throw TokenizerError("\(modelID) is a TA-TiTok model: its decoder needs text embeddings (\(config.textContext!.length)×\(config.textContext!.dim))")
        }
        var out: [Tensor] = []
        // Batch token sets of equal length together.
        var start = 0
        while start < tokens.count {
            let k = try validate(tokens[start])
            var end = start + 1
            while end < tokens.count, end - start < max(1, batchSize), try validate(tokens[end]) == k { end += 1 }
            let group = Array(tokens[start..<end])
            let z: Tensor
            if config.isVAE {
                z = Tensor.concatenate(group.map { $0.latents!.slice(axis: 0, 0..<k).transposed(0, 1).reshaped([1, config.tokenSize, k]) }, axis: 0)
            } else {
                z = try lookup(group.map { Array($0.ids.prefix(k)) })
            }
            var text: Tensor? = nil
            if let guidance = textGuidance {
                text = Tensor.concatenate(Array(repeating: guidance.reshaped([1] + guidance.shape), count: group.count), axis: 0)
            }
            let images = decodeLatents(z, text: text)
            for i in 0..<group.count {
                out.append(images.slice(axis: 0, i..<(i + 1)).reshaped([3, config.imageSize, config.imageSize]))
            }
            start = end
        }
        return out
    }

    /// Checks a token set against the model; returns how many tokens to decode.
    private func validate(_ t: Tokens) throws -> Int {
        let k = min(t.count, decodeTokenLimit ?? t.count)
        guard t.count >= 1, t.count <= config.tokens else {
            throw TokenizerError("token set has \(t.count) tokens; \(modelID) decodes 1...\(config.tokens)")
        }
        if config.isVAE {
            guard let latents = t.latents, latents.shape == [t.count, config.tokenSize] else {
                throw TokenizerError("\(modelID) needs continuous tokens [\(t.count), \(config.tokenSize)]")
            }
        } else {
            guard t.ids.count == t.count else { throw TokenizerError("token set has \(t.ids.count) ids for shape \(t.shape)") }
            if let bad = t.ids.first(where: { $0 < 0 || $0 >= config.codebookSize }) {
                throw TokenizerError("token id \(bad) is outside \(modelID)'s codebook (0..<\(config.codebookSize))")
            }
        }
        return k
    }
}
