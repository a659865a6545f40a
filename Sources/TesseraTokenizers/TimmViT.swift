// timm's VisionTransformer (`timm/models/vision_transformer.py`), loaded from a Hugging Face
// hub directory as timm writes it: config.json (architecture, num_classes, pretrained_cfg,
// optional model_args) + model.safetensors with timm's own key names.
import Foundation
import TesseraCore
import TesseraMedia
import TesseraNN
import TesseraReduction

// MARK: - Configuration

/// The architecture of a timm ViT: from the architecture name, overridden by `model_args`.
public struct TimmViTConfig: Sendable, Equatable {
    public var architecture: String
    public var imageSize: Int
    public var patchSize: Int
    public var embedDim: Int
    public var depth: Int
    public var heads: Int
    public var mlpRatio: Double
    public var numClasses: Int
    /// "token" (CLS), "avg" (mean of patch tokens) or "" (no pooling).
    public var globalPool: String
    public var classToken: Bool
    public var registerTokens: Int
    public var noEmbedClass: Bool
    public var qkvBias: Bool
    public var preNorm: Bool
    /// Eval preprocessing (timm's `pretrained_cfg`).
    public var interpolation: ResizeFilter
    public var cropPercent: Double
    public var mean: [Float]
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
        else { throw ModelConfigError(path: architecture, reason: "not a timm ViT architecture name (vit_{tiny|small|base|large|huge}_patch{P}_{size})") }
        self.architecture = architecture
        imageSize = image
        patchSize = patch
        embedDim = size.dim
        depth = size.depth
        heads = size.heads
        mlpRatio = 4
        numClasses = 1000
        globalPool = "token"
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
    public var gridSize: Int { imageSize / patchSize }
    public var mlpHidden: Int { Int(Double(embedDim) * mlpRatio) }

    /// timm's eval transform: shorter side to `floor(size / crop_pct)`, centre crop, mean/std.
    public var preprocessing: Preprocessing {
        Preprocessing(resize: .shorterSide(Int((Double(imageSize) / cropPercent).rounded(.down))), filter: interpolation,
                      centerCrop: PixelSize(imageSize), normalization: .meanStd(mean: mean, std: std))
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
                throw DecodingError.dataCorruptedError(in: c, debugDescription: "non-square size \(pair) is not supported")
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
    /// Reads a timm hub `config.json`.
    public init(directory: URL) throws {
        let hub = try loadModelConfig(TimmHubConfig.self, directory: directory)
        do { try self.init(architecture: hub.architecture) } catch let e as ModelConfigError {
            throw ModelConfigError(path: directory.appendingPathComponent("config.json").path, reason: e.reason)
        }
        if let n = hub.num_classes { numClasses = n }
        if let p = hub.global_pool { globalPool = p }
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
            globalPool = a.global_pool ?? globalPool
            classToken = a.class_token ?? classToken
            registerTokens = a.reg_tokens ?? registerTokens
            noEmbedClass = a.no_embed_class ?? noEmbedClass
            qkvBias = a.qkv_bias ?? qkvBias
            preNorm = a.pre_norm ?? preNorm
        }
        guard embedDim % heads == 0, imageSize % patchSize == 0, depth > 0 else {
            throw ModelConfigError(path: directory.appendingPathComponent("config.json").path,
                                   reason: "inconsistent ViT shape (embed \(embedDim), heads \(heads), image \(imageSize), patch \(patchSize))")
        }
    }
}

// MARK: - Model

/// A timm Vision Transformer.
public struct TimmViT: Sendable {
    public let config: TimmViTConfig
    let patchEmbed: Conv2d
    let classToken: Tensor?
    let registerTokens: Tensor?
    let positionEmbedding: Tensor
    let normPre: LayerNorm?
    public let blocks: [TransformerBlock]
    let norm: LayerNorm?
    let fcNorm: LayerNorm?
    let head: Linear?

    /// Loads `config.json` + `model.safetensors` from a timm hub directory, strictly.
    public init(directory: URL) throws {
        let config = try TimmViTConfig(directory: directory)
        try self.init(config: config, checkpoint: try Checkpoint(directory: directory))
    }

    public init(config: TimmViTConfig, checkpoint: Checkpoint) throws {
        self.config = config
        let loader = WeightLoader(checkpoint)
        let w = loader.root
        let d = config.embedDim
        patchEmbed = Conv2d(w["patch_embed.proj"], in: 3, out: d, kernel: (config.patchSize, config.patchSize),
                            stride: (config.patchSize, config.patchSize))
        classToken = config.classToken ? w.tensor("cls_token", shape: [1, 1, d]) : nil
        registerTokens = config.registerTokens > 0 ? w.tensor("reg_token", shape: [1, config.registerTokens, d]) : nil
        let positions = config.gridSize * config.gridSize + (config.noEmbedClass ? 0 : config.prefixTokens)
        positionEmbedding = w.tensor("pos_embed", shape: [1, positions, d])
        normPre = config.preNorm ? LayerNorm(w["norm_pre"], dim: d, eps: 1e-6) : nil
        blocks = (0..<config.depth).map {
            TransformerBlock(w["blocks"][$0], family: .timm, dim: d, heads: config.heads, mlpHidden: config.mlpHidden,
                             activation: .gelu, eps: 1e-6, qkvBias: config.qkvBias)
        }
        // timm puts the final norm after pooling (fc_norm) for avg-pooled models.
        let useFcNorm = w.contains("fc_norm.weight")
        norm = w.contains("norm.weight") || !useFcNorm ? LayerNorm(w["norm"], dim: d, eps: 1e-6) : nil
        fcNorm = useFcNorm ? LayerNorm(w["fc_norm"], dim: d, eps: 1e-6) : nil
        head = config.numClasses > 0 ? Linear(w["head"], in: d, out: config.numClasses) : nil
        try loader.finish()
    }

    /// Tokens before the blocks: patch embedding, prefix tokens, position embedding. `[B, N, D]`.
    public func embed(_ pixels: Tensor) -> Tensor {
        precondition(pixels.rank == 4 && pixels.shape[1] == 3 && pixels.shape[2] == config.imageSize && pixels.shape[3] == config.imageSize,
                     "ViT input must be [B, 3, \(config.imageSize), \(config.imageSize)], got \(pixels.shape)")
        let b = pixels.shape[0], d = config.embedDim
        let patches = patchEmbed(pixels)                       // [B, D, g, g]
        var x = patches.reshaped([b, d, patches.count / (b * d)]).transposed(1, 2)   // [B, N, D]
        var prefix: [Tensor] = []
        if let classToken { prefix.append(classToken) }
        if let registerTokens { prefix.append(registerTokens) }
        let expanded = prefix.isEmpty ? nil : Tensor.concatenate(prefix, axis: 1)
        func withPrefix(_ t: Tensor) -> Tensor {
            guard let expanded else { return t }
            let tiled = Tensor.concatenate(Array(repeating: expanded, count: b), axis: 0)
            return Tensor.concatenate([tiled, t], axis: 1)
        }
        if config.noEmbedClass {
            x = withPrefix(x + positionEmbedding)
        } else {
            x = withPrefix(x) + positionEmbedding
        }
        if let normPre { x = normPre(x) }
        return x
    }

    /// Hidden states: the output of every block (before the final norm), then the final
    /// normalized tokens (`forward_features`).
    public func forward(_ pixels: Tensor, upTo lastBlock: Int? = nil,
                        statistics: AttentionStatistics = .none,
                        onBlock: ((Int, Tensor, Tensor?) -> Void)? = nil) -> Tensor {
        var x = embed(pixels)
        let last = lastBlock ?? blocks.count - 1
        for (i, block) in blocks.enumerated() where i <= last {
            let (h, probs) = block(x, statistics: statistics)
            x = h
            onBlock?(i, x, probs)
        }
        if lastBlock == nil, let norm { x = norm(x) }
        return x
    }

    // MARK: ToMe

    /// ToMe's settings (shared with the CLIP and SigLIP towers).
    public typealias TokenMerging = TesseraTokenizers.TokenMerging

    /// Tokens after the final norm with ToMe applied inside every block (see ``TokenMerging``),
    /// the size of every output token, and for each input token the output slot it was merged
    /// into (`[B][T]`), as facebookresearch/ToMe patches timm.
    public func featuresMerging(_ pixels: Tensor, merging: TokenMerging) -> (tokens: Tensor, sizes: [[Float]], slotOf: [[Int]]) {
        let (hidden, trace) = runEncoderMerging(blocks, embed(pixels), merging: merging, classToken: config.classToken)
        var x = hidden.last!
        if let norm { x = norm(x) }
        return (x, trace.sizes, trace.slotOf)
    }

    /// `forward_features`: tokens after the final norm, `[B, N, D]`.
    public func features(_ pixels: Tensor) -> Tensor { forward(pixels) }

    /// `forward_head(..., pre_logits=True)`: the pooled representation, `[B, D]`.
    public func pooled(_ tokens: Tensor) -> Tensor {
        let (b, n, d) = (tokens.shape[0], tokens.shape[1], tokens.shape[2])
        var pooled: Tensor
        switch config.globalPool {
        case "avg":
            pooled = tokens.slice(axis: 1, config.prefixTokens..<n).mean(axis: 1)
        case "token":
            pooled = tokens.slice(axis: 1, 0..<1).reshaped([b, d])
        default:
            return tokens
        }
        if let fcNorm { pooled = fcNorm(pooled) }
        return pooled
    }

    /// Class logits `[B, numClasses]`.
    public func logits(_ pixels: Tensor) -> Tensor { logits(features: features(pixels)) }

    /// Class logits of final tokens (e.g. from ``featuresMerging(_:merging:)``): pool, then the head.
    public func logits(features tokens: Tensor) -> Tensor {
        let p = pooled(tokens)
        return head.map { $0(p) } ?? p
    }
}
