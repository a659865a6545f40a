// The convolutional encoder and decoder shared by the taming-transformers VQGAN (Chameleon,
// LlamaGen / Janus) and the diffusers `AutoencoderKL` (src/diffusers/models/autoencoders/
// autoencoder_kl.py, vae.py, resnet.py; Stable Diffusion, FlexTok): ResNet blocks with
// GroupNorm + SiLU, optional single-head attention per level and in the middle, asymmetric-pad
// stride-2 downsampling, nearest ×2 upsampling. One implementation; ``ConvCoderKeys`` names the
// tensors of each layout, and a family binds it under its own prefix.
import Foundation
import TesseraCore

/// The shape of an `AutoencoderKL`, from its `config.json` or read off the checkpoint's tensors.
public struct AutoencoderKLConfig: Sendable, Equatable {
    /// Channels of each resolution level (`block_out_channels`), highest resolution first.
    public var blockOutChannels: [Int]
    /// ResNet blocks per encoder level (the decoder has one more per level).
    public var layersPerBlock: Int
    /// Latent channels.
    public var latentChannels: Int
    /// Image channels in.
    public var inChannels = 3
    /// Image channels out.
    public var outChannels = 3
    /// GroupNorm groups (`norm_num_groups`).
    public var normGroups = 32
    /// Whether the mid blocks have their attention layer (`mid_block_add_attention`).
    public var midBlockAttention = true
    /// The 1×1 `quant_conv` / `post_quant_conv` (`use_quant_conv`, `use_post_quant_conv`).
    public var quantConvolutions = true
    /// `scaling_factor` (not applied here: callers scale latents as their model does).
    public var scalingFactor: Float?

    /// Spatial downsampling: 2 per level after the first.
    public var downsampleFactor: Int { 1 << max(0, blockOutChannels.count - 1) }

    /// The encoder's shape (its output: the posterior's mean and log-variance).
    public var encoderShape: ConvCoderShape {
        var shape = ConvCoderShape(
            channels: blockOutChannels, blocksPerLevel: layersPerBlock, latentChannels: 2 * latentChannels)
        shape.midAttention = midBlockAttention
        shape.groups = normGroups
        shape.imageChannels = inChannels
        return shape
    }

    /// The sizes against the weights under `w` (the autoencoder's scope), before an autoencoder of
    /// those sizes is built (``ConvCoderShape/validate(path:encoder:keys:)``).
    public func validate(path: String, weights w: WeightScope) throws {
        try encoderShape.validate(path: path, encoder: w["encoder"], keys: .diffusers)
    }

    /// - Parameters:
    ///   - blockOutChannels: channels per level, highest resolution first.
    ///   - layersPerBlock: ResNet blocks per encoder level.
    ///   - latentChannels: latent channels.
    public init(blockOutChannels: [Int], layersPerBlock: Int, latentChannels: Int) {
        self.blockOutChannels = blockOutChannels
        self.layersPerBlock = layersPerBlock
        self.latentChannels = latentChannels
    }

    /// Reads a diffusers `config.json` (only `AutoencoderKL` with Down/UpEncoderBlock2D levels).
    /// - Throws: ``ModelConfigError`` naming the file and field.
    public init(configFile url: URL) throws {
        try self.init(tree: try Self.readTree(url), path: url.path)
    }

    /// The parsed `config.json` of a VAE directory (for readers that want more of it than the shape).
    /// - Throws: ``ModelConfigError`` naming the file.
    public static func readTree(_ url: URL) throws -> ConfigTree {
        do {
            return try ConfigTree(parsing: String(decoding: try Data(contentsOf: url), as: UTF8.self))
        } catch {
            throw ModelConfigError(path: url.path, reason: "cannot read the VAE config (\(error))")
        }
    }

    /// Reads a parsed diffusers `config.json` (only `AutoencoderKL` with Down/UpEncoderBlock2D levels).
    /// - Throws: ``ModelConfigError`` naming `path` and the field.
    public init(tree: ConfigTree, path: String) throws {
        func fail(_ reason: String) -> ModelConfigError { ModelConfigError(path: path, reason: reason) }
        if let name = tree["_class_name"]?.string, name != "AutoencoderKL" {
            throw fail("'_class_name' is \(name); only AutoencoderKL is supported")
        }
        guard let channels = tree["block_out_channels"]?.list?.compactMap(\.int), !channels.isEmpty,
            channels.count <= 8, channels.allSatisfy({ (1...8192).contains($0) })
        else { throw fail("'block_out_channels' must list 1 to 8 positive channel counts") }
        let layers = tree["layers_per_block"]?.int ?? 2
        let latent = tree["latent_channels"]?.int ?? 4
        guard (1...16).contains(layers), (1...1024).contains(latent) else {
            throw fail("'layers_per_block' (\(layers)) or 'latent_channels' (\(latent)) out of range")
        }
        for key in ["down_block_types", "up_block_types"] {
            let expected = key.hasPrefix("down") ? "DownEncoderBlock2D" : "UpDecoderBlock2D"
            if let types = tree[key]?.list?.compactMap(\.string), types.contains(where: { $0 != expected }) {
                throw fail("'\(key)' \(types): only \(expected) levels are supported")
            }
        }
        self.init(blockOutChannels: channels, layersPerBlock: layers, latentChannels: latent)
        inChannels = tree["in_channels"]?.int ?? 3
        outChannels = tree["out_channels"]?.int ?? 3
        normGroups = tree["norm_num_groups"]?.int ?? 32
        midBlockAttention = tree["mid_block_add_attention"]?.bool ?? true
        quantConvolutions = (tree["use_quant_conv"]?.bool ?? true) && (tree["use_post_quant_conv"]?.bool ?? true)
        scalingFactor = tree["scaling_factor"]?.double.map(Float.init)
        guard blockOutChannels.allSatisfy({ $0 % max(1, normGroups) == 0 }), normGroups > 0,
            (1...16).contains(inChannels), (1...16).contains(outChannels)
        else {
            throw fail("channels \(blockOutChannels) not divisible by \(normGroups) groups, or bad in/out channels")
        }
    }

    /// The shape read off the tensors under `w` (an embedded VAE whose config the checkpoint does not
    /// carry): levels from `encoder.down_blocks.*`, blocks per level, latent channels from `decoder.conv_in`.
    /// Returns nil when the tensors are not an `AutoencoderKL`'s.
    public static func inferred(from w: WeightScope) -> AutoencoderKLConfig? {
        var channels: [Int] = []
        while let shape = w.shape(of: "encoder.down_blocks.\(channels.count).resnets.0.conv2.weight"), shape.count == 4
        {
            channels.append(shape[0])
            if channels.count > 8 { return nil }
        }
        var layers = 0
        while w.contains("encoder.down_blocks.0.resnets.\(layers).conv1.weight") && layers < 16 { layers += 1 }
        guard !channels.isEmpty, layers > 0, let convIn = w.shape(of: "decoder.conv_in.weight"), convIn.count == 4,
            let imageIn = w.shape(of: "encoder.conv_in.weight"), imageIn.count == 4,
            let imageOut = w.shape(of: "decoder.conv_out.weight"), imageOut.count == 4
        else { return nil }
        var config = AutoencoderKLConfig(blockOutChannels: channels, layersPerBlock: layers, latentChannels: convIn[1])
        config.inChannels = imageIn[1]
        config.outChannels = imageOut[0]
        config.midBlockAttention = w.contains("encoder.mid_block.attentions.0.to_q.weight")
        config.quantConvolutions = w.contains("quant_conv.weight")
        return config
    }
}

/// The tensor names of one conv-coder layout (what differs between the taming, LlamaGen and
/// diffusers checkpoints of the same network).
public struct ConvCoderKeys: Sendable, Equatable {
    /// How decoder levels are numbered.
    public enum UpOrder: Sendable, Equatable {
        /// `up.{i}` is resolution level `i` (taming's `insert(0, …)`: Chameleon, Emu3).
        case byLevel
        /// `up.{k}` is the k-th level run, lowest resolution first (diffusers, LlamaGen, Janus).
        case executionOrder
    }

    /// Encoder / decoder level lists (`down_blocks` / `up_blocks`, or `down` / `up`).
    public var down: String, up: String
    /// How decoder levels are numbered.
    public var upOrder: UpOrder
    /// ResNet and attention lists inside a level (`resnets` / `attentions`, or `block` / `attn`).
    public var blocks: String, attentions: String
    /// Resampling convolutions of a level (`downsamplers.0.conv`, or `downsample.conv`).
    public var downsample: String, upsample: String
    /// The middle block's ResNet, attention, ResNet.
    public var midFirst: String, midAttention: String, midSecond: String
    /// The 1×1 shortcut of a ResNet block that changes channels.
    public var shortcut: String
    /// The GroupNorm before `conv_out`.
    public var normOut: String
    /// Attention: its GroupNorm, the q, k, v and output projections.
    public var attentionNorm: String, query: String, key: String, value: String, attentionOut: String
    /// Whether the projections are stored as 1×1 convolutions (`[C, C, 1, 1]`) rather than linear layers.
    public var convolutionProjections: Bool
    /// Where the attentions' GroupNorms live when not inside them: a level list (`attn_norms.{j}`) and
    /// the middle block's (`middle_block.attn_norm`), as in Emu3; nil: ``attentionNorm`` under each.
    public var siblingAttentionNorms: SiblingNorms?

    /// Attention GroupNorms kept beside the attentions.
    public struct SiblingNorms: Sendable, Equatable {
        /// The list inside a level (`attn_norms`).
        public var level: String
        /// The middle block's (`middle_block.attn_norm`).
        public var mid: String
    }

    /// diffusers (`AutoencoderKL`, `VQModel`).
    public static let diffusers = ConvCoderKeys(
        down: "down_blocks", up: "up_blocks", upOrder: .executionOrder, blocks: "resnets", attentions: "attentions",
        downsample: "downsamplers.0.conv", upsample: "upsamplers.0.conv", midFirst: "mid_block.resnets.0",
        midAttention: "mid_block.attentions.0", midSecond: "mid_block.resnets.1", shortcut: "conv_shortcut",
        normOut: "conv_norm_out", attentionNorm: "group_norm", query: "to_q", key: "to_k", value: "to_v",
        attentionOut: "to_out.0", convolutionProjections: false)

    /// taming-transformers (`encoder.down.{i}.block.{j}`, `mid.attn_1`, 1×1 attention convolutions),
    /// decoder levels by resolution (Chameleon's `vqgan.ckpt`).
    public static let taming = ConvCoderKeys(
        down: "down", up: "up", upOrder: .byLevel, blocks: "block", attentions: "attn", downsample: "downsample.conv",
        upsample: "upsample.conv", midFirst: "mid.block_1", midAttention: "mid.attn_1", midSecond: "mid.block_2",
        shortcut: "nin_shortcut", normOut: "norm_out", attentionNorm: "norm", query: "q", key: "k", value: "v",
        attentionOut: "proj_out", convolutionProjections: true)

    /// transformers' Emu3 VQ-VAE encoder (`down_block.down.{i}`, `middle_block`, linear `q_proj` … `out_proj`,
    /// the attention norms beside the attentions).
    public static let emu3 = ConvCoderKeys(
        down: "down_block.down", up: "up_block.up", upOrder: .byLevel, blocks: "block", attentions: "attn",
        downsample: "downsample.conv", upsample: "upsample.conv", midFirst: "middle_block.block_1",
        midAttention: "middle_block.attn_1", midSecond: "middle_block.block_2", shortcut: "nin_shortcut",
        normOut: "norm_out", attentionNorm: "norm", query: "q_proj", key: "k_proj", value: "v_proj",
        attentionOut: "out_proj", convolutionProjections: false,
        siblingAttentionNorms: SiblingNorms(level: "attn_norms", mid: "middle_block.attn_norm"))

    /// The taming names with decoder levels in execution order (transformers' Janus VQ-VAE, and
    /// LlamaGen's after its `conv_blocks` / `res` / `mid.{0,1,2}` renames).
    public static var tamingExecutionOrder: ConvCoderKeys {
        var keys = ConvCoderKeys.taming
        keys.upOrder = .executionOrder
        return keys
    }
}

/// The shape of a ``ConvEncoder`` or ``ConvDecoder``.
public struct ConvCoderShape: Sendable, Equatable {
    /// Channels of each resolution level, highest resolution first (`ch · ch_mult`).
    public var channels: [Int]
    /// ResNet blocks per encoder level (the decoder runs one more per level).
    public var blocksPerLevel: Int
    /// Levels (indices into ``channels``) with an attention layer after each ResNet block.
    public var attentionLevels: Set<Int> = []
    /// Whether the middle block has its attention layer.
    public var midAttention = true
    /// Attention heads (1 in every published VQGAN; Emu3's config states it).
    public var attentionHeads = 1
    /// GroupNorm groups.
    public var groups = 32
    /// Image channels (encoder input, decoder output).
    public var imageChannels = 3
    /// Channels of the encoder's output (`2z` for a KL posterior) or of the decoder's input.
    public var latentChannels: Int
    /// A decoder whose every norm is a SpatialNorm conditioned on the quantized latents (Emu3, MoVQ):
    /// their channels. nil: plain GroupNorms.
    public var conditionChannels: Int?

    /// - Parameters:
    ///   - channels: channels per level, highest resolution first.
    ///   - blocksPerLevel: ResNet blocks per encoder level.
    ///   - latentChannels: encoder output / decoder input channels.
    public init(channels: [Int], blocksPerLevel: Int, latentChannels: Int) {
        self.channels = channels
        self.blocksPerLevel = blocksPerLevel
        self.latentChannels = latentChannels
    }

    /// Spatial downsampling: 2 per level after the first.
    public var factor: Int { 1 << max(0, channels.count - 1) }

    /// About the peak bytes of activations of one `height × width` image (the encoder's input size,
    /// or the decoder's output size) through this encoder or decoder: 7 float32 feature maps of its
    /// largest level (the block input, norm and convolution outputs, the skip, Winograd tiles).
    /// Measured with `tessera bench tokenizer` at batch 1 and 4 (peak RSS per added image): Chameleon's
    /// 512² VQGAN adds 837 MB encoding and 823 MB decoding; this gives 940 MB.
    public func activationBytes(height: Int, width: Int) -> Int {
        let largest = channels.indices.map { channels[$0] * (height >> $0) * (width >> $0) }.max() ?? 0
        return 7 * 4 * largest
    }

    /// Fails unless every level's channels divide into the groups and the sizes are sane.
    /// - Throws: ``ModelConfigError`` naming `path`.
    public func validate(path: String) throws {
        guard (1...8).contains(channels.count), channels.allSatisfy({ (1...8192).contains($0) }), groups > 0,
            channels.allSatisfy({ $0 % groups == 0 }), (1...16).contains(blocksPerLevel),
            (1...16).contains(imageChannels), (1...4096).contains(latentChannels),
            attentionLevels.allSatisfy(channels.indices.contains), (1...4096).contains(conditionChannels ?? 1)
        else {
            throw ModelConfigError(
                path: path,
                reason: "unsupported conv coder: channels \(channels) (1–8 levels, multiples of \(groups) groups), "
                    + "\(blocksPerLevel) blocks per level, attention at levels \(attentionLevels.sorted()), "
                    + "\(imageChannels) image and \(latentChannels) latent channels")
        }
    }

    /// Ranges (``validate(path:)``), then the encoder's tensors under `encoder` against every size
    /// of the shape (each level's channels and depth, the image and latent channels), so a config
    /// that disagrees with its weights, or whose defaults stand in for missing fields, is refused
    /// before a coder of its sizes is allocated (the decoder shares the shape).
    /// - Throws: ``ModelConfigError`` naming `path` and the tensor.
    public func validate(path: String, encoder w: WeightScope, keys: ConvCoderKeys) throws {
        try validate(path: path)
        let check = ConfigCheck(path: path)
        let fields = "the encoder's channels, blocks per level and image/latent channels"
        try check.agrees(w["conv_in"], "weight", [channels[0], imageChannels, 3, 3], fields: fields)
        for (i, c) in channels.enumerated() {
            try check.agrees(
                w[keys.down][i][keys.blocks][blocksPerLevel - 1]["conv2"], "weight", [c, c, 3, 3], fields: fields)
        }
        try check.agrees(w["conv_out"], "weight", [latentChannels, channels[channels.count - 1], 3, 3], fields: fields)
    }
}

/// A GroupNorm (eps 1e-6), or in a conditioned decoder a SpatialNorm (`norm_layer`, `conv_y`,
/// `conv_b`): `GroupNorm(x) · conv_y(zq↑) + conv_b(zq↑)`, zq↑ the quantized latents nearest-resized
/// to x's grid. The 1×1 convolutions run on zq's own grid, which gives the same values (they act
/// per pixel, and nearest resizing only repeats pixels).
struct CoderNorm: Sendable {
    let norm: GroupNorm
    /// `conv_y` and `conv_b` as one convolution `[2C, zq, 1, 1]`.
    let modulation: Conv2d?

    init(_ w: WeightScope, channels c: Int, shape: ConvCoderShape) throws {
        guard let zq = shape.conditionChannels else {
            norm = try GroupNorm(w, groups: shape.groups, channels: c, eps: 1e-6)
            modulation = nil
            return
        }
        norm = try GroupNorm(w["norm_layer"], groups: shape.groups, channels: c, eps: 1e-6)
        let parts = try ["conv_y", "conv_b"].map { try Conv2d(w[$0], in: zq, out: c, kernel: (1, 1)) }
        modulation = Conv2d(
            weight: Tensor.concatenate(parts.map(\.weight), axis: 0),
            bias: Tensor.concatenate(parts.compactMap(\.bias), axis: 0))
    }

    /// The norm of `x` `[N, C, H, W]`, conditioned on `zq` `[N, zq, h, w]` in a conditioned decoder.
    func callAsFunction(_ x: Tensor, condition zq: Tensor?, activation: Activation = .identity) -> Tensor {
        guard let modulation else { return norm(x, activation: activation) }
        guard let zq else { preconditionFailure("a SpatialNorm decoder runs with its quantized latents") }
        return norm(x, modulation: modulation(zq), activation: activation)
    }
}

/// A ResNet block without time embedding: norm → SiLU → conv 3×3, twice, plus the input
/// (through a 1×1 shortcut when the channel count changes).
struct ConvResBlock: Sendable {
    let norm1: CoderNorm, conv1: Conv2d, norm2: CoderNorm, conv2: Conv2d
    let shortcut: Conv2d?

    init(_ w: WeightScope, in cin: Int, out cout: Int, shape: ConvCoderShape, keys: ConvCoderKeys) throws {
        norm1 = try CoderNorm(w["norm1"], channels: cin, shape: shape)
        conv1 = try Conv2d(w["conv1"], in: cin, out: cout, kernel: (3, 3), padding: (1, 1))
        norm2 = try CoderNorm(w["norm2"], channels: cout, shape: shape)
        conv2 = try Conv2d(w["conv2"], in: cout, out: cout, kernel: (3, 3), padding: (1, 1))
        shortcut = try cin != cout ? Conv2d(w[keys.shortcut], in: cin, out: cout, kernel: (1, 1)) : nil
    }

    func callAsFunction(_ x: Tensor, condition zq: Tensor? = nil) -> Tensor {
        var h = conv1(norm1(x, condition: zq, activation: .silu))
        h = conv2(norm2(h, condition: zq, activation: .silu))
        var residual = shortcut.map { $0(x) } ?? x
        residual.add(h)
        return residual
    }

    func flops(_ pixels: Int) -> Double {
        convFlops(conv1, pixels) + convFlops(conv2, pixels) + (shortcut.map { convFlops($0, pixels) } ?? 0)
    }
}

/// Multiply-adds ×2 of a convolution at `pixels` output pixels.
func convFlops(_ c: Conv2d, _ pixels: Int) -> Double { Double(2 * c.weight.count) * Double(pixels) }

/// Single-head spatial self-attention: GroupNorm, q/k/v over channels, softmax over all
/// positions (scale `C^-½`), the output projection, plus the input.
struct SpatialAttention: Sendable {
    let norm: CoderNorm
    let qkv: Linear
    let out: Linear
    let heads: Int

    /// Binds the attention under `w`, its GroupNorm under `normScope` (default: `w[keys.attentionNorm]`).
    init(
        _ w: WeightScope, norm normScope: WeightScope? = nil, channels c: Int, shape: ConvCoderShape,
        keys: ConvCoderKeys
    ) throws {
        norm = try CoderNorm(normScope ?? w[keys.attentionNorm], channels: c, shape: shape)
        heads = shape.attentionHeads
        func projection(_ name: String) throws -> Linear {
            guard keys.convolutionProjections else { return try Linear(w[name], in: c, out: c) }
            return try Linear(
                weight: w[name].tensor("weight", shape: [c, c, 1, 1]).reshaped([c, c]),
                bias: w[name].tensor("bias", shape: [c]))
        }
        let parts = try [keys.query, keys.key, keys.value].map(projection)
        qkv = Linear(
            weight: Tensor.concatenate(parts.map(\.weight), axis: 0),
            bias: Tensor.concatenate(parts.compactMap(\.bias), axis: 0))
        out = try projection(keys.attentionOut)
    }

    func callAsFunction(_ x: Tensor, condition zq: Tensor? = nil) -> Tensor {
        let (b, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let tokens = norm(x, condition: zq).reshaped([b, c, h * w]).transposed(1, 2)  // [B, HW, C]
        let (attended, _) = packedSelfAttention(qkv(tokens), heads: heads)
        var y = out(attended).transposed(1, 2).reshaped([b, c, h, w])
        y.add(x)
        return y
    }

    func flops(_ pixels: Int) -> Double {
        let c = Double(out.weight.shape[0]), n = Double(pixels)
        return 8 * n * c * c + 4 * n * n * c
    }
}

/// One resolution level: ResNet blocks, each followed by attention where the level has it.
struct ConvLevel: Sendable {
    let blocks: [ConvResBlock]
    let attentions: [SpatialAttention]
    /// The downsampling (encoder) or upsampling (decoder) convolution after the level, if any.
    let resample: Conv2d?

    init(
        _ w: WeightScope, count: Int, in cin: Int, out cout: Int, attention: Bool, resample: String?,
        shape: ConvCoderShape, keys: ConvCoderKeys, stride: Int
    ) throws {
        blocks = try (0..<count).map {
            try ConvResBlock(w[keys.blocks][$0], in: $0 == 0 ? cin : cout, out: cout, shape: shape, keys: keys)
        }
        attentions =
            attention
            ? try (0..<count).map { j in
                try SpatialAttention(
                    w[keys.attentions][j], norm: keys.siblingAttentionNorms.map { w[$0.level][j] }, channels: cout,
                    shape: shape, keys: keys)
            } : []
        // Downsampling convolves the zero-padded input with stride 2 and no padding; upsampling
        // (after nearest ×2) with stride 1 and padding 1.
        let padding = stride == 2 ? 0 : 1
        self.resample = try resample.map {
            try Conv2d(
                w[$0], in: cout, out: cout, kernel: (3, 3), stride: (stride, stride), padding: (padding, padding))
        }
    }

    func callAsFunction(_ x: Tensor, condition zq: Tensor? = nil) -> Tensor {
        var h = x
        for (i, block) in blocks.enumerated() {
            h = block(h, condition: zq)
            if i < attentions.count { h = attentions[i](h, condition: zq) }
        }
        return h
    }

    func flops(_ pixels: Int) -> Double {
        blocks.reduce(0) { $0 + $1.flops(pixels) } + attentions.reduce(0) { $0 + $1.flops(pixels) }
    }
}

/// The middle block: ResNet, attention (optional), ResNet.
struct ConvMidBlock: Sendable {
    let first: ConvResBlock, attention: SpatialAttention?, second: ConvResBlock

    init(_ w: WeightScope, channels c: Int, shape: ConvCoderShape, keys: ConvCoderKeys) throws {
        first = try ConvResBlock(w[keys.midFirst], in: c, out: c, shape: shape, keys: keys)
        attention =
            shape.midAttention
            ? try SpatialAttention(
                w[keys.midAttention], norm: keys.siblingAttentionNorms.map { w[$0.mid] }, channels: c, shape: shape,
                keys: keys) : nil
        second = try ConvResBlock(w[keys.midSecond], in: c, out: c, shape: shape, keys: keys)
    }

    func callAsFunction(_ x: Tensor, condition zq: Tensor? = nil) -> Tensor {
        var h = first(x, condition: zq)
        if let attention { h = attention(h, condition: zq) }
        return second(h, condition: zq)
    }

    func flops(_ pixels: Int) -> Double {
        first.flops(pixels) + (attention?.flops(pixels) ?? 0) + second.flops(pixels)
    }
}

/// The encoder: `conv_in`, the levels (each but the last followed by a zero pad right/bottom and a
/// stride-2 convolution), the middle block, GroupNorm → SiLU → `conv_out`. `[B, image, H, W]` →
/// `[B, latent, H/f, W/f]`; H and W must be multiples of f.
public struct ConvEncoder: Sendable {
    /// The shape.
    public let shape: ConvCoderShape
    let convIn: Conv2d
    let levels: [ConvLevel]
    let mid: ConvMidBlock
    let normOut: GroupNorm
    let convOut: Conv2d

    /// Binds the encoder under `w` (`encoder` in every layout) with `keys`' names.
    public init(_ w: WeightScope, shape: ConvCoderShape, keys: ConvCoderKeys) throws {
        self.shape = shape
        let ch = shape.channels, top = ch[ch.count - 1]
        convIn = try Conv2d(w["conv_in"], in: shape.imageChannels, out: ch[0], kernel: (3, 3), padding: (1, 1))
        levels = try ch.indices.map { i in
            try ConvLevel(
                w[keys.down][i], count: shape.blocksPerLevel, in: i == 0 ? ch[0] : ch[i - 1], out: ch[i],
                attention: shape.attentionLevels.contains(i), resample: i < ch.count - 1 ? keys.downsample : nil,
                shape: shape, keys: keys, stride: 2)
        }
        mid = try ConvMidBlock(w, channels: top, shape: shape, keys: keys)
        normOut = try GroupNorm(w[keys.normOut], groups: shape.groups, channels: top, eps: 1e-6)
        convOut = try Conv2d(w["conv_out"], in: top, out: shape.latentChannels, kernel: (3, 3), padding: (1, 1))
    }

    /// Latents `[B, latent, H/f, W/f]` for images `[B, image, H, W]`.
    public func callAsFunction(_ images: Tensor) -> Tensor {
        var h = convIn(images)
        for level in levels {
            h = level(h)
            // Both layouts pad (0, 1, 0, 1) and convolve with stride 2, padding 0.
            if let conv = level.resample { h = conv(h.zeroPadded(bottom: 1, right: 1)) }
        }
        h = mid(h)
        return convOut(normOut(h, activation: .silu))
    }

    /// Floating-point operations (multiply and add counted apart) for one `height × width` image.
    public func flops(height: Int, width: Int) -> Double {
        var pixels = height * width
        var total = convFlops(convIn, pixels)
        for level in levels {
            total += level.flops(pixels)
            if let conv = level.resample {
                pixels /= 4
                total += convFlops(conv, pixels)
            }
        }
        return total + mid.flops(pixels) + convFlops(convOut, pixels)
    }
}

/// The decoder: `conv_in`, the middle block, the levels from the lowest resolution up (one more
/// ResNet block each than the encoder; nearest ×2 and a 3×3 convolution between levels),
/// norm → SiLU → `conv_out`. `[B, latent, h, w]` → `[B, image, h·f, w·f]`, not clamped. With
/// ``ConvCoderShape/conditionChannels`` every norm is a SpatialNorm of the quantized latents.
public struct ConvDecoder: Sendable {
    /// The shape.
    public let shape: ConvCoderShape
    let convIn: Conv2d
    let mid: ConvMidBlock
    /// In execution order: the lowest resolution first.
    let levels: [ConvLevel]
    let normOut: CoderNorm
    let convOut: Conv2d

    /// Binds the decoder under `w` (`decoder` in every layout) with `keys`' names.
    public init(_ w: WeightScope, shape: ConvCoderShape, keys: ConvCoderKeys) throws {
        self.shape = shape
        let ch = shape.channels, count = ch.count, top = ch[count - 1]
        convIn = try Conv2d(w["conv_in"], in: shape.latentChannels, out: top, kernel: (3, 3), padding: (1, 1))
        mid = try ConvMidBlock(w, channels: top, shape: shape, keys: keys)
        levels = try (0..<count).reversed().map { level in
            let index = keys.upOrder == .byLevel ? level : count - 1 - level
            return try ConvLevel(
                w[keys.up][index], count: shape.blocksPerLevel + 1, in: level == count - 1 ? top : ch[level + 1],
                out: ch[level], attention: shape.attentionLevels.contains(level),
                resample: level > 0 ? keys.upsample : nil, shape: shape, keys: keys, stride: 1)
        }
        normOut = try CoderNorm(w[keys.normOut], channels: ch[0], shape: shape)
        convOut = try Conv2d(w["conv_out"], in: ch[0], out: shape.imageChannels, kernel: (3, 3), padding: (1, 1))
    }

    /// Images `[B, image, h·f, w·f]` (not clamped) for latents `[B, latent, h, w]`.
    /// - Parameter condition: the quantized latents `[B, conditionChannels, h, w]` a conditioned
    ///   decoder's SpatialNorms read (required there, unused otherwise).
    public func callAsFunction(_ latents: Tensor, condition zq: Tensor? = nil) -> Tensor {
        var h = mid(convIn(latents), condition: zq)
        for level in levels {
            h = level(h, condition: zq)
            if let conv = level.resample {
                h = conv(h.interpolated(height: h.shape[2] * 2, width: h.shape[3] * 2, mode: .nearest))
            }
        }
        return convOut(normOut(h, condition: zq, activation: .silu))
    }

    /// Floating-point operations (multiply and add counted apart) for one `h × w` latent grid.
    public func flops(height: Int, width: Int) -> Double {
        var pixels = height * width
        var total = convFlops(convIn, pixels) + mid.flops(pixels)
        for level in levels {
            total += level.flops(pixels)
            if let conv = level.resample {
                pixels *= 4
                total += convFlops(conv, pixels)
            }
        }
        return total + convFlops(convOut, pixels)
    }
}

/// diffusers `AutoencoderKL`: images `[B, 3, H, W]` in [−1, 1] ⇄ latents `[B, C, H/f, W/f]`.
public struct AutoencoderKL: Sendable {
    /// The shape.
    public let config: AutoencoderKLConfig
    let encoder: ConvEncoder
    let quantConv: Conv2d?
    let postQuantConv: Conv2d?
    let decoder: ConvDecoder

    /// Binds the autoencoder under `w` with the diffusers key names (`encoder.*`, `decoder.*`,
    /// `quant_conv`, `post_quant_conv`).
    public init(_ w: WeightScope, config c: AutoencoderKLConfig) throws {
        config = c
        let z = c.latentChannels
        var shape = c.encoderShape
        encoder = try ConvEncoder(w["encoder"], shape: shape, keys: .diffusers)
        shape.latentChannels = z
        shape.imageChannels = c.outChannels
        decoder = try ConvDecoder(w["decoder"], shape: shape, keys: .diffusers)
        quantConv = try c.quantConvolutions ? Conv2d(w["quant_conv"], in: 2 * z, out: 2 * z, kernel: (1, 1)) : nil
        postQuantConv = try c.quantConvolutions ? Conv2d(w["post_quant_conv"], in: z, out: z, kernel: (1, 1)) : nil
    }

    /// The posterior's parameters `[B, 2C, H/f, W/f]` (mean, then log-variance) for images
    /// `[B, 3, H, W]`; H and W must be multiples of the downsampling factor.
    public func encode(_ images: Tensor) -> Tensor {
        let h = encoder(images)
        return quantConv.map { $0(h) } ?? h
    }

    /// Images `[B, out, H·f, W·f]` (not clamped) for latents `[B, C, H, W]`.
    public func decode(_ latents: Tensor) -> Tensor {
        decoder(postQuantConv.map { $0(latents) } ?? latents)
    }
}

extension AutoencoderKL {
    /// About the peak activation bytes of encoding and of decoding one `height × width` image
    /// (``ConvCoderShape/activationBytes(height:width:)``).
    public func activationBytes(height: Int, width: Int) -> (encode: Int, decode: Int) {
        (
            encoder.shape.activationBytes(height: height, width: width),
            decoder.shape.activationBytes(height: height, width: width)
        )
    }

    /// Floating-point operations (multiply and add counted apart) of ``encode(_:)`` and
    /// ``decode(_:)`` for one `height × width` image: the convolutions and the mid attention.
    public func flops(height: Int, width: Int) -> (encode: Double, decode: Double) {
        let f = config.downsampleFactor, grid = (height / f) * (width / f)
        let encode = encoder.flops(height: height, width: width) + (quantConv.map { convFlops($0, grid) } ?? 0)
        let decode =
            (postQuantConv.map { convFlops($0, grid) } ?? 0) + decoder.flops(height: height / f, width: width / f)
        return (encode, decode)
    }
}
