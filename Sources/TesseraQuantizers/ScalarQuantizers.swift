import Foundation
import TesseraCore

/// Finite scalar quantization (Mentzer et al.; `vector_quantize_pytorch.FSQ`, the form FlexTok
/// uses): each channel is bounded with tanh and rounded to one of `levels[j]` values; the id is
/// the mixed-radix number of the per-channel levels, first channel least significant.
public struct FSQ: Sendable, Equatable {
    /// Number of levels of each channel (`levels` in the reference), first channel first.
    public let levels: [Int]
    /// The `preserve_symmetry` variant (needed for levels of 2).
    public let preserveSymmetry: Bool
    /// `bound_hard_clamp`: clamp to [−1, 1] instead of tanh (residual FSQ's layers).
    public let hardClamp: Bool
    /// Place value of each channel: cumprod([1, L0, L1, …]).
    public let basis: [Int]

    /// An FSQ with the given levels per channel.
    /// - Parameters:
    ///   - levels: Levels of each channel, all ≥ 2; a level of 2 needs `preserveSymmetry`.
    ///   - preserveSymmetry: Use the `preserve_symmetry` rounding (levels symmetric about 0).
    ///   - hardClamp: Bound with a clamp to [−1, 1] instead of tanh (`bound_hard_clamp`).
    /// - Throws: ``QuantizerError`` when `levels` is empty, holds a value below 2, holds 2 without
    ///   `preserveSymmetry`, or multiplies out to more than 2^62 ids.
    public init(levels: [Int], preserveSymmetry: Bool = false, hardClamp: Bool = false) throws {
        guard !levels.isEmpty, levels.allSatisfy({ $0 >= 2 }) else {
            throw QuantizerError("FSQ levels must all be ≥ 2, got \(levels)")
        }
        guard preserveSymmetry || !levels.contains(2) else {
            throw QuantizerError("FSQ level 2 needs preserve_symmetry (without it the level collapses)")
        }
        // Ids are products of the levels: they must fit in 62 bits.
        let size = levels.reduce(Optional(1)) { p, l in
            p.flatMap {
                let (q, o) = $0.multipliedReportingOverflow(by: l); return o || q > 1 << 62 ? nil : q
            }
        }
        guard size != nil else { throw QuantizerError("FSQ levels \(levels) give more than 2^62 ids") }
        self.levels = levels
        self.preserveSymmetry = preserveSymmetry
        self.hardClamp = hardClamp
        var b = [1]
        for l in levels.dropLast() { b.append(b.last! * l) }
        basis = b
    }

    /// Channels per row: the number of levels.
    public var dimension: Int { levels.count }
    /// Number of distinct ids: the product of the levels.
    public var codebookSize: Int { levels.reduce(1, *) }

    /// Quantizes rows of `z` (`[M, levels.count]`): ids and codes (each channel in [−1, 1]).
    /// NaN inputs map to level 0 of their channel (PyTorch would produce an undefined id).
    public func encode(_ z: Tensor) throws -> (ids: [Int], codes: Tensor) {
        let d = dimension
        guard z.rank == 2, z.shape[1] == d else { throw QuantizerError("FSQ input must be [M, \(d)], got \(z.shape)") }
        let m = z.shape[0]
        var ids = [Int](repeating: 0, count: m)
        var codes = [Float](repeating: 0, count: m * d)
        for r in 0..<m {
            var id = 0
            for j in 0..<d {
                let k = level(z.scalars[r * d + j], channel: j)
                id += k * basis[j]
                codes[r * d + j] = code(level: k, channel: j)
            }
            ids[r] = id
        }
        return (ids, Tensor(shape: [m, d], scalars: codes))
    }

    /// Codes `[ids.count, D]` for ids.
    public func decode(_ ids: [Int]) throws -> Tensor {
        if let bad = ids.first(where: { $0 < 0 || $0 >= codebookSize }) {
            throw QuantizerError("FSQ id \(bad) is outside 0..<\(codebookSize)")
        }
        let d = dimension
        var out = [Float](repeating: 0, count: ids.count * d)
        for (r, id) in ids.enumerated() {
            for j in 0..<d { out[r * d + j] = code(level: (id / basis[j]) % levels[j], channel: j) }
        }
        return Tensor(shape: [ids.count, d], scalars: out)
    }

    /// Level index 0..<L of one value.
    @inline(__always)
    func level(_ x: Float, channel j: Int) -> Int {
        let l = levels[j]
        guard !x.isNaN else { return 0 }
        if preserveSymmetry {
            // q = 2/(L−1)·floor((L−1)(tanh z + 1)/2 + 0.5) − 1; level = (q + 1)(L − 1)/2
            let bracket = (Float(l) - 1) * (squash(x) + 1) / 2 + 0.5
            return min(l - 1, max(0, Int(bracket.rounded(.down))))
        }
        let half = (Float(l) - 1) * (1 + 1e-3) / 2
        let offset: Float = l % 2 == 0 ? 0.5 : 0
        let shift = hardClamp ? offset / half : atanhf(offset / half)
        let bounded = squash(x + shift) * half - offset
        return Int(bounded.rounded(.toNearestOrEven)) + l / 2
    }

    @inline(__always)
    private func squash(_ x: Float) -> Float { hardClamp ? min(max(x, -1), 1) : tanhf(x) }

    @inline(__always)
    func code(level k: Int, channel j: Int) -> Float {
        let l = levels[j]
        if preserveSymmetry { return Float(k) * (2 / (Float(l) - 1)) - 1 }
        let halfWidth = Float(l / 2)
        return (Float(k) - halfWidth) / halfWidth
    }
}

/// Lookup-free quantization (`vector_quantize_pytorch.LFQ`) and its spherical form (BSQ):
/// each channel becomes ±scale by its sign (0 → −scale); the id packs the signs with the first
/// channel as the most significant bit. `codebooks` > 1 splits the channels into groups with one
/// id each.
public struct LFQ: Sendable, Equatable {
    /// Channels per row.
    public let dimension: Int
    /// Number of channel groups, each packed into its own id.
    public let codebooks: Int
    /// Magnitude of the codes (`codebook_scale`); spherical codes are ±scale/√bits.
    public let scale: Float
    /// Whether codes are l2-normalized within each codebook (BSQ).
    public let spherical: Bool

    /// A lookup-free quantizer.
    /// - Parameters:
    ///   - dimension: Channels per row.
    ///   - codebooks: Number of channel groups, one id each; must divide `dimension`.
    ///   - scale: Magnitude of the codes (default 1).
    ///   - spherical: The spherical form (BSQ): codes ±scale/√bits.
    /// - Throws: ``QuantizerError`` when `dimension` or `codebooks` is not positive, `codebooks` does not
    ///   divide `dimension`, or a codebook would have more than 62 bits.
    public init(dimension: Int, codebooks: Int = 1, scale: Float = 1, spherical: Bool = false) throws {
        guard dimension > 0, codebooks > 0, dimension % codebooks == 0, dimension / codebooks <= 62 else {
            throw QuantizerError(
                "LFQ needs dimension divisible by codebooks, ≤ 62 bits each (got \(dimension), \(codebooks))")
        }
        self.dimension = dimension
        self.codebooks = codebooks
        self.scale = scale
        self.spherical = spherical
    }

    /// Channels, and so bits, in each codebook's id.
    public var bitsPerCodebook: Int { dimension / codebooks }
    /// Number of distinct ids per codebook: 2^bitsPerCodebook.
    public var codebookSize: Int { 1 << bitsPerCodebook }

    /// Ids `[M · codebooks]` (row-major: position, then codebook) and codes `[M, D]`.
    public func encode(_ x: Tensor) throws -> (ids: [Int], codes: Tensor) {
        guard x.rank == 2, x.shape[1] == dimension else {
            throw QuantizerError("LFQ input must be [M, \(dimension)], got \(x.shape)")
        }
        let m = x.shape[0], bits = bitsPerCodebook
        // Spherical inputs are l2-normalized first; that keeps every sign, so only signs matter.
        let magnitude = spherical ? scale / Float(bits).squareRoot() : scale
        var ids = [Int](repeating: 0, count: m * codebooks)
        var codes = [Float](repeating: 0, count: m * dimension)
        x.scalars.withUnsafeBufferPointer { xs in
            codes.withUnsafeMutableBufferPointer { cs in
                ids.withUnsafeMutableBufferPointer { ip in
                    for r in 0..<m {
                        for c in 0..<codebooks {
                            var id = 0
                            let base = r * dimension + c * bits
                            for b in 0..<bits {
                                let positive = xs[base + b] > 0
                                id = id << 1 | (positive ? 1 : 0)
                                cs[base + b] = positive ? magnitude : -magnitude
                            }
                            ip[r * codebooks + c] = id
                        }
                    }
                }
            }
        }
        return (ids, Tensor(shape: [m, dimension], scalars: codes))
    }

    /// Codes `[ids.count / codebooks, D]` for ids laid out as ``encode(_:)`` returns them.
    public func decode(_ ids: [Int]) throws -> Tensor {
        guard ids.count % codebooks == 0 else {
            throw QuantizerError("LFQ ids count \(ids.count) is not a multiple of \(codebooks) codebooks")
        }
        if let bad = ids.first(where: { $0 < 0 || $0 >= codebookSize }) {
            throw QuantizerError("LFQ id \(bad) is outside 0..<\(codebookSize)")
        }
        let m = ids.count / codebooks, bits = bitsPerCodebook
        var signs = [Bool](repeating: false, count: m * dimension)
        for r in 0..<m {
            for c in 0..<codebooks {
                for b in 0..<bits {
                    signs[r * dimension + c * bits + b] = (ids[r * codebooks + c] >> (bits - 1 - b)) & 1 == 1
                }
            }
        }
        return codes(signs: signs, rows: m)
    }

    private func codes(signs: [Bool], rows m: Int) -> Tensor {
        // Spherical: ±1 rows normalized within each codebook, times the scale: ±scale/√bits.
        let magnitude = spherical ? scale / Float(bitsPerCodebook).squareRoot() : scale
        return Tensor(shape: [m, dimension], scalars: signs.map { $0 ? magnitude : -magnitude })
    }
}

/// Binary latents (Instella-T2I style): bits = logits > 0, embedding = bits · E. Ids pack a
/// token's bits with bit 0 as the most significant bit (a Tessera convention; the original
/// keeps the bit vectors).
public struct BinaryQuantizer: Sendable {
    /// `[bits, dim]` embedding matrix (`quantizer.embed`).
    public let embedding: Tensor

    /// A binary quantizer over an embedding matrix.
    /// - Parameter embedding: `[bits, dim]`, one row per bit (`quantizer.embed`).
    /// - Throws: ``QuantizerError`` when `embedding` is not rank 2 or has more than 63 rows.
    public init(embedding: Tensor) throws {
        guard embedding.rank == 2, embedding.shape[0] <= 63 else {
            throw QuantizerError("binary embedding must be [bits ≤ 63, dim], got \(embedding.shape)")
        }
        self.embedding = embedding
    }

    /// Bits per token: the embedding's rows.
    public var bits: Int { embedding.shape[0] }

    /// Ids for logits `[M, bits]`.
    public func encode(_ logits: Tensor) throws -> [Int] {
        guard logits.rank == 2, logits.shape[1] == bits else {
            throw QuantizerError("binary logits must be [M, \(bits)], got \(logits.shape)")
        }
        return (0..<logits.shape[0]).map { r in
            var id = 0
            for j in 0..<bits where logits.scalars[r * bits + j] > 0 { id |= 1 << (bits - 1 - j) }
            return id
        }
    }

    /// The 0/1 bit matrix `[ids.count, bits]` of ids.
    public func bitMatrix(_ ids: [Int]) throws -> Tensor {
        if let bad = ids.first(where: { $0 < 0 || $0 >= (1 << bits) }) {
            throw QuantizerError("binary id \(bad) has more than \(bits) bits")
        }
        var out = [Float](repeating: 0, count: ids.count * bits)
        for (r, id) in ids.enumerated() {
            for j in 0..<bits where (id >> (bits - 1 - j)) & 1 == 1 { out[r * bits + j] = 1 }
        }
        return Tensor(shape: [ids.count, bits], scalars: out)
    }

    /// Embeddings `bits · E`: `[ids.count, dim]`.
    public func decode(_ ids: [Int]) throws -> Tensor { try bitMatrix(ids).matmul(embedding) }
}

/// TokenBridge's post-training dimension-wise quantization: each channel of a continuous
/// latent is mapped to the nearest of 2^bits Gaussian-quantile representatives.
public struct DimensionWiseQuantizer: Sendable {
    /// Bits per id; each channel has 2^bits bins.
    public let bits: Int
    /// Latent values mapped linearly onto `-stdRange...stdRange` standard deviations; values outside are clamped.
    public let range: ClosedRange<Float>
    /// Half-width, in standard deviations, of the standardized space (quantiles beyond it are clamped).
    public let stdRange: Double
    /// Bin boundaries b₀…b_B (clamped Gaussian quantiles) and representatives r₀…r_{B−1}
    /// (conditional means of the standard normal within each bin).
    public let boundaries: [Double]
    /// The Gaussian representatives r₀…r_{B−1}, in the standardized space. A quantizer made with
    /// ``init(bits:range:stdRange:fittedTo:)`` encodes and decodes with its fitted values instead.
    public let representatives: [Double]

    /// A quantizer with Gaussian-quantile bins.
    /// - Parameters:
    ///   - bits: Bits per id, 1–16 (default 6).
    ///   - range: Latent values that map onto `±stdRange` (default −5...5).
    ///   - stdRange: Half-width of the standardized space in standard deviations (default 3).
    /// - Throws: ``QuantizerError`` when `bits` is outside 1...16, `range` is empty or `stdRange` is not
    ///   positive.
    public init(bits: Int = 6, range: ClosedRange<Float> = -5...5, stdRange: Double = 3) throws {
        guard bits >= 1 && bits <= 16, range.upperBound > range.lowerBound, stdRange > 0 else {
            throw QuantizerError("dimension-wise quantizer needs 1–16 bits, a non-empty range and a positive std range")
        }
        self.bits = bits
        self.range = range
        self.stdRange = stdRange
        let n = 1 << bits
        let b = (0...n).map { i -> Double in
            let q = i == 0 ? -Double.infinity : (i == n ? Double.infinity : inverseNormalCDF(Double(i) / Double(n)))
            return min(max(q, -stdRange), stdRange)
        }
        boundaries = b
        representatives = (0..<n).map { i in
            let mass = normalCDF(b[i + 1]) - normalCDF(b[i])
            return (normalPDF(b[i]) - normalPDF(b[i + 1])) / (mass == 0 ? 1e-10 : mass)
        }
    }

    /// Alternative fitted to data: representatives at the per-bin means of `samples` (in the
    /// standardized space), bins at their empirical quantiles.
    public init(bits: Int, range: ClosedRange<Float>, stdRange: Double, fittedTo samples: [Float]) throws {
        try self.init(bits: bits, range: range, stdRange: stdRange)
        let base = self
        let u = samples.filter { $0.isFinite }.map { base.standardize($0) }.sorted()
        guard u.count >= (1 << bits) else {
            throw QuantizerError("need at least \(1 << bits) finite samples to fit \(1 << bits) bins")
        }
        let n = 1 << bits
        var reps: [Double] = []
        for i in 0..<n {
            let lo = i * u.count / n, hi = max(lo + 1, (i + 1) * u.count / n)
            reps.append(u[lo..<hi].reduce(0, +) / Double(hi - lo))
        }
        self.representativesOverride = reps
    }

    private var representativesOverride: [Double]? = nil
    private var reps: [Double] { representativesOverride ?? representatives }

    /// Number of bins of each channel: 2^bits.
    public var levels: Int { 1 << bits }

    func standardize(_ x: Float) -> Double {
        let span = Double(range.upperBound - range.lowerBound)
        let u = (Double(x) - Double(range.lowerBound)) / span * 2 * stdRange - stdRange
        return min(max(u, -stdRange), stdRange)
    }

    /// Per-channel ids (same shape as `x`); NaN maps to the middle bin.
    public func encode(_ x: Tensor) -> [Int] {
        let r = reps
        return x.scalars.map { v in
            guard !v.isNaN else { return r.count / 2 }
            let u = standardize(v)
            // binary search for the nearest representative; ties go to the lower index
            var lo = 0, hi = r.count - 1
            while lo < hi {
                let mid = (lo + hi) / 2
                if r[mid] < u { lo = mid + 1 } else { hi = mid }
            }
            if lo > 0 && abs(u - r[lo - 1]) <= abs(u - r[lo]) { return lo - 1 }
            return lo
        }
    }

    /// Values for ids (same shape as given).
    public func decode(_ ids: [Int], shape: [Int]) throws -> Tensor {
        let r = reps
        if let bad = ids.first(where: { $0 < 0 || $0 >= r.count }) {
            throw QuantizerError("dimension-wise id \(bad) is outside 0..<\(r.count)")
        }
        let span = Double(range.upperBound - range.lowerBound)
        return Tensor(
            shape: shape,
            scalars: ids.map { Float((r[$0] + stdRange) / (2 * stdRange) * span + Double(range.lowerBound)) })
    }
}

// MARK: - Normal distribution helpers (double precision)

func normalPDF(_ x: Double) -> Double { x.isInfinite ? 0 : exp(-x * x / 2) / (2 * Double.pi).squareRoot() }
func normalCDF(_ x: Double) -> Double { 0.5 * erfc(-x / 2.0.squareRoot()) }

/// Φ⁻¹(p): Wichura's AS241 (PPND16), accurate to about 1e-16.
func inverseNormalCDF(_ p: Double) -> Double {
    let q = p - 0.5
    if abs(q) <= 0.425 {
        let r = 0.180625 - q * q
        let num =
            (((((((2509.0809287301226727 * r + 33430.575583588128105) * r + 67265.770927008700853) * r
                + 45921.953931549871457) * r + 13731.693765509461125) * r + 1971.5909503065514427) * r
                + 133.14166789178437745) * r + 3.387132872796366608)
        let den =
            (((((((5226.495278852545925 * r + 28729.085735721942674) * r + 39307.89580009271061) * r
                + 21213.794301586595867) * r + 5394.1960214247511077) * r + 687.1870074920579083) * r
                + 42.313330701600911252) * r + 1.0)
        return q * num / den
    }
    var r = q < 0 ? p : 1 - p
    r = (-log(r)).squareRoot()
    var value: Double
    if r <= 5 {
        r -= 1.6
        value =
            (((((((7.7454501427834140764e-4 * r + 0.0227238449892691845833) * r + 0.24178072517745061177) * r
                + 1.27045825245236838258) * r + 3.64784832476320460504) * r + 5.7694972214606914055) * r
                + 4.6303378461565452959) * r + 1.42343711074968357734)
            / (((((((1.05075007164441684324e-9 * r + 5.475938084995344946e-4) * r + 0.0151986665636164571966) * r
                + 0.14810397642748007459) * r + 0.68976733498510000455) * r + 1.6763848301838038494) * r
                + 2.05319162663775882187) * r + 1.0)
    } else {
        r -= 5
        value =
            (((((((2.01033439929228813265e-7 * r + 2.71155556874348757815e-5) * r + 0.0012426609473880784386) * r
                + 0.026532189526576123093) * r + 0.29656057182850489123) * r + 1.7848265399172913358) * r
                + 5.4637849111641143699) * r + 6.6579046435011037772)
            / (((((((2.04426310338993978564e-15 * r + 1.4215117583164458887e-7) * r + 1.8463183175100546818e-5) * r
                + 7.868691311456132591e-4) * r + 0.0148753612908506148525) * r + 0.13692988092273580531) * r
                + 0.59983220655588793769) * r + 1.0)
    }
    return q < 0 ? -value : value
}
