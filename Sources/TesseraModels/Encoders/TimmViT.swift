// timm's VisionTransformer (`timm/models/vision_transformer.py`), loaded from a Hugging Face
// hub directory as timm writes it: config.json (architecture, num_classes, pretrained_cfg,
// optional model_args) + model.safetensors with timm's own key names.
import Foundation
import TesseraCore
import TesseraMedia
import TesseraNN

// MARK: - Configuration

/// The architecture of a timm ViT: from the architecture name, overridden by `model_args`.
public struct TimmViTConfig: Sendable, Equatable {
    /// timm's `global_pool`: what `forward_head` pools before the classifier.
    public enum GlobalPool: String, Sendable, Equatable {
        /// The CLS token (`"token"`).
        case token
        /// Mean of the patch tokens (`"avg"`).
        case avg
        /// No pooling (`""`): the head sees every token.
        case none = ""
    }

    /// timm's architecture name (`vit_base_patch16_224`, with any `.tag`).
    public var architecture: String
    /// Square input side in pixels.
    public var imageSize: Int
    /// Patch side in pixels.
    public var patchSize: Int
    /// Token width.
    public var embedDim: Int
    /// Transformer blocks.
    public var depth: Int
    /// Attention heads.
    public var heads: Int
    /// MLP width over token width.
    public var mlpRatio: Double
    /// Classifier outputs (0: no head).
    public var numClasses: Int
    /// What `forward_head` pools.
    public var globalPool: GlobalPool
    /// Whether there is a CLS token.
    public var classToken: Bool
    /// Register tokens after the CLS token (`reg_tokens`).
    public var registerTokens: Int
    /// Positions added before the prefix tokens are prepended (`no_embed_class`).
    public var noEmbedClass: Bool
    /// Whether the q/k/v projections have biases.
    public var qkvBias: Bool
    /// A LayerNorm before the blocks (`norm_pre`, CLIP-style ViTs).
    public var preNorm: Bool
    /// Eval preprocessing (timm's `pretrained_cfg`).
    public var interpolation: ResizeFilter
    /// `crop_pct`: the resize target is `floor(size / crop_pct)` before the centre crop.
    public var cropPercent: Double
    /// Normalization mean per channel.
    public var mean: [Float]
    /// Normalization standard deviation per channel.
    public var std: [Float]

    /// Named sizes of timm's `vit_{size}_patch{P}_{S}` family.
    static let sizes: [String: (dim: Int, depth: Int, heads: Int)] = [
        "tiny": (192, 12, 3), "small": (384, 12, 6), "medium": (512, 12, 8),
        "base": (768, 12, 12), "large": (1024, 24, 16), "huge": (1280, 32, 16),
    ]

    /// The config timm uses for an architecture name such as `vit_base_patch16_224`.
    public init(architecture: String) throws {
        let base = architecture.split(separator: ".").first.map(String.init) ?? architecture
        let parts = base.split(separator: "_").map(String.init)
        guard parts.count >= 4, parts[0] == "vit", let size = Self.sizes[parts[1]],
            parts[2].hasPrefix("patch"), let patch = Int(parts[2].dropFirst(5)), let image = Int(parts[3])
        else {
            throw ModelConfigError(
                path: architecture,
                reason: "not a timm ViT architecture name (vit_{tiny|small|base|large|huge}_patch{P}_{size})")
        }
        self.architecture = architecture
        imageSize = image
        patchSize = patch
        embedDim = size.dim
        depth = size.depth
        heads = size.heads
        mlpRatio = 4
        numClasses = 1000
        globalPool = .token
        classToken = true
        registerTokens = 0
        noEmbedClass = false
        qkvBias = true
        preNorm = false
        interpolation = .bicubic
        cropPercent = 0.9
        mean = [0.5, 0.5, 0.5]
        std = [0.5, 0.5, 0.5]
    }

    /// Tokens before the patch tokens (CLS and registers).
    public var prefixTokens: Int { (classToken ? 1 : 0) + registerTokens }
    /// Patches per side (the patch convolution's floor).
    public var gridSize: Int { PatchEmbedding.grid(imageSize, patchSize: patchSize) }
    /// The MLP's hidden width.
    public var mlpHidden: Int { Int(Double(embedDim) * mlpRatio) }

    /// timm's eval transform: shorter side to `floor(size / crop_pct)`, centre crop, mean/std.
    public var preprocessing: Preprocessing {
        Preprocessing(
            resize: .shorterSide(Int((Double(imageSize) / cropPercent).rounded(.down))), filter: interpolation,
            centerCrop: PixelSize(imageSize), normalization: .meanStd(mean: mean, std: std))
    }

    /// The stack `blocks.{i}` (exact GELU, eps 1e-6).
    var blockShape: BlockShape {
        BlockShape(dim: embedDim, heads: heads, mlpHidden: mlpHidden, activation: .gelu, eps: 1e-6, qkvBias: qkvBias)
    }
}

/// `config.json` as timm's hub code writes it.
struct TimmHubConfig: Decodable {
    struct PretrainedConfig: Decodable {
        var input_size: [Int]?
        var interpolation: String?
        var crop_pct: Double?
        var mean: [Float]?
        var std: [Float]?
    }
    /// timm accepts sizes as `224` or `[224, 224]`; only square sizes are supported.
    struct Size: Decodable {
        var value: Int
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let v = try? c.decode(Int.self) { value = v; return }
            let pair = try c.decode([Int].self)
            guard let first = pair.first, pair.allSatisfy({ $0 == first }) else {
                throw DecodingError.dataCorruptedError(
                    in: c, debugDescription: "non-square size \(pair) is not supported")
            }
            value = first
        }
    }
    struct ModelArgs: Decodable {
        var img_size: Size?
        var patch_size: Size?
        var embed_dim: Int?
        var depth: Int?
        var num_heads: Int?
        var mlp_ratio: Double?
        var num_classes: Int?
        var global_pool: String?
        var class_token: Bool?
        var reg_tokens: Int?
        var no_embed_class: Bool?
        var qkv_bias: Bool?
        var pre_norm: Bool?
    }
    var architecture: String
    var num_classes: Int?
    var global_pool: String?
    var pretrained_cfg: PretrainedConfig?
    var model_args: ModelArgs?
}

extension TimmViTConfig {
    static func pool(_ name: String, _ directory: URL) throws -> GlobalPool {
        guard let pool = GlobalPool(rawValue: name) else {
            throw ModelConfigError(
                path: directory.appendingPathComponent("config.json").path,
                reason: "global_pool '\(name)' is not supported (token, avg or \"\")")
        }
        return pool
    }

    /// Reads a timm hub `config.json`.
    public init(directory: URL) throws {
        let hub = try loadModelConfig(TimmHubConfig.self, directory: directory)
        do { try self.init(architecture: hub.architecture) } catch let e as ModelConfigError {
            throw ModelConfigError(path: directory.appendingPathComponent("config.json").path, reason: e.reason)
        }
        if let n = hub.num_classes { numClasses = n }
        if let p = hub.global_pool { globalPool = try Self.pool(p, directory) }
        if let cfg = hub.pretrained_cfg {
            if let s = cfg.input_size, s.count == 3 { imageSize = s[2] }
            if let i = cfg.interpolation, let f = ResizeFilter(rawValue: i) { interpolation = f }
            if let c = cfg.crop_pct { cropPercent = c }
            if let m = cfg.mean, m.count == 3 { mean = m }
            if let s = cfg.std, s.count == 3 { std = s }
        }
        if let a = hub.model_args {
            imageSize = a.img_size?.value ?? imageSize
            patchSize = a.patch_size?.value ?? patchSize
            embedDim = a.embed_dim ?? embedDim
            depth = a.depth ?? depth
            heads = a.num_heads ?? heads
            mlpRatio = a.mlp_ratio ?? mlpRatio
            numClasses = a.num_classes ?? numClasses
            if let p = a.global_pool { globalPool = try Self.pool(p, directory) }
            classToken = a.class_token ?? classToken
            registerTokens = a.reg_tokens ?? registerTokens
            noEmbedClass = a.no_embed_class ?? noEmbedClass
            qkvBias = a.qkv_bias ?? qkvBias
            preNorm = a.pre_norm ?? preNorm
        }
        let check = ConfigCheck(path: directory.appendingPathComponent("config.json").path)
        try check.size("img_size", imageSize, in: 1...8192)
        try check.size("embed_dim", embedDim, in: 1...65536)
        try check.size("depth", depth, in: 1...1024)
        try check.size("num_classes", numClasses, in: 0...1_000_000)
        try check.size("reg_tokens", registerTokens, in: 0...1024)
        guard mlpRatio > 0, mlpRatio <= 64 else {
            throw ModelConfigError(path: check.path, reason: "mlp_ratio is \(mlpRatio); expected (0, 64]")
        }
        guard heads > 0, embedDim % heads == 0, patchSize > 0, patchSize <= imageSize, depth > 0 else {
            throw ModelConfigError(
                path: directory.appendingPathComponent("config.json").path,
                reason:
                    "inconsistent ViT shape (embed \(embedDim), heads \(heads), image \(imageSize), patch \(patchSize))"
            )
        }
    }
}

extension BlockKeys {
    /// timm `Block`: `norm1`, `attn.qkv`, `attn.proj`, `norm2`, `mlp.fc1`, `mlp.fc2`, optional
    /// LayerScale `ls1.gamma` / `ls2.gamma`.
    public static let timm = BlockKeys(
        norm1: "norm1", attention: "attn", attentionKeys: AttentionKeys(projections: .packed("qkv"), output: "proj"),
        norm2: "norm2", mlp: "mlp", mlpLayers: ("fc1", "fc2"), layerScale1: "ls1.gamma", layerScale2: "ls2.gamma")
}

// MARK: - Model

/// A timm Vision Transformer.
public struct TimmViT: VisionEncoder {
    /// The architecture and eval transform.
    public let config: TimmViTConfig
    /// Family `timm-vit`, prefix = CLS + register tokens.
    public let descriptor: EncoderDescriptor
    /// The blocks `blocks.{i}`.
    public let stack: TransformerStack
    let patchEmbed: PatchEmbedding
    let classToken: Tensor?
    let registerTokens: Tensor?
    let positionEmbedding: Tensor
    let normPre: LayerNorm?
    let norm: LayerNorm?
    let fcNorm: LayerNorm?
    let head: Linear?

    /// Loads `config.json` + `model.safetensors` from a timm hub directory, strictly.
    public init(directory: URL) throws {
        let config = try TimmViTConfig(directory: directory)
        try self.init(config: config, weights: .checkpoint(try Checkpoint(directory: directory)))
    }

    /// Binds a checkpoint in timm's key layout to `config`.
    /// - Throws: `WeightLoadError` listing every missing, unused or misshapen key.
    public init(config: TimmViTConfig, checkpoint: Checkpoint) throws {
        try self.init(config: config, weights: .checkpoint(checkpoint))
    }

    /// Binds weights in timm's key layout (a checkpoint, or random weights for benchmarks) to `config`.
    public init(config: TimmViTConfig, weights: WeightSource) throws {
        self.config = config
        descriptor = EncoderDescriptor(
            family: "timm-vit", modelID: config.architecture, width: config.embedDim,
            depth: config.depth, heads: config.heads, inputSize: PixelSize(config.imageSize),
            patchSize: config.patchSize, prefixTokens: config.prefixTokens,
            hasClassToken: config.classToken)
        let loader = try WeightLoader(weights)
        let w = loader.root
        let d = config.embedDim
        // The sizes against the tensors, before a ViT of those sizes exists.
        let check = ConfigCheck(path: loader.checkpoint?.path ?? config.architecture)
        try check.agrees(
            w["patch_embed.proj"], "weight", [d, 3, config.patchSize, config.patchSize],
            fields: "embed_dim and patch_size")
        let positions = config.gridSize * config.gridSize + (config.noEmbedClass ? 0 : config.prefixTokens)
        try check.agrees(
            w, "pos_embed", [1, positions, d], fields: "img_size, patch_size, the prefix tokens and embed_dim")
        try check.agrees(
            w["blocks"][config.depth - 1]["mlp.fc1"], "weight", [config.mlpHidden, d],
            fields: "depth, mlp_ratio and embed_dim")
        patchEmbed = try PatchEmbedding(w["patch_embed.proj"], dim: d, patchSize: config.patchSize)
        classToken = try config.classToken ? w.tensor("cls_token", shape: [1, 1, d]) : nil
        registerTokens =
            try config.registerTokens > 0 ? w.tensor("reg_token", shape: [1, config.registerTokens, d]) : nil
        positionEmbedding = try w.tensor("pos_embed", shape: [1, positions, d])
        normPre = try config.preNorm ? LayerNorm(w["norm_pre"], dim: d, eps: 1e-6) : nil
        stack = try TransformerStack(w["blocks"], count: config.depth, keys: .timm, shape: config.blockShape)
        // timm puts the final norm after pooling (fc_norm) for avg-pooled models.
        let useFcNorm = w.contains("fc_norm.weight")
        norm = try w.contains("norm.weight") || !useFcNorm ? LayerNorm(w["norm"], dim: d, eps: 1e-6) : nil
        fcNorm = try useFcNorm ? LayerNorm(w["fc_norm"], dim: d, eps: 1e-6) : nil
        head = try config.numClasses > 0 ? Linear(w["head"], in: d, out: config.numClasses) : nil
        try loader.finish()
    }

    /// timm's eval transform (see ``TimmViTConfig/preprocessing``).
    public var preprocessing: Preprocessing { config.preprocessing }

    /// Tokens before the blocks: patch embedding, prefix tokens, position embedding. `[B, N, D]`.
    public func embed(_ pixels: Tensor) -> Tensor {
        requireInput(pixels, descriptor)
        let b = pixels.shape[0]
        var x = patchEmbed(pixels)  // [B, N, D]
        let prefix = [classToken, registerTokens].compactMap { $0 }
        func withPrefix(_ t: Tensor) -> Tensor {
            prefix.isEmpty
                ? t : Tensor.concatenate([Tensor.concatenate(prefix, axis: 1).expanded(batch: b), t], axis: 1)
        }
        x = config.noEmbedClass ? withPrefix(x + positionEmbedding) : withPrefix(x) + positionEmbedding
        if let normPre { x = normPre(x) }
        return x
    }

    /// `forward_features` (the final norm) and `forward_head(pre_logits=True)` (the global pool
    /// and `fc_norm`; nil for `global_pool ""`).
    public func finish(_ hidden: Tensor) -> (last: Tensor, pooled: Tensor?) {
        let tokens = norm.map { $0(hidden) } ?? hidden
        return (tokens, pooled(tokens))
    }

    /// `forward_features`: tokens after the final norm, `[B, N, D]`.
    public func features(_ pixels: Tensor) -> Tensor { forward(pixels).lastHiddenState }

    /// `forward_head(..., pre_logits=True)` of final tokens: the pooled representation `[B, D]`
    /// (nil without pooling).
    public func pooled(_ tokens: Tensor) -> Tensor? {
        let (b, n, d) = (tokens.shape[0], tokens.shape[1], tokens.shape[2])
        var pooled: Tensor
        switch config.globalPool {
        case .avg: pooled = tokens.slice(axis: 1, config.prefixTokens..<n).mean(axis: 1)
        case .token: pooled = tokens.slice(axis: 1, 0..<1).reshaped([b, d])
        case .none: return nil
        }
        if let fcNorm { pooled = fcNorm(pooled) }
        return pooled
    }

    /// Class logits `[B, numClasses]`.
    public func logits(_ pixels: Tensor) -> Tensor { logits(forward(pixels)) }

    /// Class logits of a forward pass's output (e.g. one run with ToMe): the head on the pooled
    /// tokens (the tokens themselves without pooling; the pooled vector without a head).
    public func logits(_ output: VisionEncoderOutput) -> Tensor {
        let p = output.pooled ?? output.lastHiddenState
        return head.map { $0(p) } ?? p
    }
}
