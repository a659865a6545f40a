import TesseraCore

/// `nn.Linear`: keys `weight` `[out, in]` and optional `bias` `[out]`.
public struct Linear: Sendable {
    /// `[out, in]`.
    public var weight: Tensor
    /// `[out]`, if the layer has one.
    public var bias: Tensor?

    /// A layer from tensors (e.g. packed or reshaped checkpoint weights).
    public init(weight: Tensor, bias: Tensor?) { self.weight = weight; self.bias = bias }

    /// Binds `weight` and (when `bias`) `bias` under `w`.
    /// - Parameters:
    ///   - w: the layer's scope (e.g. `blocks.0.mlp.fc1`).
    ///   - inFeatures: input width.
    ///   - outFeatures: output width.
    ///   - bias: whether the checkpoint has a bias.
    public init(_ w: WeightScope, in inFeatures: Int, out outFeatures: Int, bias: Bool = true) throws {
        weight = try w.tensor("weight", shape: [outFeatures, inFeatures])
        self.bias = try bias ? w.tensor("bias", shape: [outFeatures]) : nil
    }

    /// Input width.
    public var inFeatures: Int { weight.shape[1] }
    /// Output width.
    public var outFeatures: Int { weight.shape[0] }

    /// `x · weightᵀ + bias` over the last axis of `[..., in]`.
    public func callAsFunction(_ x: Tensor) -> Tensor { x.linear(weight: weight, bias: bias) }
}

/// `nn.LayerNorm` over the last axis: keys `weight`, `bias` (when affine).
public struct LayerNorm: Sendable {
    /// `[dim]` scale (nil without affine parameters).
    public var weight: Tensor?
    /// `[dim]` shift (nil without).
    public var bias: Tensor?
    /// Added to the variance.
    public var eps: Float

    /// - Parameters:
    ///   - w: the layer's scope.
    ///   - dim: normalized width.
    ///   - eps: variance epsilon (the family's: 1e-5 for open_clip, 1e-6 for timm and SigLIP).
    ///   - affine: whether the checkpoint has `weight` (and `bias`).
    ///   - bias: whether an affine norm has a `bias` (some LLM norms do not).
    public init(_ w: WeightScope, dim: Int, eps: Float, affine: Bool = true, bias: Bool = true) throws {
        weight = try affine ? w.tensor("weight", shape: [dim]) : nil
        self.bias = try affine && bias ? w.tensor("bias", shape: [dim]) : nil
        self.eps = eps
    }

    /// Normalizes every row of the last axis.
    public func callAsFunction(_ x: Tensor) -> Tensor { x.layerNorm(weight: weight, bias: bias, eps: eps) }
}

/// `nn.GroupNorm` on `[N, C, ...]`: keys `weight`, `bias`.
public struct GroupNorm: Sendable {
    /// Channel groups (32 in the VQGAN decoders).
    public var groups: Int
    /// `[channels]` scale (nil without affine parameters).
    public var weight: Tensor?
    /// `[channels]` shift.
    public var bias: Tensor?
    /// Added to the variance.
    public var eps: Float

    /// - Parameters:
    ///   - w: the layer's scope.
    ///   - groups: channel groups; must divide `channels`.
    ///   - channels: input channels.
    ///   - eps: variance epsilon.
    ///   - affine: whether the checkpoint has `weight` and `bias`.
    public init(_ w: WeightScope, groups: Int, channels: Int, eps: Float, affine: Bool = true) throws {
        self.groups = groups
        weight = try affine ? w.tensor("weight", shape: [channels]) : nil
        bias = try affine ? w.tensor("bias", shape: [channels]) : nil
        self.eps = eps
    }

    /// GroupNorm, then SpatialNorm's `modulation` (`[N, 2C, h, w]`, see `Tensor.groupNorm`) if any,
    /// then `activation`, in the same pass.
    public func callAsFunction(_ x: Tensor, modulation: Tensor? = nil, activation: Activation = .identity) -> Tensor {
        x.groupNorm(
            groups: groups, weight: weight, bias: bias, eps: eps, modulation: modulation, activation: activation)
    }
}

/// `nn.Conv2d` (groups 1): keys `weight` `[out, in, kh, kw]`, optional `bias`.
public struct Conv2d: Sendable {
    /// `[out, in, kh, kw]`; assigning it drops the cached Winograd transform.
    public var weight: Tensor { didSet { winograd = WinogradWeightsCache() } }
    /// `[out]`, if any.
    public var bias: Tensor?
    /// Vertical and horizontal stride.
    public var stride: (Int, Int)
    /// Zero padding above/below and left/right.
    public var padding: (Int, Int)

    /// - Parameters:
    ///   - w: the layer's scope.
    ///   - inChannels: input channels.
    ///   - outChannels: output channels.
    ///   - kernel: kernel height and width.
    ///   - stride: vertical and horizontal stride.
    ///   - padding: zero padding (symmetric per axis).
    ///   - bias: whether the checkpoint has a bias.
    public init(
        _ w: WeightScope, in inChannels: Int, out outChannels: Int, kernel: (Int, Int),
        stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0), bias: Bool = true
    ) throws {
        weight = try w.tensor("weight", shape: [outChannels, inChannels, kernel.0, kernel.1])
        self.bias = try bias ? w.tensor("bias", shape: [outChannels]) : nil
        self.stride = stride
        self.padding = padding
    }

    /// A convolution of given tensors (e.g. one temporal tap of a 3D kernel).
    /// - Parameters:
    ///   - weight: `[out, in, kh, kw]`.
    ///   - bias: `[out]`, if any.
    ///   - stride: vertical and horizontal stride.
    ///   - padding: zero padding (symmetric per axis).
    public init(weight: Tensor, bias: Tensor?, stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0)) {
        self.weight = weight
        self.bias = bias
        self.stride = stride
        self.padding = padding
    }

    /// `weight` transformed for Winograd, built by the first call that takes that path.
    private var winograd = WinogradWeightsCache()

    /// `[N, C, H, W]` → `[N, O, H', W']`; 3×3 stride-1 convolutions run as Winograd F(4×4, 3×3) with the
    /// transformed weights cached, the rest as im2col + GEMM.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        if Winograd.applies(inputShape: x.shape, weightShape: weight.shape, stride: stride, padding: padding) {
            return x.conv2dWinograd(winograd.weights(for: weight), bias: bias)
        }
        return x.conv2d(weight: weight, bias: bias, stride: stride, padding: padding)
    }
}

/// `nn.Embedding`: key `weight` `[count, dim]`.
public struct Embedding: Sendable {
    /// `[count, dim]` rows.
    public var weight: Tensor

    /// Binds `weight` `[count, dim]` under `w`.
    public init(_ w: WeightScope, count: Int, dim: Int) throws {
        weight = try w.tensor("weight", shape: [count, dim])
    }

    /// Rows for `ids` (any shape given by `shape`): `[shape..., dim]`.
    public func callAsFunction(_ ids: [Int], shape: [Int]) -> Tensor {
        weight.indexSelect(axis: 0, ids).reshaped(shape + [weight.shape[1]])
    }
}

/// Two-layer MLP `fc2(act(fc1(x)))`; key names vary by family (timm `fc1`/`fc2`,
/// open_clip `c_fc`/`c_proj`).
public struct MLP: Sendable {
    /// The first linear layer (`dim → hidden`).
    public var fc1: Linear
    /// The second linear layer (`hidden → dim`).
    public var fc2: Linear
    /// Between the two.
    public var activation: Activation

    /// - Parameters:
    ///   - w: the MLP's scope.
    ///   - dim: input and output width.
    ///   - hidden: hidden width.
    ///   - activation: the activation between the layers (GELU flavours, QuickGELU, …).
    ///   - names: the two layers' keys inside the scope.
    ///   - bias: whether the layers have biases.
    public init(
        _ w: WeightScope, dim: Int, hidden: Int, activation: Activation,
        names: (String, String) = ("fc1", "fc2"), bias: Bool = true
    ) throws {
        fc1 = try Linear(w[names.0], in: dim, out: hidden, bias: bias)
        fc2 = try Linear(w[names.1], in: hidden, out: dim, bias: bias)
        self.activation = activation
    }

    /// `fc2(act(fc1(x)))` over the last axis.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        var h = fc1(x)
        h.activate(activation)
        return fc2(h)
    }
}

/// timm's `SwiGLU`: `fc2(norm?(silu(fc1_g(x)) * fc1_x(x)))`.
public struct SwiGLU: Sendable {
    /// `fc1_g`: the gate projection.
    public var gate: Linear
    /// `fc1_x`: the value projection.
    public var up: Linear
    /// Optional LayerNorm on the hidden width (timm's `norm`).
    public var norm: LayerNorm?
    /// `fc2`: back to the model width.
    public var down: Linear

    /// - Parameters:
    ///   - w: the module's scope.
    ///   - dim: model width.
    ///   - hidden: hidden width.
    ///   - normEps: epsilon of the optional hidden LayerNorm (present when the checkpoint has `norm.weight`).
    public init(_ w: WeightScope, dim: Int, hidden: Int, normEps: Float = 1e-5) throws {
        gate = try Linear(w["fc1_g"], in: dim, out: hidden)
        up = try Linear(w["fc1_x"], in: dim, out: hidden)
        norm = try w.contains("norm.weight") ? LayerNorm(w["norm"], dim: hidden, eps: normEps) : nil
        down = try Linear(w["fc2"], in: hidden, out: dim)
    }

    /// `fc2(norm?(silu(gate(x)) · up(x)))`.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        var g = gate(x)
        g.activate(.silu)
        var h = g * up(x)
        if let norm { h = norm(h) }
        return down(h)
    }
}

/// A ViT's patch embedding: a `Conv2d` with kernel = stride = patch size, flattened to tokens.
/// Keys `weight` `[D, C, p, p]` and optional `bias`. As `nn.Conv2d` does, trailing rows and
/// columns that do not fill a whole patch are dropped (SigLIP so400m: 384 / 14 → 27 × 27).
public struct PatchEmbedding: Sendable {
    /// The patch convolution (kernel = stride = patch size).
    public var projection: Conv2d
    /// Patch side in pixels.
    public var patchSize: Int

    /// - Parameters:
    ///   - w: the convolution's scope (e.g. `patch_embed.proj`).
    ///   - channels: input channels (3 for RGB).
    ///   - dim: token width.
    ///   - patchSize: kernel and stride.
    ///   - bias: whether the convolution has a bias (CLIP's has none).
    public init(_ w: WeightScope, channels: Int = 3, dim: Int, patchSize: Int, bias: Bool = true) throws {
        projection = try Conv2d(
            w, in: channels, out: dim, kernel: (patchSize, patchSize),
            stride: (patchSize, patchSize), bias: bias)
        self.patchSize = patchSize
    }

    /// Patches per side for an input side: the convolution's floor.
    public static func grid(_ side: Int, patchSize: Int) -> Int { side / patchSize }

    /// `[B, C, H, W]` → `[B, (H/p)·(W/p), D]` in raster order.
    public func callAsFunction(_ pixels: Tensor) -> Tensor {
        let y = projection(pixels)  // [B, D, gh, gw]
        let (b, d) = (y.shape[0], y.shape[1])
        return y.reshaped([b, d, y.shape[2] * y.shape[3]]).transposed(1, 2)
    }
}
