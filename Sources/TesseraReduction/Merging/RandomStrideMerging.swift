// ToMe for Stable Diffusion (Bolya & Hoffman 2023), following dbolya/tomesd `tomesd/merge.py`
// (`bipartite_soft_matching_random2d`):
//
// the token grid (h × w, raster order) is cut into sy × sx cells; one token per whole cell is a
// destination (random, or the top-left one with `no_rand`), every other token — including the
// rows/columns left over when sx, sy do not divide w, h — is a source. Each source's most similar
// destination (cosine of the metric, usually the hidden states) is its candidate; the
// `r = min(r, #sources)` sources with the highest similarity merge into their candidates
// (`scatter_reduce(mode="mean")`, so a merged destination is the plain mean of its members).
// Output order: the unmerged sources (by descending similarity), then the destinations.
// `unmerge` copies each output back to all its members, restoring the length.
//
// tomesd draws the cell choices with `torch.randint` and splits dst|src with torch's unstable
// argsort, so its destination block is in an arbitrary order. Here the destinations are in raster
// order and the choices come from a seeded generator (or are given explicitly); the reference test
// feeds torch's choices in and compares against tomesd with its destination rows put in raster
// order (a permutation; unmerged outputs are identical).
import TesseraCore

/// tomesd's random 2D bipartite matching: one destination per stride cell, `r` sources merged.
public struct RandomStrideMatching: Sendable, Equatable {
    /// How the destination of each sy × sx cell is chosen.
    public enum Choice: Sendable, Equatable {
        /// The top-left token of every cell (`no_rand=True`).
        case topLeft
        /// A reproducible random choice: for each cell in raster order, a 64-bit LCG step
        /// (`state = state·6364136223846793005 + 1442695040888963407`, choice `(state >> 33) mod (sx·sy)`).
        case seeded(UInt64)
        /// Explicit choices, one per cell in raster order, each `dy·sx + dx` in `0..<sx·sy`.
        case explicit([Int])
    }

    /// Grid width and height in tokens, and the cell size (`strideX × strideY` tokens, one destination each).
    public let width: Int, height: Int, strideX: Int, strideY: Int
    /// Tokens merged away (after clamping to the number of sources).
    public let r: Int
    /// Original indices of the destination tokens, raster order (the last outputs).
    public let destinations: [Int]
    /// Original indices of the source tokens, raster order.
    public let sources: [Int]
    /// Original indices of the sources that stay, in output order (descending similarity).
    public let unmerged: [Int]
    /// Original indices of the merged sources (descending similarity) and the destination each joins.
    public let merged: [Int], mergedInto: [Int]
    /// Where every token goes: outputs `[unmerged…, destinations…]`.
    public let mergeMap: MergeMap

    /// `r = int(N · ratio)`, tomesd's token count for a merge ratio (default 0.5).
    public static func tokenCount(_ n: Int, ratio: Double) -> Int { Int(Double(n) * ratio) }

    /// The destination choice per cell in raster order for a seed (``Choice/seeded(_:)``).
    public static func seededChoices(cells: Int, cellSize: Int, seed: UInt64) -> [Int] {
        var state = seed
        return (0..<cells).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int((state >> 33) % UInt64(cellSize))
        }
    }

    /// `bipartite_soft_matching_random2d(metric, w, h, sx, sy, r, no_rand)`.
    /// - Parameters:
    ///   - metric: `[N, C]`, `N = width · height`, raster order.
    ///   - r: tokens to remove; `r ≤ 0` is the identity map (as upstream's `do_nothing`).
    /// - Throws: ``ReductionError`` for a metric that is not `[w·h, C]`, strides < 1 or larger
    ///   than the grid, or explicit choices of the wrong count or range.
    public init(
        metric: Tensor, width: Int, height: Int, strideX: Int = 2, strideY: Int = 2, r requested: Int,
        choice: Choice = .seeded(0)
    ) throws {
        try ReductionError.requireRank2(metric, "metric")
        let n = width * height
        guard width > 0, height > 0, metric.shape[0] == n else {
            throw ReductionError.shape("metric \(metric.shape) is not [\(width)·\(height), C]")
        }
        guard strideX >= 1, strideY >= 1, strideX <= width, strideY <= height else {
            throw ReductionError.parameter("stride \(strideX)×\(strideY) on a \(width)×\(height) grid")
        }
        self.width = width; self.height = height; self.strideX = strideX; self.strideY = strideY
        let (hsy, wsx) = (height / strideY, width / strideX)
        let cells = hsy * wsx, cellSize = strideX * strideY
        let picks: [Int]
        switch choice {
        case .topLeft: picks = [Int](repeating: 0, count: cells)
        case .seeded(let seed): picks = Self.seededChoices(cells: cells, cellSize: cellSize, seed: seed)
        case .explicit(let list):
            guard list.count == cells, list.allSatisfy({ (0..<cellSize).contains($0) }) else {
                throw ReductionError.parameter("need \(cells) choices in 0..<\(cellSize), got \(list.count)")
            }
            picks = list
        }
        var isDestination = [Bool](repeating: false, count: n)
        for cy in 0..<hsy {
            for cx in 0..<wsx {
                let pick = picks[cy * wsx + cx]
                isDestination[(cy * strideY + pick / strideX) * width + cx * strideX + pick % strideX] = true
            }
        }
        let destinations = (0..<n).filter { isDestination[$0] }
        let sources = (0..<n).filter { !isDestination[$0] }
        self.destinations = destinations
        self.sources = sources
        r = min(sources.count, requested)
        guard r > 0 else {
            unmerged = sources; merged = []; mergedInto = []
            mergeMap = .identity(n)
            return
        }
        let unit = metric.rowNormalized()
        let scores = unit.indexSelect(axis: 0, sources).matmul(
            unit.indexSelect(axis: 0, destinations), transposeB: true)
        let nd = destinations.count
        var nodeMax = [Float](repeating: -.infinity, count: sources.count),
            nodeIdx = [Int](repeating: 0, count: sources.count)
        for a in 0..<sources.count {
            for b in 0..<nd where b == 0 || scores.scalars[a * nd + b] > nodeMax[a] {
                nodeMax[a] = scores.scalars[a * nd + b]; nodeIdx[a] = b
            }
        }
        let order = sources.indices.sorted { nodeMax[$0] > nodeMax[$1] || (nodeMax[$0] == nodeMax[$1] && $0 < $1) }
        let srcOrder = Array(order.prefix(r)), unmOrder = Array(order.dropFirst(r))
        unmerged = unmOrder.map { sources[$0] }
        merged = srcOrder.map { sources[$0] }
        mergedInto = srcOrder.map { destinations[nodeIdx[$0]] }
        var slots = [Int](repeating: 0, count: n)
        for (position, a) in unmOrder.enumerated() { slots[sources[a]] = position }
        for (b, d) in destinations.enumerated() { slots[d] = unmOrder.count + b }
        for a in srcOrder { slots[sources[a]] = unmOrder.count + nodeIdx[a] }
        mergeMap = MergeMap(unchecked: slots, outputCount: n - r)
    }

    /// Number of tokens after merging.
    public var outputCount: Int { mergeMap.outputCount }

    /// tomesd's `merge(x)` (mode "mean"): `[N, C]` → `[N − r, C]`.
    public func merge(_ x: Tensor) -> Tensor { mergeMap.mergeMean(x) }

    /// tomesd's `unmerge(y)`: `[N − r, C]` → `[N, C]`, each token receiving its slot's row.
    public func unmerge(_ y: Tensor) -> Tensor { mergeMap.unmerge(y) }
}
