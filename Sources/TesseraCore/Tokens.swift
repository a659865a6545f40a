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

    public init(ids: [Int], shape: [Int], vocabularySizes: [Int], model: String, latents: Tensor? = nil) {
        self.ids = ids
        self.shape = shape
        self.vocabularySizes = vocabularySizes
        self.model = model
        self.latents = latents
    }

    /// Number of token positions (the first axis).
    public var count: Int { shape.first ?? 0 }
    public var isContinuous: Bool { latents != nil }
}


extension Tokens {
    /// The first `k` token positions (for variable-length models such as One-D-Piece).
    public func prefix(_ k: Int) -> Tokens {
        guard k < count else { return self }
        var t = self
        t.shape[0] = k
        if let latents { t.latents = latents.slice(axis: 0, 0..<k) } else { t.ids = Array(ids.prefix(k * shape.dropFirst().reduce(1, *))) }
        return t
    }
}
