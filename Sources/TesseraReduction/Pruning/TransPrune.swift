import TesseraCore

// TransPrune (Li et al. 2025, liaolea/TransPrune `modeling_llama_transprune.py`):
// token transition variation (TTV) — how much a sublayer changes each token, in magnitude and
// direction — accumulated over layers, plus instruction-guided attention (IAP) from the text.
//
// Per sublayer (attention and FFN) with b = the normed sublayer input, a = the sublayer output:
//     w = (‖a‖ / ‖b‖) · softmax_tokens(1 − cos(b, a))      (softmax over the whole sequence)
// TTV = Σ over the accumulating layers of (w_attn + w_ffn); on the image span,
//     score = TTV / (ΣTTV + 1e-8) + IAP / (ΣIAP + 1e-8)
// and the top `keep` image tokens are kept (sorted). IAP = attention of the text queries to the
// image keys, mean over heads, then over text queries. Without text (a bare vision tower), the
// score is the TTV term alone.
#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif

/// TransPrune: token transition variation (+ instruction attention) scoring and top-k pruning.
public enum TransPrune {
    /// `compute_transf_weight(before, after)`: `(‖a‖/‖b‖) · softmax(1 − cos(b, a))` over all `T` rows.
    /// - Parameters: input: `[T, C]` the normed sublayer input b; output: `[T, C]` the sublayer output a.
    public static func transitionWeights(input b: Tensor, output a: Tensor) throws -> [Float] {
        try ReductionError.requireRank2(b, "input")
        guard a.shape == b.shape else { throw ReductionError.shape("input \(b.shape) and output \(a.shape) differ") }
        let (t, c) = (b.shape[0], b.shape[1])
        var ratio = [Float](repeating: 0, count: t), e = [Float](repeating: 0, count: t)
        var total: Float = 0
        for i in 0..<t {
            var bb: Float = 0, aa: Float = 0, ab: Float = 0
            for j in 0..<c {
                let x = b.scalars[i * c + j], y = a.scalars[i * c + j]
                bb += x * x; aa += y * y; ab += x * y
            }
            let nb = bb.squareRoot(), na = aa.squareRoot()
            ratio[i] = na / nb
            let cosine = ab / max(nb * na, 1e-8)  // F.cosine_similarity, eps 1e-8
            e[i] = exp(1 - cosine)
            total += e[i]
        }
        return (0..<t).map { ratio[$0] * e[$0] / total }
    }

    /// Accumulates TTV over layers (upstream `transf_weight_list`, summed).
    public struct Accumulator: Sendable {
        /// Accumulated transition variation of every token, `[T]`.
        public private(set) var variation: [Float]
        /// Number of layers added.
        public private(set) var layers = 0

        /// An empty accumulator for `tokens` tokens.
        public init(tokens: Int) { variation = [Float](repeating: 0, count: tokens) }

        /// Adds one layer: attention sublayer (normed input, output) and FFN sublayer (normed input, output).
        public mutating func add(attentionInput: Tensor, attentionOutput: Tensor, mlpInput: Tensor, mlpOutput: Tensor)
            throws
        {
            let wa = try transitionWeights(input: attentionInput, output: attentionOutput)
            let wf = try transitionWeights(input: mlpInput, output: mlpOutput)
            guard wa.count == variation.count else {
                throw ReductionError.shape("\(wa.count) tokens, accumulator holds \(variation.count)")
            }
            for i in variation.indices { variation[i] += wa[i] + wf[i] }
            layers += 1
        }

        /// Keeps only the given token positions (after a pruning stage), in the given order.
        public mutating func retain(_ positions: [Int]) { variation = positions.map { variation[$0] } }
    }

    /// Instruction-guided attention: `attention` is `[H, Q, T]` (text queries × all keys); the
    /// result is the mean over heads and queries of the columns in `image`.
    public static func instructionAttention(_ attention: Tensor, image: Range<Int>) throws -> [Float] {
        guard attention.rank == 3, image.lowerBound >= 0, image.upperBound <= attention.shape[2] else {
            throw ReductionError.shape("attention must be [H, Q, T] covering \(image), got \(attention.shape)")
        }
        let (h, q, t) = (attention.shape[0], attention.shape[1], attention.shape[2])
        return image.map { j in
            var s: Float = 0
            for head in 0..<h { for row in 0..<q { s += attention.scalars[(head * q + row) * t + j] } }
            return s / Float(h * q)
        }
    }

    /// `TTV/(ΣTTV + 1e-8) + IAP/(ΣIAP + 1e-8)` on the image span (IAP term omitted when `nil`).
    public static func score(variation: [Float], instructionAttention iap: [Float]? = nil) throws -> [Float] {
        if let iap, iap.count != variation.count {
            throw ReductionError.shape("TTV [\(variation.count)] and IAP [\(iap.count)] differ")
        }
        let sv = variation.reduce(0, +) + 1e-8
        var s = variation.map { $0 / sv }
        if let iap {
            let si = iap.reduce(0, +) + 1e-8
            for i in s.indices { s[i] += iap[i] / si }
        }
        return s
    }

    /// Keeps the `keep` image tokens with the highest score, sorted ascending.
    /// - Throws: ``ReductionError/budget(_:)`` when `keep` is outside `0...count`.
    public static func select(variation: [Float], instructionAttention iap: [Float]? = nil, keep: Int) throws -> [Int] {
        guard keep >= 0 && keep <= variation.count else {
            throw ReductionError.budget("keep \(keep) outside 0...\(variation.count)")
        }
        return TokenPruning.topK(try score(variation: variation, instructionAttention: iap), k: keep)
    }

    /// Upstream's stage budget: `int(imageTokens · ratio)` (defaults 0.875, 0.625, 0.125 after layers 7, 9, 12).
    public static func keepCount(imageTokens: Int, ratio: Double) -> Int { Int(Double(imageTokens) * ratio) }
}
