// The diffusers `AutoencoderKL` (src/diffusers/models/autoencoders/autoencoder_kl.py, vae.py,
// resnet.py, downsampling.py, upsampling.py, attention_processor.py): the KL-regularised conv
// autoencoder of Stable Diffusion, FlexTok and many tokenizers since. Written once here; a family
// binds it under its own prefix (`vae.vae` in FlexTok checkpoints, none in diffusers directories).
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

/// diffusers `ResnetBlock2D` without a time embedding: GroupNorm → SiLU → conv, twice, plus the
/// input (through a 1×1 `conv_shortcut` when the channel count changes).
struct ResnetBlock2D: Sendable {
    let norm1: GroupNorm, conv1: Conv2d, norm2: GroupNorm, conv2: Conv2d
    let shortcut: Conv2d?

    init(_ w: WeightScope, in cin: Int, out cout: Int, groups: Int) {
        norm1 = GroupNorm(w["norm1"], groups: groups, channels: cin, eps: 1e-6)
        conv1 = Conv2d(w["conv1"], in: cin, out: cout, kernel: (3, 3), padding: (1, 1))
        norm2 = GroupNorm(w["norm2"], groups: groups, channels: cout, eps: 1e-6)
        conv2 = Conv2d(w["conv2"], in: cout, out: cout, kernel: (3, 3), padding: (1, 1))
        shortcut = cin != cout ? Conv2d(w["conv_shortcut"], in: cin, out: cout, kernel: (1, 1)) : nil
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        var h = conv1(norm1(x, activation: .silu))
        h = conv2(norm2(h, activation: .silu))
        var residual = shortcut.map { $0(x) } ?? x
        residual.add(h)
        return residual
    }
}

/// The mid block's single-head spatial self-attention: GroupNorm, q/k/v over channels, softmax
/// over all positions, `to_out.0`, plus the input.
struct SpatialAttention: Sendable {
    let norm: GroupNorm
    let qkv: Linear
    let out: Linear

    init(_ w: WeightScope, channels c: Int, groups: Int) {
        norm = GroupNorm(w["group_norm"], groups: groups, channels: c, eps: 1e-6)
        let parts = ["to_q", "to_k", "to_v"].map { Linear(w[$0], in: c, out: c) }
        qkv = Linear(
            weight: Tensor.concatenate(parts.map(\.weight), axis: 0),
            bias: Tensor.concatenate(parts.compactMap(\.bias), axis: 0))
        out = Linear(w["to_out.0"], in: c, out: c)
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        let (b, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let tokens = norm(x).reshaped([b, c, h * w]).transposed(1, 2)  // [B, HW, C]
        let (attended, _) = packedSelfAttention(qkv(tokens), heads: 1)
        var y = out(attended).transposed(1, 2).reshaped([b, c, h, w])
        y.add(x)
        return y
    }
}

/// `UNetMidBlock2D` without a time embedding: ResNet, attention, ResNet.
struct AutoencoderMidBlock: Sendable {
    let first: ResnetBlock2D, attention: SpatialAttention?, second: ResnetBlock2D

    init(_ w: WeightScope, channels c: Int, groups: Int, attention hasAttention: Bool) {
        first = ResnetBlock2D(w["resnets.0"], in: c, out: c, groups: groups)
        attention = hasAttention ? SpatialAttention(w["attentions.0"], channels: c, groups: groups) : nil
        second = ResnetBlock2D(w["resnets.1"], in: c, out: c, groups: groups)
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        var h = first(x)
        if let attention { h = attention(h) }
        return second(h)
    }
}

/// diffusers `AutoencoderKL`: images `[B, 3, H, W]` in [−1, 1] ⇄ latents `[B, C, H/f, W/f]`.
public struct AutoencoderKL: Sendable {
    /// The shape.
    public let config: AutoencoderKLConfig
    let encoderIn: Conv2d
    let down: [(blocks: [ResnetBlock2D], downsample: Conv2d?)]
    let encoderMid: AutoencoderMidBlock
    let encoderNorm: GroupNorm
    let encoderOut: Conv2d
    let quantConv: Conv2d?
    let postQuantConv: Conv2d?
    let decoderIn: Conv2d
    let decoderMid: AutoencoderMidBlock
    let up: [(blocks: [ResnetBlock2D], upsample: Conv2d?)]
    let decoderNorm: GroupNorm
    let decoderOut: Conv2d

    /// Binds the autoencoder under `w` with the diffusers key names (`encoder.*`, `decoder.*`,
    /// `quant_conv`, `post_quant_conv`).
    public init(_ w: WeightScope, config c: AutoencoderKLConfig) {
        config = c
        let ch = c.blockOutChannels, g = c.normGroups, top = ch[ch.count - 1]
        let e = w["encoder"], d = w["decoder"]
        encoderIn = Conv2d(e["conv_in"], in: c.inChannels, out: ch[0], kernel: (3, 3), padding: (1, 1))
        var down: [(blocks: [ResnetBlock2D], downsample: Conv2d?)] = []
        var cin = ch[0]
        for (i, cout) in ch.enumerated() {
            let level = e["down_blocks"][i]
            let blocks = Self.resnets(level, count: c.layersPerBlock, in: cin, out: cout, groups: g)
            let downsample =
                i < ch.count - 1
                ? Conv2d(level["downsamplers.0.conv"], in: cout, out: cout, kernel: (3, 3), stride: (2, 2)) : nil
            down.append((blocks, downsample))
            cin = cout
        }
        self.down = down
        encoderMid = AutoencoderMidBlock(e["mid_block"], channels: top, groups: g, attention: c.midBlockAttention)
        encoderNorm = GroupNorm(e["conv_norm_out"], groups: g, channels: top, eps: 1e-6)
        encoderOut = Conv2d(e["conv_out"], in: top, out: 2 * c.latentChannels, kernel: (3, 3), padding: (1, 1))
        let z = c.latentChannels
        quantConv = c.quantConvolutions ? Conv2d(w["quant_conv"], in: 2 * z, out: 2 * z, kernel: (1, 1)) : nil
        postQuantConv = c.quantConvolutions ? Conv2d(w["post_quant_conv"], in: z, out: z, kernel: (1, 1)) : nil
        decoderIn = Conv2d(d["conv_in"], in: z, out: top, kernel: (3, 3), padding: (1, 1))
        decoderMid = AutoencoderMidBlock(d["mid_block"], channels: top, groups: g, attention: c.midBlockAttention)
        var up: [(blocks: [ResnetBlock2D], upsample: Conv2d?)] = []
        var previous = top
        for (i, cout) in ch.reversed().enumerated() {
            let level = d["up_blocks"][i]
            let blocks = Self.resnets(level, count: c.layersPerBlock + 1, in: previous, out: cout, groups: g)
            let upsample =
                i < ch.count - 1
                ? Conv2d(level["upsamplers.0.conv"], in: cout, out: cout, kernel: (3, 3), padding: (1, 1)) : nil
            up.append((blocks, upsample))
            previous = cout
        }
        self.up = up
        decoderNorm = GroupNorm(d["conv_norm_out"], groups: g, channels: ch[0], eps: 1e-6)
        decoderOut = Conv2d(d["conv_out"], in: ch[0], out: c.outChannels, kernel: (3, 3), padding: (1, 1))
    }

    /// `count` ResNet blocks `resnets.{0…}` of one level: the first from `cin`, the rest at `cout`.
    private static func resnets(_ w: WeightScope, count: Int, in cin: Int, out cout: Int, groups: Int)
        -> [ResnetBlock2D]
    {
        (0..<count).map { ResnetBlock2D(w["resnets"][$0], in: $0 == 0 ? cin : cout, out: cout, groups: groups) }
    }

    /// The posterior's parameters `[B, 2C, H/f, W/f]` (mean, then log-variance) for images
    /// `[B, 3, H, W]`; H and W must be multiples of the downsampling factor.
    public func encode(_ images: Tensor) -> Tensor {
        var h = encoderIn(images)
        for level in down {
            for block in level.blocks { h = block(h) }
            // diffusers pads (0, 1, 0, 1) and convolves with stride 2, padding 0.
            if let conv = level.downsample { h = conv(h.zeroPadded(bottom: 1, right: 1)) }
        }
        h = encoderMid(h)
        h = encoderOut(encoderNorm(h, activation: .silu))
        return quantConv.map { $0(h) } ?? h
    }

    /// Images `[B, out, H·f, W·f]` (not clamped) for latents `[B, C, H, W]`.
    public func decode(_ latents: Tensor) -> Tensor {
        var h = decoderIn(postQuantConv.map { $0(latents) } ?? latents)
        h = decoderMid(h)
        for level in up {
            for block in level.blocks { h = block(h) }
            if let conv = level.upsample {
                h = conv(h.interpolated(height: h.shape[2] * 2, width: h.shape[3] * 2, mode: .nearest))
            }
        }
        return decoderOut(decoderNorm(h, activation: .silu))
    }
}

extension AutoencoderKL {
    /// Floating-point operations (multiply and add counted apart) of ``encode(_:)`` and
    /// ``decode(_:)`` for one `height × width` image: the convolutions and the mid attention.
    public func flops(height: Int, width: Int) -> (encode: Double, decode: Double) {
        func conv(_ c: Conv2d, _ pixels: Int) -> Double {
            Double(2 * c.weight.count) * Double(pixels)  // out·in·kh·kw MACs per output pixel
        }
        func resnet(_ r: ResnetBlock2D, _ pixels: Int) -> Double {
            conv(r.conv1, pixels) + conv(r.conv2, pixels) + (r.shortcut.map { conv($0, pixels) } ?? 0)
        }
        func mid(_ m: AutoencoderMidBlock, _ pixels: Int) -> Double {
            let c = Double(m.first.conv2.weight.shape[0]), n = Double(pixels)
            return resnet(m.first, pixels) + resnet(m.second, pixels)
                + (m.attention == nil ? 0 : 8 * n * c * c + 4 * n * n * c)
        }
        var pixels = height * width
        var encode = conv(encoderIn, pixels)
        for level in down {
            for block in level.blocks { encode += resnet(block, pixels) }
            if let d = level.downsample {
                pixels /= 4
                encode += conv(d, pixels)
            }
        }
        encode += mid(encoderMid, pixels) + conv(encoderOut, pixels) + (quantConv.map { conv($0, pixels) } ?? 0)
        var decode = (postQuantConv.map { conv($0, pixels) } ?? 0) + conv(decoderIn, pixels) + mid(decoderMid, pixels)
        for level in up {
            for block in level.blocks { decode += resnet(block, pixels) }
            if let u = level.upsample {
                pixels *= 4
                decode += conv(u, pixels)
            }
        }
        decode += conv(decoderOut, pixels)
        return (encode, decode)
    }
}
