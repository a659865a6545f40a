// HiRED (Arif et al., "HiRED: Attention-Guided Token Dropping for Efficient Inference of
// High-Resolution Vision-Language Models"), following hasanar1f/HiRED
// `modeling_llava_next.py` (`HiRED_token_selection`, `HiRED_sub_img_budgets`):
//
// partitions = the full-image view + the high-resolution tiles, N tokens each;
// total = int(P·N·rate); full = min(int(total·α), N); tiles = min(total − full, (P−1)·N);
// the full view keeps its top `full` tokens by the late layer's CLS attention; the tile budget is
// split in proportion to how many of the full view's top int(N·(1−α)) early-layer (layer 0)
// CLS-attention tokens fall inside each tile; each tile keeps its top tokens by its own late CLS
// attention. Scores are CLS attention summed over heads.
//
// Tiles are 2D blocks of the full view's grid here (upstream reshapes the flat token list into
// raster bands: `TileLayout.rasterBands`). Upstream truncates each tile's share
// (`(ratio·budget).int()` in float32), so the tiles can keep fewer than their budget:
// `Rounding.floor`; `Rounding.largestRemainder` meets the budget exactly.
import TesseraCore

/// HiRED: attention-guided budget allocation across high-resolution tiles, then per-partition top-k.
public enum HiRED {
    /// How the full view's grid is divided among the tiles.
    public enum TileLayout: Sendable {
        /// 2D blocks: a token belongs to the tile that holds its centre (tile (r, c) covers grid
        /// rows `r·H/R ..< (r+1)·H/R` and the matching columns when R and C divide the grid).
        case blocks
        /// Upstream's reshape of the raster token list into `R·C` equal bands.
        case rasterBands
    }

    /// How tile shares are turned into whole token counts.
    public enum Rounding: Sendable {
        /// `int(share · budget)` in float32, as upstream (the sum may fall short of the budget).
        case floor
        /// Floor of the exact share, then the leftover tokens to the largest remainders (ties:
        /// lower tile first): the tile budget is met exactly while capacity allows.
        case largestRemainder
    }

    /// Kept tokens per partition.
    public struct Result: Sendable, Equatable {
        /// Tokens kept in each partition: the full view first, then the tiles in raster order.
        public var budgets: [Int]
        /// Kept token indices per partition (same order as `budgets`), each sorted ascending.
        public var kept: [[Int]]
        /// Early-layer top tokens of the full view that fall in each tile.
        public var tileShares: [Int]
        /// The total budget `int(P·N·rate)`.
        public var totalBudget: Int
    }

    /// Patch scores summed over heads: `attention` is `[H, T]`, one row per head (the CLS row of
    /// each head, or for encoders without CLS the attention each token receives); the last
    /// `patches` columns are the patches.
    public static func patchScores(_ attention: Tensor, patches: Int) throws -> [Float] {
        try ReductionError.requireRank2(attention, "attention")
        let (h, t) = (attention.shape[0], attention.shape[1])
        guard patches >= 0 && patches <= t else {
            throw ReductionError.shape("\(patches) patches in a row of \(t) keys")
        }
        return (0..<patches).map { j in (0..<h).reduce(Float(0)) { $0 + attention.scalars[$1 * t + (t - patches + j)] }
        }
    }

    /// The former name of ``patchScores(_:patches:)``.
    @available(*, deprecated, renamed: "patchScores(_:patches:)")
    public static func clsScores(_ clsAttention: Tensor, patches: Int) throws -> [Float] {
        try patchScores(clsAttention, patches: patches)
    }

    /// Which tile (raster index) each of the full view's `gridHeight × gridWidth` tokens falls in.
    public static func tileOf(gridHeight: Int, gridWidth: Int, tileRows: Int, tileColumns: Int, layout: TileLayout)
        -> [Int]
    {
        let n = gridHeight * gridWidth, tiles = tileRows * tileColumns
        return (0..<n).map { i in
            switch layout {
            case .rasterBands:
                return i * tiles / n
            case .blocks:
                // the tile holding the token's centre (grids that the tiles do not divide, e.g.
                // 4 columns into 3 tiles, split by geometry rather than by flooring)
                let (y, x) = (i / gridWidth, i % gridWidth)
                return ((2 * y + 1) * tileRows / (2 * gridHeight)) * tileColumns + (2 * x + 1) * tileColumns
                    / (2 * gridWidth)
            }
        }
    }

    /// Selects tokens in the full view and the tiles.
    /// - Parameters:
    ///   - fullEarly: `[N]` full-view CLS scores of the early layer (upstream: layer 0).
    ///   - fullLate: `[N]` full-view CLS scores of the late layer (upstream: layer 22 of 24).
    ///   - tilesLate: `[R·C][N]` late-layer CLS scores of each tile, raster order.
    ///   - gridWidth: width of the token grid (N = height × width).
    ///   - tileRows, tileColumns: tile grid over the image (LLaVA-NeXT anyres: e.g. 2 × 2).
    ///   - budgetRate: fraction of all `P·N` tokens kept (upstream default in the paper: 0.2).
    ///   - alpha: share of the total budget given to the full view (0.5).
    /// - Throws: ``ReductionError`` for mismatched lengths, a grid that does not hold N tokens,
    ///   more tile rows/columns than grid rows/columns, or `budgetRate`/`alpha` outside [0, 1].
    public static func select(
        fullEarly: [Float], fullLate: [Float], tilesLate: [[Float]], gridWidth: Int,
        tileRows: Int, tileColumns: Int, budgetRate: Double = 0.2, alpha: Double = 0.5,
        layout: TileLayout = .blocks, rounding: Rounding = .floor
    ) throws -> Result {
        let n = fullLate.count
        guard n > 0, fullEarly.count == n, tilesLate.allSatisfy({ $0.count == n }) else {
            throw ReductionError.shape("every partition needs the same N > 0 scores")
        }
        guard gridWidth > 0, n % gridWidth == 0 else {
            throw ReductionError.shape("\(n) tokens do not fill rows of \(gridWidth)")
        }
        let gridHeight = n / gridWidth
        guard tileRows >= 1, tileColumns >= 1, tileRows <= gridHeight, tileColumns <= gridWidth else {
            throw ReductionError.parameter("\(tileRows)×\(tileColumns) tiles on a \(gridHeight)×\(gridWidth) grid")
        }
        let tiles = tileRows * tileColumns
        guard tilesLate.count == tiles else {
            throw ReductionError.shape("\(tilesLate.count) tile score rows for \(tiles) tiles")
        }
        guard (0...1).contains(budgetRate), (0...1).contains(alpha) else {
            throw ReductionError.parameter("budgetRate \(budgetRate) and alpha \(alpha) must lie in [0, 1]")
        }
        let p = tiles + 1
        let total = Int(Double(p * n) * budgetRate)
        let full = min(Int(Double(total) * alpha), n)
        let tileBudget = min(total - full, tiles * n)
        var budgets = [full] + [Int](repeating: 0, count: tiles)
        var kept = [TokenPruning.topK(fullLate, k: full)]
        var shares = [Int](repeating: 0, count: tiles)
        if tileBudget > 0 {
            let spatial = TokenPruning.topK(fullEarly, k: Int(Double(n) * (1 - alpha)))
            let tile = tileOf(
                gridHeight: gridHeight, gridWidth: gridWidth, tileRows: tileRows, tileColumns: tileColumns,
                layout: layout)
            for i in spatial { shares[tile[i]] += 1 }
            let shareTotal = shares.reduce(0, +)
            // no early-layer tokens at all (α = 1): split evenly (upstream divides by zero)
            let weights = shareTotal > 0 ? shares : [Int](repeating: 1, count: tiles)
            let weightTotal = weights.reduce(0, +)
            switch rounding {
            case .floor:
                for t in 0..<tiles {
                    let ratio = Float(weights[t]) / Float(weightTotal)
                    budgets[t + 1] = min(Int(ratio * Float(tileBudget)), n)
                }
            case .largestRemainder:
                var remainders: [(Int, Int)] = []
                for t in 0..<tiles {
                    let q = tileBudget * weights[t]
                    budgets[t + 1] = min(q / weightTotal, n)
                    remainders.append((q % weightTotal, t))
                }
                var left = min(tileBudget, tiles * n) - budgets.dropFirst().reduce(0, +)
                let order = remainders.sorted { $0.0 > $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) }.map(\.1)
                while left > 0 {
                    for t in order where left > 0 && budgets[t + 1] < n { budgets[t + 1] += 1; left -= 1 }
                }
            }
            for t in 0..<tiles { kept.append(TokenPruning.topK(tilesLate[t], k: budgets[t + 1])) }
        } else {
            kept += [[Int]](repeating: [], count: tiles)
        }
        return Result(budgets: budgets, kept: kept, tileShares: shares, totalBudget: total)
    }
}
