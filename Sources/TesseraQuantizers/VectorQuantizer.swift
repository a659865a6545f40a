import Foundation
import TesseraCore

/// A problem with token ids or quantizer inputs.
public struct QuantizerError: Error, CustomStringConvertible, Sendable {
    /// What is wrong, in words.
    public var reason: String
    /// An error described by `reason`.
    public init(_ reason: String) { self.reason = reason }
    /// ``reason``, unprefixed.
    public var description: String { reason }
}

/// Nearest-codeword vector quantization with the variants in use: euclidean distance
/// `|z|² + |e|² − 2 z·e` (optionally clamped below, as vector-quantize-pytorch's cdist),
/// or cosine similarity (largest dot product with l2-normalized inputs); optional L2
/// normalization of inputs and codewords (TiTok's `use_l2_norm`, UniTok). Distances are
/// computed by GEMM in row tiles (never the full M×K matrix); ties go to the first index.
public struct VectorQuantizer: Sendable {
    /// How the nearest codeword is chosen.
    public enum Metric: Sendable, Equatable {
        /// Smallest squared distance; values below `clampMin` count as equal (ties → first).
        case euclidean(clampMin: Float?)
        /// Largest dot product (inputs l2-normalized with `inputEps`).
        case cosine(inputEps: Float)
    }

    /// `[K, D]` codewords as looked up (normalized when the quantizer normalizes its codebook).
    public let codebook: Tensor
    /// How the nearest codeword is chosen.
    public let metric: Metric
    /// Inputs are l2-normalized before the search (TiTok's `use_l2_norm`).
    public let normalizeInputs: Bool
    private let squaredNorms: [Float]

    /// TiTok's quantizer: euclidean, inputs and codebook l2-normalized when `useL2Norm`.
    public init(codebook: Tensor, useL2Norm: Bool) {
        self.init(
            codebook: codebook, metric: .euclidean(clampMin: nil), normalizeInputs: useL2Norm,
            normalizeCodebook: useL2Norm)
    }

    /// A quantizer over `codebook` with the given metric and normalizations.
    /// - Parameter codebook: `[K, D]` as stored in the checkpoint.
    public init(codebook: Tensor, metric: Metric, normalizeInputs: Bool = false, normalizeCodebook: Bool = false) {
        precondition(codebook.rank == 2, "codebook must be [K, D], got \(codebook.shape)")
        let book = normalizeCodebook ? codebook.l2Normalized() : codebook
        let d = codebook.shape[1]
        squaredNorms = (0..<codebook.shape[0]).map { k in
            var s: Float = 0
            for j in 0..<d { let v = book.scalars[k * d + j]; s += v * v }
            return s
        }
        self.codebook = book
        self.metric = metric
        self.normalizeInputs = normalizeInputs
    }

    /// Number of codewords `K`.
    public var size: Int { codebook.shape[0] }
    /// Width `D` of each codeword.
    public var dimension: Int { codebook.shape[1] }

    /// Index of the nearest codeword for each row of `z` (`[M, D]`).
    public func encode(_ z: Tensor) -> [Int] {
        precondition(
            z.rank == 2 && z.shape[1] == dimension, "quantizer input must be [M, \(dimension)], got \(z.shape)")
        var x = z
        switch metric {
        case .cosine(let eps): x = z.l2Normalized(eps: eps)
        case .euclidean: if normalizeInputs { x = z.l2Normalized() }
        }
        let m = x.shape[0], k = size, d = dimension
        var ids = [Int](repeating: 0, count: m)
        // Row tiles in parallel, each with its own distance buffer and a single-threaded GEMM:
        // memory stays at threads × tile × K floats whatever M is.
        let tile = 128
        let tiles = (m + tile - 1) / tile
        x.scalars.withUnsafeBufferPointer { xp in
            codebook.scalars.withUnsafeBufferPointer { cp in
                squaredNorms.withUnsafeBufferPointer { np in
                    ids.withUnsafeMutableBufferPointer { ip in
                        let ctx = UncheckedSendable(
                            (xp.baseAddress!, cp.baseAddress!, np.baseAddress!, ip.baseAddress!))
                        let metric = self.metric
                        parallelChunks(tiles) { range in
                            let (xb, cb, norms, out) = ctx.value
                            let dots = UnsafeMutablePointer<Float>.allocate(capacity: tile * k)
                            defer { dots.deallocate() }
                            for t in range {
                                let start = t * tile, rows = min(tile, m - start)
                                BLAS.call(false, true, rows, k, d, 1, xb + start * d, d, cb, d, 0, dots, k)
                                for r in 0..<rows {
                                    let dot = dots + r * k
                                    var best = 0
                                    switch metric {
                                    case .cosine:
                                        var bestValue = -Float.infinity
                                        for c in 0..<k where dot[c] > bestValue { bestValue = dot[c]; best = c }
                                    case .euclidean(let clampMin):
                                        let row = xb + (start + r) * d
                                        var zz: Float = 0
                                        for j in 0..<d { zz += row[j] * row[j] }
                                        // argmin of ‖e‖² − 2 z·e (+ ‖z‖², constant per row);
                                        // the clamp needs the full value
                                        var bestDistance = Float.infinity
                                        if let floor = clampMin {
                                            for c in 0..<k {
                                                let dist = max((zz + norms[c]) - 2 * dot[c], floor)
                                                if dist < bestDistance { bestDistance = dist; best = c }
                                            }
                                        } else {
                                            for c in 0..<k {
                                                let dist = (zz + norms[c]) - 2 * dot[c]
                                                if dist < bestDistance { bestDistance = dist; best = c }
                                            }
                                        }
                                    }
                                    out[start + r] = best
                                }
                            }
                        }
                    }
                }
            }
        }
        return ids
    }

    /// Codewords for `ids`: `[ids.count, D]`.
    public func decode(_ ids: [Int]) throws -> Tensor {
        if let bad = ids.first(where: { $0 < 0 || $0 >= size }) {
            throw QuantizerError("token id \(bad) is outside the codebook (0..<\(size))")
        }
        return codebook.indexSelect(axis: 0, ids)
    }
}
