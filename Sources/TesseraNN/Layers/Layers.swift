import TesseraCore

/// `nn.Linear`: keys `weight` `[out, in]` and optional `bias` `[out]`.
public struct Linear: Sendable {
    public var weight: Tensor
    public var bias: Tensor?

    public init(weight: Tensor, bias: Tensor?) { self.weight = weight; self.bias = bias }

    public init(_ w: WeightScope, in inFeatures: Int, out outFeatures: Int, bias: Bool = true) {
        weight = w.tensor("weight", shape: [outFeatures, inFeatures])
        self.bias = bias ? w.tensor("bias", shape: [outFeatures]) : nil
    }

    public var inFeatures: Int { weight.shape[1] }
    public var outFeatures: Int { weight.shape[0] }

    public func callAsFunction(_ x: Tensor) -> Tensor { x.linear(weight: weight, bias: bias) }
}

/// `nn.LayerNorm` over the last axis: keys `weight`, `bias` (when affine).
public struct LayerNorm: Sendable {
    public var weight: Tensor?
    public var bias: Tensor?
    public var eps: Float

    public init(_ w: WeightScope, dim: Int, eps: Float, affine: Bool = true, bias: Bool = true) {
        weight = affine ? w.tensor("weight", shape: [dim]) : nil
        self.bias = affine && bias ? w.tensor("bias", shape: [dim]) : nil
        self.eps = eps
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { x.layerNorm(weight: weight, bias: bias, eps: eps) }
}

/// `nn.GroupNorm` on `[N, C, ...]`: keys `weight`, `bias`.
public struct GroupNorm: Sendable {
    public var groups: Int
    public var weight: Tensor?
    public var bias: Tensor?
    public var eps: Float

    public init(_ w: WeightScope, groups: Int, channels: Int, eps: Float, affine: Bool = true) {
        self.groups = groups
        weight = affine ? w.tensor("weight", shape: [channels]) : nil
        bias = affine ? w.tensor("bias", shape: [channels]) : nil
        self.eps = eps
    }

    /// GroupNorm, then `activation` in the same pass.
    public func callAsFunction(_ x: Tensor, activation: Activation = .identity) -> Tensor {
        x.groupNorm(groups: groups, weight: weight, bias: bias, eps: eps, activation: activation)
    }
}

/// `nn.Conv2d` (groups 1): keys `weight` `[out, in, kh, kw]`, optional `bias`.
public struct Conv2d: Sendable {
    public var weight: Tensor { didSet { winograd = WinogradWeightsCache() } }
    public var bias: Tensor?
    public var stride: (Int, Int)
    public var padding: (Int, Int)

    public init(
        _ w: WeightScope, in inChannels: Int, out outChannels: Int, kernel: (Int, Int),
        stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0), bias: Bool = true
    ) {
        weight = w.tensor("weight", shape: [outChannels, inChannels, kernel.0, kernel.1])
        self.bias = bias ? w.tensor("bias", shape: [outChannels]) : nil
        self.stride = stride
        self.padding = padding
    }

    /// `weight` transformed for Winograd, built by the first call that takes that path.
    private var winograd = WinogradWeightsCache()

    public func callAsFunction(_ x: Tensor) -> Tensor {
        if Winograd.applies(inputShape: x.shape, weightShape: weight.shape, stride: stride, padding: padding) {
            return x.conv2dWinograd(winograd.weights(for: weight), bias: bias)
        }
        return x.conv2d(weight: weight, bias: bias, stride: stride, padding: padding)
    }
}

/// `nn.Embedding`: key `weight` `[count, dim]`.
public struct Embedding: Sendable {
    public var weight: Tensor

    public init(_ w: WeightScope, count: Int, dim: Int) {
        weight = w.tensor("weight", shape: [count, dim])
    }

    /// Rows for `ids` (any shape given by `shape`): `[shape..., dim]`.
    public func callAsFunction(_ ids: [Int], shape: [Int]) -> Tensor {
        weight.indexSelect(axis: 0, ids).reshaped(shape + [weight.shape[1]])
    }
}

/// Two-layer MLP `fc2(act(fc1(x)))`; key names vary by family (timm `fc1`/`fc2`,
/// open_clip `c_fc`/`c_proj`).
public struct MLP: Sendable {
    public var fc1: Linear
    public var fc2: Linear
    public var activation: Activation

    public init(
        _ w: WeightScope, dim: Int, hidden: Int, activation: Activation,
        names: (String, String) = ("fc1", "fc2"), bias: Bool = true
    ) {
        fc1 = Linear(w[names.0], in: dim, out: hidden, bias: bias)
        fc2 = Linear(w[names.1], in: hidden, out: dim, bias: bias)
        self.activation = activation
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        var h = fc1(x)
        h.activate(activation)
        return fc2(h)
    }
}

/// timm's `SwiGLU`: `fc2(norm?(silu(fc1_g(x)) * fc1_x(x)))`.
public struct SwiGLU: Sendable {
    public var gate: Linear
    public var up: Linear
    public var norm: LayerNorm?
    public var down: Linear

    public init(_ w: WeightScope, dim: Int, hidden: Int, normEps: Float = 1e-5) {
        gate = Linear(w["fc1_g"], in: dim, out: hidden)
        up = Linear(w["fc1_x"], in: dim, out: hidden)
        norm = w.contains("norm.weight") ? LayerNorm(w["norm"], dim: hidden, eps: normEps) : nil
        down = Linear(w["fc2"], in: hidden, out: dim)
    }

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
    public var projection: Conv2d
    public var patchSize: Int

    /// - Parameters:
    ///   - w: the convolution's scope (e.g. `patch_embed.proj`).
    ///   - channels: input channels (3 for RGB).
    ///   - dim: token width.
    ///   - patchSize: kernel and stride.
    ///   - bias: whether the convolution has a bias (CLIP's has none).
    public init(_ w: WeightScope, channels: Int = 3, dim: Int, patchSize: Int, bias: Bool = true) {
        projection = Conv2d(
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
