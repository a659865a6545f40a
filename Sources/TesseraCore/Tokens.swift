import Foundation

/// The tokens of one image (or video frame): data with a shape, never a bare array.
public struct Tokens: Sendable, Equatable {
    /// Discrete ids in row-major order over `shape` (empty for continuous tokens).
    public var ids: [Int]
    /// Extent of each axis, e.g. `[32]` for a 1D tokenizer, `[N, codebooks]` for multi-codebook.
    public var shape: [Int]
    /// Vocabulary size of each codebook (one entry for single-codebook tokenizers).
    public var vocabularySizes: [Int]
    /// The model that produced the tokens (its directory name or id).
    public var model: String
    /// Continuous tokens (`[N, channels]`) for VAE-style tokenizers; nil for discrete ones.
    public var latents: Tensor?

    /// Tokens with the given ids, shape and vocabularies (not validated against each other).
    /// - Parameters:
    ///   - ids: Discrete ids in row-major order over `shape`; empty for continuous tokens.
    ///   - shape: Extent of each axis, e.g. `[32]`, `[32, 32]` or `[N, codebooks]`.
    ///   - vocabularySizes: Vocabulary size of each codebook.
    ///   - model: The model that produced the tokens (its directory name or id).
    ///   - latents: Continuous tokens, `[N, channels]`, for VAE-style tokenizers; nil for discrete ones.
    public init(ids: [Int], shape: [Int], vocabularySizes: [Int], model: String, latents: Tensor? = nil) {
        self.ids = ids
        self.shape = shape
        self.vocabularySizes = vocabularySizes
        self.model = model
        self.latents = latents
    }

    /// Whether the last axis of ``shape`` indexes codebooks (multi-codebook tokens).
    public var hasCodebookAxis: Bool { vocabularySizes.count > 1 && shape.count > 1 }

    /// Number of token positions: the product of the non-codebook axes (32 for `[32]`, 1024 for a
    /// `[32, 32]` grid, 256 for `[256, 8]` with eight codebooks).
    public var positions: Int { (hasCodebookAxis ? shape.dropLast() : shape[...]).reduce(1, *) }

    /// The first axis (what ``positions`` is for 1D tokens).
    @available(*, deprecated, message: "use positions (the product of the non-codebook axes)")
    public var count: Int { shape.first ?? 0 }

    /// Whether the tokens are continuous latents rather than ids.
    public var isContinuous: Bool { latents != nil }
}

extension Tokens {
    /// The first `k` token positions in raster order (variable-length models such as One-D-Piece
    /// and FlexTok). The position axes become one axis of length `k`; a codebook axis stays.
    public func prefix(_ k: Int) -> Tokens {
        let k = max(0, k)
        guard k < positions else { return self }
        var t = self
        let perPosition = hasCodebookAxis ? shape[shape.count - 1] : 1
        t.shape = hasCodebookAxis ? [k, perPosition] : [k]
        if let latents {
            t.latents = latents.reshaped([positions, latents.count / max(1, positions)]).slice(axis: 0, 0..<k)
        } else {
            t.ids = Array(ids.prefix(k * perPosition))
        }
        return t
    }
}
