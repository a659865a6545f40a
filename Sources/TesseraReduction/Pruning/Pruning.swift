// Training-free visual token pruning: VisionZip, DivPrune (k-center), FastV, HiPrune and
// simple baselines. Each returns the kept original indices sorted ascending, so callers choose
// gapped or contiguous positions.
import TesseraCore

/// Token selection by score, diversity or position: top-k, uniform and random baselines, DivPrune,
/// FastV and HiPrune. Each returns kept original indices sorted ascending.
public enum TokenPruning {
    /// Indices of the `k` largest scores, sorted ascending (ties: lower index first).
    public static func topK(_ scores: [Float], k: Int) -> [Int] {
        Array(
            scores.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }.prefix(max(0, k))
        ).sorted()
    }

    /// Uniform-grid baseline: `k` indices spread evenly over `n`.
    public static func uniform(n: Int, k: Int) -> [Int] {
        guard k > 0, n > 0 else { return [] }
        if k >= n { return Array(0..<n) }
        return (0..<k).map { Int((Double($0) + 0.5) * Double(n) / Double(k)) }
    }

    /// Random baseline with a seed (reproducible).
    public static func random(n: Int, k: Int, seed: UInt64) -> [Int] {
        var random = SeededRandom(seed: seed)
        var indices = Array(0..<n)
        for i in stride(from: n - 1, to: 0, by: -1) { indices.swapAt(i, Int(random.next() % UInt64(i + 1))) }
        return Array(indices.prefix(min(k, n))).sorted()
    }

    /// DivPrune / ToDRE stage 1: greedy max–min diversity (k-center) on `1 − cos` distances.
    /// The first pick is the token farthest from its nearest neighbour; then each next pick
    /// maximizes its distance to the nearest picked token (a running minimum: O(k·N)).
    /// - Returns: kept indices (sorted) and the pick order.
    public static func divPrune(_ x: Tensor, k: Int) -> (kept: [Int], order: [Int]) {
        let n = x.shape[0]
        guard k > 0, n > 0 else { return ([], []) }
        let unit = x.rowNormalized()
        let sim = unit.matmul(unit, transposeB: true)  // [N, N] cosine
        func distance(_ i: Int, _ j: Int) -> Float { 1 - sim.scalars[i * n + j] }
        // first: argmax over j of the second-smallest distance in column j (the smallest is itself)
        var best = 0, bestScore = -Float.infinity
        for j in 0..<n {
            var lo = Float.infinity, second = Float.infinity
            for i in 0..<n {
                let d = distance(i, j)
                if d < lo { second = lo; lo = d } else if d < second { second = d }
            }
            if second > bestScore { bestScore = second; best = j }
        }
        var order = [best]
        var nearest = (0..<n).map { distance(best, $0) }
        while order.count < min(k, n) {
            var pick = 0, score = -Float.infinity
            for j in 0..<n where nearest[j] > score { score = nearest[j]; pick = j }
            order.append(pick)
            for j in 0..<n { nearest[j] = min(nearest[j], distance(pick, j)) }
        }
        return (order.sorted(), order)
    }

    /// FastV: keep `round(count · (1 − ratio))` image tokens with the highest attention from the
    /// last query, and every non-image position. `attention` is the last query's row (heads averaged) over the
    /// whole sequence; the image occupies `image`.
    public static func fastV(attention: [Float], image: Range<Int>, ratio: Double) -> [Int] {
        let keep = Int((Double(image.count) * (1 - ratio)).rounded(.toNearestOrEven))
        let kept = topK(Array(attention[image]), k: keep).map { $0 + image.lowerBound }
        return (Array(0..<image.lowerBound) + kept + Array(image.upperBound..<attention.count)).sorted()
    }

    /// HiPrune's score: attention each token receives, averaged over heads and all query rows,
    /// with the first `prefix` columns (CLS) dropped. `probabilities` is `[H, T, T]` (or `[1, H, T, T]`).
    public static func attentionReceived(_ probabilities: Tensor, prefix: Int = 1) -> [Float] {
        let t = probabilities.shape[probabilities.rank - 1], q = probabilities.shape[probabilities.rank - 2]
        let h = probabilities.count / (t * q)
        var sums = [Double](repeating: 0, count: t)
        for row in 0..<(h * q) { for j in 0..<t { sums[j] += Double(probabilities.scalars[row * t + j]) } }
        return (prefix..<t).map { Float(sums[$0] / Double(h * q)) }
    }

    /// HiPrune: anchors (top by the object layer's score), their ±1 and ±W neighbours as buffers,
    /// then registers (top by the deep layer's score) up to `budget`. `checkRowWrap` stops ±1
    /// buffers from wrapping across grid rows (upstream does not check).
    public static func hiPrune(
        objectScores: [Float], deepScores: [Float], gridWidth w: Int, budget: Int,
        anchorCount: Int, checkRowWrap: Bool = false
    ) -> [Int] {
        let n = objectScores.count
        let anchors = topK(objectScores, k: anchorCount)
        var chosen = Set(anchors)
        for a in anchors {
            var neighbours = [a - w, a + w]
            if !checkRowWrap || a % w != 0 { neighbours.append(a - 1) }
            if !checkRowWrap || a % w != w - 1 { neighbours.append(a + 1) }
            for b in neighbours { chosen.insert(min(max(b, 0), n - 1)) }
        }
        let remaining = max(0, budget - chosen.count)
        let candidates = deepScores.enumerated().filter { !chosen.contains($0.offset) }
        let registers = candidates.sorted {
            $0.element > $1.element || ($0.element == $1.element && $0.offset < $1.offset)
        }
        .prefix(remaining).map(\.offset)
        return (Array(chosen) + registers).sorted()
    }
}

/// VisionZip (Yang et al.): dominant tokens by CLS attention plus contextual tokens that merge
/// the rest by key similarity. Towers without a CLS token (SigLIP) rank patches by the attention
/// they receive instead (``reduce(scores:hidden:keys:dominant:contextual:)``).
public enum VisionZip {
    /// The reduced tokens and which originals were kept as they are.
    public struct Result: Sendable {
        /// The dominant rows in original order, then the contextual rows: `dominant + contextual`
        /// tokens (`[CLS, dominant…, contextual…]` for the CLS form).
        public var tokens: Tensor
        /// Kept original indices of the dominant tokens, sorted (CLS (0) included in the CLS form).
        public var dominantIndices: [Int]
    }

    /// VisionZip on a tower with a CLS token.
    /// - Parameters:
    ///   - clsAttention: `[H, N+1]` attention of the CLS query (layer −2).
    ///   - hidden: `[N+1, C]` hidden states; `keys`: `[N+1, Ck]` head-averaged keys.
    ///   - dominant: tokens kept by attention, CLS included; `contextual`: merged tokens.
    public static func reduce(clsAttention: Tensor, hidden: Tensor, keys: Tensor, dominant: Int, contextual: Int)
        -> Result
    {
        let (h, total) = (clsAttention.shape[0], clsAttention.shape[1])
        var score = [Float](repeating: 0, count: total - 1)
        for head in 0..<h { for j in 1..<total { score[j - 1] += clsAttention.scalars[head * total + j] } }
        let patches = reduce(
            scores: score, hidden: hidden.slice(axis: 0, 1..<total), keys: keys.slice(axis: 0, 1..<total),
            dominant: dominant - 1, contextual: contextual)
        return Result(
            tokens: Tensor.concatenate([hidden.slice(axis: 0, 0..<1), patches.tokens], axis: 0),
            dominantIndices: [0] + patches.dominantIndices.map { $0 + 1 })
    }

    /// VisionZip over patch tokens ranked by a score (CLS attention, or for CLS-less towers the
    /// attention each patch receives: column means of the attention, summed or averaged over
    /// heads — the ranking is the same).
    /// - Parameters:
    ///   - scores: `[N]` importance of each patch.
    ///   - hidden: `[N, C]` patch hidden states; `keys`: `[N, Ck]` head-averaged patch keys.
    ///   - dominant: patches kept by score; `contextual`: tokens that merge the rest: targets
    ///     `rest[::step][:contextual]`, `step = max(1, |rest| / contextual)`, each other patch
    ///     joins its most key-similar target, target row + mean of its members.
    public static func reduce(scores: [Float], hidden: Tensor, keys: Tensor, dominant: Int, contextual: Int) -> Result {
        let n = hidden.shape[0], c = hidden.shape[1]
        let dominantIndices = TokenPruning.topK(scores, k: dominant)
        let kept = Set(dominantIndices)
        let rest = (0..<n).filter { !kept.contains($0) }
        var rows = dominantIndices.flatMap { i in Array(hidden.scalars[(i * c)..<((i + 1) * c)]) }
        if contextual > 0 && !rest.isEmpty {
            let step = max(1, rest.count / contextual)
            let targets = Array(stride(from: 0, to: rest.count, by: step).prefix(contextual))
            let targetSet = Set(targets)
            let unit = keys.rowNormalized()
            let ck = keys.shape[1]
            var sums = [Float](repeating: 0, count: targets.count * c),
                counts = [Float](repeating: 0, count: targets.count)
            for (position, token) in rest.enumerated() where !targetSet.contains(position) {
                var best = 0, bestSim = -Float.infinity
                for (t, target) in targets.enumerated() {
                    var s: Float = 0
                    for j in 0..<ck { s += unit.scalars[token * ck + j] * unit.scalars[rest[target] * ck + j] }
                    if s > bestSim { bestSim = s; best = t }
                }
                counts[best] += 1
                for j in 0..<c { sums[best * c + j] += hidden.scalars[token * c + j] }
            }
            for (t, target) in targets.enumerated() {
                let token = rest[target]
                rows += (0..<c).map { j in hidden.scalars[token * c + j] + sums[t * c + j] / max(counts[t], 1) }
            }
        }
        return Result(tokens: Tensor(shape: [rows.count / c, c], scalars: rows), dominantIndices: dominantIndices)
    }
}

extension Tensor {
    /// Rows divided by their L2 norm; zero rows stay zero.
    func rowNormalized() -> Tensor { l2Normalized(eps: .leastNonzeroMagnitude) }
}
