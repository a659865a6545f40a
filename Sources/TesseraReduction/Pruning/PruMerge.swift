import TesseraCore

// LLaVA-PruMerge and PruMerge+ (Shang et al. 2024), following 42Shawn/LLaVA-PruMerge
// `llava/model/multimodal_encoder/clip_encoder.py` (`token_prune_merge_advanced` and
// `token_prune_merge_advanced_plus`, adaptive mode):
//
// 1. CLS attention of the last layer with q, k as one head over the full width:
//    `a = softmax(q·kᵀ / √C)[CLS, patches]`.
// 2. Adaptive budget: the number of IQR outliers, `a > Q3 + 1.5·IQR` (numpy.percentile, linear);
//    keep the top-k patches by `a`.
// 3. PruMerge+ adds spatially uniform samples: `step = int(1/ratio)`, indices
//    `0, s, 2s, … < N − 1` with `s = int(step/3)` that are not already kept.
// 4. Every kept token i becomes `y_i + Σ_j a_j·y_j` over the `neighbours` (32) patches whose
//    normalized keys are most similar to k_i, among all other patches (kept or pruned).
// 5. One extra token `Σ a_j·y_j` over the pruned patches (attention-weighted, as upstream).
//
// Deviations, all documented on the API: output rows are in original patch order (upstream
// emits them in top-k order, then the samples: see `Result.upstreamOrder`); the sampling stop
// is `N − 1` (upstream hard-codes 575 for 576 patches); the sampling stride is at least 1 and
// an empty outlier set keeps no patch (upstream divides by zero in PruMerge+).
#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif

/// LLaVA-PruMerge / PruMerge+: adaptive IQR token selection plus key-similarity merging.
public enum PruMerge {
    /// Which published variant to run.
    public enum Variant: Sendable {
        /// PruMerge: the IQR outliers only.
        case pruMerge
        /// PruMerge+: the outliers plus spatially uniform samples.
        case pruMergePlus
    }

    /// The reduced tokens and where they came from.
    public struct Result: Sendable {
        /// `[kept.count + 1, C]`: the merged kept tokens in `kept` order, then the token that
        /// sums the pruned patches (attention-weighted).
        public var tokens: Tensor
        /// Kept patch indices (0-based over patches, CLS excluded), sorted ascending.
        public var kept: [Int]
        /// Patches chosen by attention (top-k, k = the adaptive count or the requested budget), sorted.
        public var selected: [Int]
        /// PruMerge+ spatial samples (not in `selected`), sorted; empty for PruMerge.
        public var sampled: [Int]
        /// The order upstream emits the kept tokens in: top-k by descending attention, then the samples.
        public var upstreamOrder: [Int]
        /// For each kept token (in `kept` order), the patches merged into it, sorted.
        public var neighbours: [[Int]]
    }

    /// `softmax(q·kᵀ/√C)` of the CLS query over all tokens, CLS column dropped: `[N]`.
    /// - Parameters: queries, keys: `[N+1, C]` (index 0 = CLS), one head over the full width.
    public static func clsAttention(queries: Tensor, keys: Tensor) throws -> [Float] {
        try ReductionError.requireRank2(queries, "queries")
        try ReductionError.requireRank2(keys, "keys")
        guard queries.shape == keys.shape, keys.shape[0] >= 2 else {
            throw ReductionError.shape("queries \(queries.shape) and keys \(keys.shape) must both be [N+1, C], N ≥ 1")
        }
        let (t, c) = (keys.shape[0], keys.shape[1])
        let scale = 1 / Float(c).squareRoot()
        var logits = [Float](repeating: 0, count: t)
        for j in 0..<t {
            var s: Float = 0
            for d in 0..<c { s += queries.scalars[d] * keys.scalars[j * c + d] }
            logits[j] = s * scale
        }
        let m = logits.max()!
        var total: Float = 0
        for j in 0..<t { logits[j] = exp(logits[j] - m); total += logits[j] }
        return logits.dropFirst().map { $0 / total }
    }

    /// For towers without a CLS token (SigLIP): the attention each token receives,
    /// `mean_i softmax(q·kᵀ/√C)[i, j]` over all query rows, one head over the full width: `[N]`.
    /// It stands in for the CLS attention everywhere (selection, merge weights, the pruned sum).
    /// - Parameters: queries, keys: `[N, C]` patch tokens.
    public static func receivedAttention(queries: Tensor, keys: Tensor) throws -> [Float] {
        try ReductionError.requireRank2(queries, "queries")
        try ReductionError.requireRank2(keys, "keys")
        guard queries.shape == keys.shape, keys.shape[0] >= 1 else {
            throw ReductionError.shape("queries \(queries.shape) and keys \(keys.shape) must both be [N, C], N ≥ 1")
        }
        let (t, c) = (keys.shape[0], keys.shape[1])
        let logits = queries.matmul(keys, transposeB: true)  // [N, N]
        let scale = 1 / Float(c).squareRoot()
        var received = [Double](repeating: 0, count: t)
        var row = [Float](repeating: 0, count: t)
        for i in 0..<t {
            var m = -Float.infinity
            for j in 0..<t { row[j] = logits.scalars[i * t + j] * scale; m = max(m, row[j]) }
            var total: Float = 0
            for j in 0..<t { row[j] = exp(row[j] - m); total += row[j] }
            for j in 0..<t { received[j] += Double(row[j] / total) }
        }
        return received.map { Float($0 / Double(t)) }
    }

    /// `numpy.percentile(values, q)` with the default linear interpolation.
    public static func percentile(_ values: [Float], _ q: Double) -> Double {
        let v = values.map(Double.init).sorted()
        guard v.count > 1 else { return v.first ?? .nan }
        let position = q / 100 * Double(v.count - 1)
        let lo = Int(position.rounded(.down)), hi = min(lo + 1, v.count - 1)
        let t = position - Double(lo), d = v[hi] - v[lo]
        return t >= 0.5 ? v[hi] - d * (1 - t) : v[lo] + d * t  // numpy's _lerp
    }

    /// Number of IQR outliers, `a > Q3 + 1.5·(Q3 − Q1)`: PruMerge's adaptive budget.
    public static func outlierCount(_ attention: [Float]) -> Int {
        let q1 = percentile(attention, 25), q3 = percentile(attention, 75)
        let upper = q3 + 1.5 * (q3 - q1)
        return attention.filter { Double($0) > upper }.count
    }

    /// PruMerge+'s spatial samples for `count` selected patches out of `n`: indices
    /// `0, s, 2s, … < n − 1`, `s = max(1, int(int(n / count) / 3))`, minus the selected ones.
    public static func spatialSamples(n: Int, count: Int, excluding selected: Set<Int>) -> [Int] {
        guard count > 0 else { return [] }
        let ratio = Double(count) / Double(n)
        let step = Int(1 / ratio)
        let stride = max(1, step / 3)
        return Swift.stride(from: 0, to: n - 1, by: stride).filter { !selected.contains($0) }
    }

    /// Runs PruMerge or PruMerge+.
    /// - Parameters:
    ///   - features: `[N, C]` patch features to merge (LLaVA: hidden states of layer −2, no CLS).
    ///   - keys: `[N, Ck]` patch keys of the attention layer (CLS row dropped).
    ///   - attention: `[N]` CLS attention to the patches (``clsAttention(queries:keys:)``), or
    ///     for towers without CLS the attention received (``receivedAttention(queries:keys:)``).
    ///   - variant: PruMerge or PruMerge+.
    ///   - keep: selected-token budget; `nil` = adaptive (the IQR outlier count, as upstream).
    ///   - neighbours: patches merged into each kept token (upstream 32; at most N − 1 are used).
    /// - Throws: ``ReductionError`` for mismatched shapes, `keep` outside `0...N` or a negative
    ///   neighbour count.
    public static func reduce(
        features: Tensor, keys: Tensor, attention: [Float], variant: Variant = .pruMerge,
        keep: Int? = nil, neighbours: Int = 32
    ) throws -> Result {
        try ReductionError.requireRank2(features, "features")
        try ReductionError.requireRank2(keys, "keys")
        let n = features.shape[0], c = features.shape[1]
        guard keys.shape[0] == n, attention.count == n, n > 0 else {
            throw ReductionError.shape(
                "features \(features.shape), keys \(keys.shape) and attention [\(attention.count)] must share N > 0")
        }
        if let keep, keep < 0 || keep > n { throw ReductionError.budget("keep \(keep) outside 0...\(n)") }
        guard neighbours >= 0 else { throw ReductionError.parameter("neighbours must be ≥ 0, got \(neighbours)") }

        // topk(cls_attn, int(N * ratio)) with ratio = outliers / N (adaptive) — computed as upstream
        let count = keep ?? Int(Double(n) * (Double(outlierCount(attention)) / Double(n)))
        let byAttention = attention.indices.sorted {
            attention[$0] > attention[$1] || (attention[$0] == attention[$1] && $0 < $1)
        }
        let selectedOrder = Array(byAttention.prefix(count))
        let selectedSet = Set(selectedOrder)
        let sampled = variant == .pruMergePlus ? spatialSamples(n: n, count: count, excluding: selectedSet) : []
        let upstreamOrder = selectedOrder + sampled
        let kept = upstreamOrder.sorted()
        let keptSet = Set(kept)

        // neighbours by cosine of normalized keys, among all other patches
        let unit = keys.rowNormalized()
        let sims = unit.indexSelect(axis: 0, kept).matmul(unit, transposeB: true)  // [k, N]
        let nn = min(neighbours, n - 1)
        var out = [Float](repeating: 0, count: (kept.count + 1) * c)
        var merged: [[Int]] = []
        merged.reserveCapacity(kept.count)
        for (row, i) in kept.enumerated() {
            let s = Array(sims.scalars[(row * n)..<((row + 1) * n)])
            let others = (0..<n).filter { $0 != i }
                .sorted { s[$0] > s[$1] || (s[$0] == s[$1] && $0 < $1) }
            let chosen = Array(others.prefix(nn)).sorted()
            merged.append(chosen)
            for j in 0..<c { out[row * c + j] = features.scalars[i * c + j] }
            for m in chosen {
                let a = attention[m]
                for j in 0..<c { out[row * c + j] += a * features.scalars[m * c + j] }
            }
        }
        let extra = kept.count * c
        for m in 0..<n where !keptSet.contains(m) {
            let a = attention[m]
            for j in 0..<c { out[extra + j] += a * features.scalars[m * c + j] }
        }
        return Result(
            tokens: Tensor(shape: [kept.count + 1, c], scalars: out), kept: kept,
            selected: selectedOrder.sorted(), sampled: sampled, upstreamOrder: upstreamOrder, neighbours: merged)
    }
}
