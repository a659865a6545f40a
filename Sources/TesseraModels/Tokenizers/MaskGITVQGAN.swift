// The MaskGIT-VQGAN pixel decoder (`modeling/modules/maskgit_vqgan.py` of bytedance/1d-tokenizer),
// the second stage of legacy TiTok decoding: a convolutional decoder from 256-channel latents
// at the token grid to RGB at 16× the resolution.
import TesseraCore
import TesseraNN

// MARK: - Configuration

/// Shape of the pixel decoder. The published checkpoints all use the defaults; smaller
/// values exist only for tests and are read from `model.pixel_decoder` in config.json.
public struct PixelDecoderConfig: Codable, Sendable, Equatable {
    /// Base channel count (`hidden_channels`).
    public var hiddenChannels = 128
    /// Channels of the latent it decodes (`z_channels`).
    public var latentChannels = 256
    /// Channel multiplier per resolution level (`channel_mult`), lowest resolution last.
    public var channelMultipliers = [1, 1, 2, 2, 4]
    /// Residual blocks per level (`num_res_blocks`).
    public var residualBlocks = 2

    enum CodingKeys: String, CodingKey {
        case hiddenChannels = "hidden_channels"
        case latentChannels = "z_channels"
        case channelMultipliers = "channel_mult"
        case residualBlocks = "num_res_blocks"
    }

    /// The published checkpoints' decoder.
    public init() {}

    /// Keys missing from config.json keep the defaults.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        hiddenChannels = try c.decodeIfPresent(Int.self, forKey: .hiddenChannels) ?? hiddenChannels
        latentChannels = try c.decodeIfPresent(Int.self, forKey: .latentChannels) ?? latentChannels
        channelMultipliers = try c.decodeIfPresent([Int].self, forKey: .channelMultipliers) ?? channelMultipliers
        residualBlocks = try c.decodeIfPresent(Int.self, forKey: .residualBlocks) ?? residualBlocks
    }
}

// MARK: - Layers

/// GroupNorm(32) → SiLU → conv 3×3 (no bias), twice; the residual is the input, or — the
/// original's quirk, reproduced — a 1×1 convolution of the *output* when channels change.
struct PixelResBlock: Sendable {
    let norm1: GroupNorm, conv1: Conv2d, norm2: GroupNorm, conv2: Conv2d
    let shortcut: Conv2d?

    init(_ w: WeightScope, in cin: Int, out cout: Int) throws {
        norm1 = try GroupNorm(w["norm1"], groups: 32, channels: cin, eps: 1e-6)
        conv1 = try Conv2d(w["conv1"], in: cin, out: cout, kernel: (3, 3), padding: (1, 1), bias: false)
        norm2 = try GroupNorm(w["norm2"], groups: 32, channels: cout, eps: 1e-6)
        conv2 = try Conv2d(w["conv2"], in: cout, out: cout, kernel: (3, 3), padding: (1, 1), bias: false)
        shortcut = try cin != cout ? Conv2d(w["nin_shortcut"], in: cout, out: cout, kernel: (1, 1), bias: false) : nil
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        var h = conv1(norm1(x, activation: .silu))
        h = conv2(norm2(h, activation: .silu))
        var residual = shortcut.map { $0(h) } ?? x
        residual.add(h)
        return residual
    }
}

// MARK: - Model

/// The MaskGIT-VQGAN `Decoder`: conv_in → mid blocks → up levels (highest first; nearest ×2
/// + conv between levels) → GroupNorm → SiLU → conv_out.
public struct MaskGITPixelDecoder: Sendable {
    let convIn: Conv2d
    let mid: [PixelResBlock]
    /// Levels in execution order (highest index first), each: blocks and an optional upsample conv.
    let levels: [(blocks: [PixelResBlock], upsample: Conv2d?)]
    let normOut: GroupNorm
    let convOut: Conv2d

    /// Binds the decoder under `w` (`pixel_decoder` in TiTok checkpoints).
    public init(_ w: WeightScope, config c: PixelDecoderConfig) throws {
        let mult = c.channelMultipliers, hidden = c.hiddenChannels, levelsCount = mult.count
        let top = hidden * mult[levelsCount - 1]
        convIn = try Conv2d(w["conv_in"], in: c.latentChannels, out: top, kernel: (3, 3), padding: (1, 1))
        mid = try (0..<c.residualBlocks).map { try PixelResBlock(w["mid"][$0], in: top, out: top) }
        var levels: [(blocks: [PixelResBlock], upsample: Conv2d?)] = []
        for i in stride(from: levelsCount - 1, through: 0, by: -1) {
            var cin = i == levelsCount - 1 ? top : hidden * mult[i + 1]
            let cout = hidden * mult[i]
            var blocks: [PixelResBlock] = []
            for b in 0..<c.residualBlocks {
                blocks.append(try PixelResBlock(w["up"][i]["block"][b], in: cin, out: cout))
                cin = cout
            }
            let upsample =
                i != 0
                ? try Conv2d(w["up"][i]["upsample_conv"], in: cout, out: cout, kernel: (3, 3), padding: (1, 1)) : nil
            levels.append((blocks, upsample))
        }
        self.levels = levels
        normOut = try GroupNorm(w["norm_out"], groups: 32, channels: hidden * mult[0], eps: 1e-6)
        convOut = try Conv2d(w["conv_out"], in: hidden * mult[0], out: 3, kernel: (3, 3), padding: (1, 1))
    }

    /// `[B, z, h, w]` latents → `[B, 3, h·2^(levels−1), w·2^(levels−1)]` image (not clamped).
    public func callAsFunction(_ z: Tensor) -> Tensor {
        var h = convIn(z)
        for block in mid { h = block(h) }
        for level in levels {
            for block in level.blocks { h = block(h) }
            if let up = level.upsample {
                h = up(h.interpolated(height: h.shape[2] * 2, width: h.shape[3] * 2, mode: .nearest))
            }
        }
        h = normOut(h, activation: .silu)
        return convOut(h)
    }
}
