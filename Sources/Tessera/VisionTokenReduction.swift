// The LLaVA-style token reduction pipeline: run a CLIP/SigLIP vision tower on an image (or the
// frames of a video), take the patch features of one layer and keep or merge them with one of
// TesseraReduction's methods, returning the reduced features with the original positions.
// `tessera prune` is a thin command-line layer over this file.
import Foundation

// MARK: - Options

/// The reduction methods the pipeline runs on a vision tower.
public enum TokenReductionMethod: String, CaseIterable, Sendable {
    /// DivPrune / ToDRE k-center diversity on the features.
    case divprune
    /// VisionZip: dominant tokens by CLS attention + contextual merges (54:10).
    case visionzip
    /// HiPrune: anchors, buffers and registers from attention received.
    case hiprune
    /// Evenly spaced patches.
    case uniform
    /// Random patches (seeded).
    case random
    /// LLaVA-PruMerge: IQR outliers of the last layer's CLS attention, merged with neighbours.
    case prumerge
    /// PruMerge+: PruMerge plus spatially uniform samples.
    case prumergePlus = "prumerge+"
    /// TransPrune's token transition variation (no text term).
    case transprune
    /// HiRED: top CLS-attention tokens of the full view and, with tiles, of high-resolution tiles.
    case hired
    /// ToMe inside the tower's forward pass (r tokens merged per layer).
    case tome
    /// Video: ToMe inside every frame's forward pass, then TempMe merging of neighbouring clips across time.
    case tempme

    /// Methods that rank patches by the CLS token's attention. On towers without a CLS token
    /// (SigLIP) they use the attention each patch receives instead (mean over all query rows),
    /// the stand-in the methods' follow-ups use for CLS-less encoders (Qwen2-VL, SigLIP).
    public var readsClassAttention: Bool { [.visionzip, .prumerge, .prumergePlus, .hired].contains(self) }
    @available(*, deprecated, renamed: "readsClassAttention", message: "every method now runs on towers without a CLS token")
    public var needsClassToken: Bool { readsClassAttention }
    /// Methods that merge (and so report slots and sizes).
    public var merges: Bool { self == .tome || self == .tempme }
}

/// A tile grid over the image (HiRED's high-resolution partitions, LLaVA-NeXT's anyres grid).
public struct TileGrid: Sendable, Equatable {
    public var rows: Int
    public var columns: Int
    public init(rows: Int, columns: Int) { self.rows = rows; self.columns = columns }
    public var count: Int { rows * columns }

    /// LLaVA-NeXT's default `image_grid_pinpoints` (336×672, 672×336, 672×672, 1008×336,
    /// 336×1008 as height × width) in tiles of the tower's input size.
    public static let llavaNext = [TileGrid(rows: 1, columns: 2), TileGrid(rows: 2, columns: 1), TileGrid(rows: 2, columns: 2),
                                   TileGrid(rows: 3, columns: 1), TileGrid(rows: 1, columns: 3)]

    /// LLaVA-NeXT's `select_best_resolution`: the grid that keeps the most of the image's
    /// pixels once the image is scaled to fit it, ties going to the least padding.
    /// - Precondition: `grids` is not empty.
    public static func bestFit(width: Int, height: Int, tileSize s: Int, among grids: [TileGrid] = llavaNext) -> TileGrid {
        precondition(!grids.isEmpty, "bestFit needs at least one tile grid")
        var best = grids[0], bestEffective = 0, leastWasted = Int.max
        for grid in grids {
            let (w, h) = (grid.columns * s, grid.rows * s)
            let scale = min(Double(w) / Double(width), Double(h) / Double(height))
            let effective = min(Int(Double(width) * scale) * Int(Double(height) * scale), width * height)
            let wasted = w * h - effective
            if effective > bestEffective || (effective == bestEffective && wasted < leastWasted) {
                (best, bestEffective, leastWasted) = (grid, effective, wasted)
            }
        }
        return best
    }
}

/// What to reduce and how.
public struct TokenReductionOptions: Sendable {
    public var method: TokenReductionMethod
    /// Patch tokens to keep (optional for prumerge/prumerge+ (adaptive), tome (given `r`), hired with tiles and tempme).
    public var keep: Int?
    /// Layer whose hidden states are the features; negative counts from the end (LLaVA: −2).
    public var layer: Int
    /// Seed of `random`.
    public var seed: UInt64
    /// ToMe / TempMe: tokens merged per layer (constant, or ramped with `inflect`).
    public var r: Int?
    /// ToMe's schedule inflection (`parse_r`): 0 = constant r.
    public var inflect: Double
    /// HiRED: high-resolution tiles (crops run through the tower) besides the full view.
    public var tiles: TileGrid?
    /// HiRED: choose the tile grid per image among these, as LLaVA-NeXT's anyres does
    /// (``TileGrid/bestFit(width:height:tileSize:among:)``; used when `tiles` is nil).
    public var tileChoices: [TileGrid] = []
    /// Whether HiRED runs on high-resolution tiles.
    public var usesTiles: Bool { tiles != nil || !tileChoices.isEmpty }
    /// HiRED: share of all tokens kept and the full view's share of it (upstream 0.2 and 0.5).
    public var budgetRate: Double
    public var alpha: Double
    /// TempMe: clips merged per stage (product must divide the frame count); empty = the frame
    /// count's prime factors, smallest first (12 → 2, 2, 3 as upstream).
    public var groups: [Int]
    /// TempMe: proportions merged across clips and inside the merged clip at each stage.
    public var crossProportion: Double
    public var intraProportion: Double

    public init(method: TokenReductionMethod, keep: Int? = nil, layer: Int = -2, seed: UInt64 = 0, r: Int? = nil,
                inflect: Double = 0, tiles: TileGrid? = nil, budgetRate: Double = 0.2, alpha: Double = 0.5,
                groups: [Int] = [], crossProportion: Double = 0.3, intraProportion: Double = 0.1) {
        self.method = method
        self.keep = keep
        self.layer = layer
        self.seed = seed
        self.r = r
        self.inflect = inflect
        self.tiles = tiles
        self.budgetRate = budgetRate
        self.alpha = alpha
        self.groups = groups
        self.crossProportion = crossProportion
        self.intraProportion = intraProportion
    }
}

/// Why a reduction request cannot run on this tower.
public struct TokenReductionError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

// MARK: - Result

/// Reduced tokens of one image (or one video) with where they came from.
public struct ReducedVisionTokens: Sendable {
    /// `[M, C]` reduced features (rows with an index first, in index order; then any rows without
    /// one: VisionZip's contextual tokens, PruMerge's sum of the pruned tokens).
    public var features: Tensor
    /// Original patch index of each indexed feature row, ascending. For merges, the smallest
    /// patch index of the merged group. Video: `frame · N + patch`. HiRED tiles: see `partitions`.
    public var indices: [Int]
    /// `(t, h, w)` of every index (t = frame; HiRED tiles: h, w on the high-resolution grid).
    public var positions: [[Int]]
    /// Merges: the feature row of every patch (`[N]`, video `[F · N]`).
    public var slots: [Int]?
    /// Merges: how many patches every feature row holds.
    public var sizes: [Float]?
    /// HiRED with tiles: the partition of every index (0 = full view, 1… = tiles in raster order);
    /// indices are then local to their partition's grid.
    public var partitions: [Int]?
    /// Patch grid of one view (`grid × grid`).
    public var grid: Int
    /// Number of patches the reduction started from.
    public var inputTokens: Int
}

// MARK: - Pipeline

/// Runs a vision tower and one reduction method (see ``TokenReductionMethod``).
public struct VisionTokenReducer: Sendable {
    public let tower: VisionTower
    public let options: TokenReductionOptions
    /// The hidden-state block the features come from (0-based).
    public let block: Int

    public var grid: Int { tower.config.grid }
    public var patches: Int { grid * grid }

    /// Validates the options against the tower.
    /// - Throws: ``TokenReductionError`` naming the problem (keep out of range, missing or
    ///   impossible r, bad layer, bad tiles).
    public init(tower: VisionTower, options: TokenReductionOptions) throws {
        self.tower = tower
        self.options = options
        let depth = tower.config.layers, o = options, m = o.method
        let block = o.layer < 0 ? depth + o.layer : o.layer
        guard block >= 0 && block < depth else {
            throw TokenReductionError("layer \(o.layer) is outside the tower's \(depth) layers (use 0..<\(depth) or -\(depth)...-1)")
        }
        self.block = block
        let n = tower.config.grid * tower.config.grid
        if let keep = o.keep, !(keep >= 1 && keep <= n) {
            throw TokenReductionError("keep \(keep) is outside 1...\(n) (the tower has \(n) patch tokens)")
        }
        if o.r != nil && !m.merges { throw TokenReductionError("r only applies to tome and tempme") }
        if o.usesTiles && m != .hired { throw TokenReductionError("tiles only apply to hired") }
        switch m {
        case .prumerge, .prumergePlus:
            break
        case .tome:
            guard o.r != nil || o.keep != nil else { throw TokenReductionError("tome needs r (tokens merged per layer) or keep") }
            guard o.r == nil || o.keep == nil else { throw TokenReductionError("tome takes r or keep, not both") }
            if let r = o.r { try Self.checkR(r, tokens: n + tower.prefixTokens, protected: tower.prefixTokens) }
            if let keep = o.keep, o.r == nil, Self.constantR(forKeep: keep, tower: tower, block: block) == nil {
                throw TokenReductionError("keep \(keep): ToMe cannot merge below \(Self.minimumTokens(tower: tower, block: block)) patch tokens by layer \(o.layer) (it merges at most half the tokens per layer)")
            }
        case .tempme:
            guard let r = o.r else { throw TokenReductionError("tempme needs r (tokens merged per layer inside every frame)") }
            guard o.keep == nil else { throw TokenReductionError("keep does not apply to tempme (its budget follows from r, groups and proportions)") }
            try Self.checkR(r, tokens: n + tower.prefixTokens, protected: tower.prefixTokens)
            guard o.groups.allSatisfy({ $0 >= 1 }) else { throw TokenReductionError("tempme groups must be ≥ 1") }
            guard (0...1).contains(o.crossProportion), (0...1).contains(o.intraProportion) else {
                throw TokenReductionError("tempme proportions must lie in [0, 1]")
            }
        case .hired:
            if o.usesTiles {
                guard o.keep == nil else { throw TokenReductionError("hired with tiles sets its budget from the budget rate and alpha, not keep") }
                for t in (o.tiles.map { [$0] } ?? o.tileChoices) {
                    guard t.rows >= 1, t.columns >= 1, t.rows <= grid(tower), t.columns <= grid(tower) else {
                        throw TokenReductionError("tiles \(t.rows)x\(t.columns) do not fit the \(grid(tower))x\(grid(tower)) patch grid")
                    }
                }
                guard (0...1).contains(o.budgetRate), (0...1).contains(o.alpha) else {
                    throw TokenReductionError("budget rate \(o.budgetRate) and alpha \(o.alpha) must lie in [0, 1]")
                }
            } else if o.keep == nil {
                throw TokenReductionError("hired needs keep (single view) or tiles")
            }
        default:
            guard o.keep != nil else { throw TokenReductionError("\(m.rawValue) needs keep (tokens to keep per image)") }
        }
        func grid(_ t: VisionTower) -> Int { t.config.grid }
    }

    static func checkR(_ r: Int, tokens: Int, protected: Int) throws {
        let most = (tokens - protected) / 2
        guard r >= 0 else { throw TokenReductionError("r \(r) must be ≥ 0") }
        guard r <= most else {
            throw TokenReductionError("r \(r) is too large: ToMe merges at most half the \(tokens - protected) mergeable tokens per layer (r ≤ \(most))")
        }
    }

    /// Patch tokens left at `block` by the largest constant r.
    static func minimumTokens(tower: VisionTower, block: Int) -> Int {
        let p = tower.prefixTokens, t = tower.config.grid * tower.config.grid + p
        return TokenMerging(r: t, layers: tower.config.layers).tokenCounts(tokens: t, protected: p, layers: block + 1).last! - p
    }

    /// The smallest constant r that leaves at most `keep` patch tokens after `block`.
    static func constantR(forKeep keep: Int, tower: VisionTower, block: Int) -> Int? {
        let p = tower.prefixTokens, t = tower.config.grid * tower.config.grid + p
        for r in 0...((t - p) / 2) {
            let left = TokenMerging(r: r, layers: tower.config.layers).tokenCounts(tokens: t, protected: p, layers: block + 1).last! - p
            if left <= keep { return r }
        }
        return nil
    }

    /// The ToMe schedule the options ask for.
    public var mergingSchedule: TokenMerging? {
        guard options.method.merges else { return nil }
        let r = options.r ?? options.keep.flatMap { Self.constantR(forKeep: $0, tower: tower, block: block) } ?? 0
        return TokenMerging(r: r, inflect: options.inflect, layers: tower.config.layers)
    }

    /// Checks that a LLaVA projector takes the tower's width.
    public func check(projector: LLaVAProjector) throws {
        guard projector.inputWidth == tower.config.hiddenSize else {
            throw TokenReductionError("the projector takes \(projector.inputWidth) channels; the tower gives \(tower.config.hiddenSize)")
        }
    }

    /// `[1, 3, S, S]` model input of an image.
    public func pixels(_ image: Image) -> Tensor {
        let t = tower.processor.tensor(image)
        return t.reshaped([1] + t.shape)
    }

    /// Reduces one image's tokens.
    public func reduce(_ image: Image) throws -> ReducedVisionTokens {
        if options.method == .hired, options.usesTiles {
            let tiles = tileGrid(for: image)
            return try reduceHiRED(full: baseView(image), tiles: tileViews(image, tiles), grid: tiles,
                                   imageSize: (image.width, image.height))
        }
        guard options.method != .tempme else { throw TokenReductionError("tempme merges across video frames; give it a video") }
        return try reduce(pixels: pixels(image))
    }

    /// Reduces the tokens of `[1, 3, S, S]` pixels (single view).
    public func reduce(pixels: Tensor) throws -> ReducedVisionTokens {
        let config = tower.config, prefix = tower.prefixTokens, n = patches, depth = config.layers
        let o = options
        if o.method == .tome { return try reduceToMe(pixels) }
        if o.method == .hired, o.usesTiles { throw TokenReductionError("hired with tiles needs the image, not pixels") }
        let adaptive = o.method == .prumerge || o.method == .prumergePlus
        // PruMerge takes q, k from the last layer, whose input is hidden_states[-2]
        let layersToRun = adaptive ? max(block + 1, depth - 1) : block + 1
        let stats: AttentionStatistics = switch o.method {
        case .visionzip, .hired: importanceStatistics
        case .hiprune: .columnMeans
        default: .none
        }
        let out = tower.forward(pixels, layerCount: layersToRun, statistics: stats)
        let hidden = out.hiddenStates[block + 1].reshaped(Array(out.hiddenStates[block + 1].shape.dropFirst()))   // [T, C]
        let features = hidden.slice(axis: 0, prefix..<(prefix + n))
        let layers = tower.layers
        let keep = o.keep ?? 0
        var kept: [Int]
        var reduced: Tensor? = nil
        switch o.method {
        case .uniform: kept = TokenPruning.uniform(n: n, k: keep)
        case .random: kept = TokenPruning.random(n: n, k: keep, seed: o.seed)
        case .divprune: kept = TokenPruning.divPrune(features, k: keep).kept
        case .prumerge, .prumergePlus:
            let last = depth - 1, d = config.hiddenSize
            let x = out.hiddenStates[last]
            let qkv = layers[last].attention.qkv(layers[last].norm1(x))        // [1, T, 3D]
            let tokens = qkv.shape[1]
            let q = qkv.slice(axis: 2, 0..<d).reshaped([tokens, d])
            let k = qkv.slice(axis: 2, d..<(2 * d)).reshaped([tokens, d])
            let attention = tower.hasClassToken ? try PruMerge.clsAttention(queries: q, keys: k)
                                                : try PruMerge.receivedAttention(queries: q, keys: k)
            let r = try PruMerge.reduce(features: features, keys: k.slice(axis: 0, prefix..<(prefix + n)), attention: attention,
                                        variant: o.method == .prumerge ? .pruMerge : .pruMergePlus, keep: o.keep)
            reduced = r.tokens
            kept = r.kept
        case .transprune:
            // TTV per block: attention sublayer (norm1(x) → attention) and MLP sublayer (norm2(x + attn) → mlp)
            var accumulator = TransPrune.Accumulator(tokens: hidden.shape[0])
            for l in 0...block {
                let x = out.hiddenStates[l], tokens = x.shape[1], d = x.shape[2]
                let b1 = layers[l].norm1(x)
                var (a1, _) = layers[l].attention(b1)
                if let scale = layers[l].layerScale1 { a1 = a1 * scale }
                var mid = x
                mid.add(a1)
                let b2 = layers[l].norm2(mid)
                var a2 = layers[l].mlp(b2)
                if let scale = layers[l].layerScale2 { a2 = a2 * scale }
                try accumulator.add(attentionInput: b1.reshaped([tokens, d]), attentionOutput: a1.reshaped([tokens, d]),
                                    mlpInput: b2.reshaped([tokens, d]), mlpOutput: a2.reshaped([tokens, d]))
            }
            kept = try TransPrune.select(variation: Array(accumulator.variation[prefix..<(prefix + n)]), keep: keep)
        case .hired:
            kept = TokenPruning.topK(try importance(out.attentions[block]), k: keep)
        case .hiprune:
            // attention received per patch (mean over heads and queries), object layer = first
            // third of the tower, deep layer = the feature layer; upstream's α = 0.1 gives
            // round(keep·α/5) anchors, half to even (none up to a budget of 25)
            func received(_ probs: Tensor) -> [Float] {
                let h = probs.shape[1], t = probs.shape[2]
                return (prefix..<t).map { j in (0..<h).reduce(Float(0)) { $0 + probs.scalars[$1 * t + j] } / Float(h) }
            }
            let objectLayer = max(0, block / 3)
            kept = TokenPruning.hiPrune(objectScores: received(out.attentions[objectLayer]), deepScores: received(out.attentions[block]),
                                        gridWidth: grid, budget: keep, anchorCount: Int((Double(keep) * 0.1 / 5).rounded(.toNearestOrEven)))
        case .visionzip:
            let layerInput = out.hiddenStates[block]
            let qkv = layers[block].attention.qkv(layers[block].norm1(layerInput))   // [1, T, 3D]
            let d = config.hiddenSize, h = config.heads, hd = d / h
            let k = qkv.slice(axis: 2, d..<(2 * d)).reshaped([qkv.shape[1], h, hd]).mean(axis: 1)   // head-averaged keys
            let dominant = max(1, keep * 54 / 64), contextual = keep - dominant
            if tower.hasClassToken {
                let attn = out.attentions[block].reshaped([h, out.attentions[block].shape.last!])
                let r = VisionZip.reduce(clsAttention: attn, hidden: hidden, keys: k, dominant: dominant + 1, contextual: contextual)
                // drop the CLS row from the output features; indices are the dominant patches
                reduced = r.tokens.slice(axis: 0, 1..<r.tokens.shape[0])
                kept = r.dominantIndices.dropFirst().map { $0 - 1 }
            } else {
                let r = VisionZip.reduce(scores: try importance(out.attentions[block]), hidden: features, keys: k,
                                         dominant: dominant, contextual: contextual)
                reduced = r.tokens
                kept = r.dominantIndices
            }
        case .tome, .tempme:
            throw TokenReductionError("\(o.method.rawValue) is not a single-view pruning method")
        }
        return ReducedVisionTokens(features: reduced ?? features.indexSelect(axis: 0, kept), indices: kept,
                                   positions: kept.map { [0, $0 / grid, $0 % grid] }, slots: nil, sizes: nil,
                                   partitions: nil, grid: grid, inputTokens: n)
    }

    /// The attention statistics that rank patches: the CLS row, or for towers without a CLS
    /// token the column means (attention received).
    var importanceStatistics: AttentionStatistics { tower.hasClassToken ? .rows([0]) : .columnMeans }

    /// Head-summed patch importance from ``importanceStatistics`` (`[1, H, 1, T]` or `[1, H, T]`):
    /// the CLS token's attention to each patch, or the attention each patch receives.
    func importance(_ statistics: Tensor) throws -> [Float] {
        let h = statistics.shape[1], t = statistics.shape.last!
        return try HiRED.clsScores(statistics.reshaped([h, t]), patches: patches)
    }

    // MARK: ToMe in the forward pass

    /// Runs the tower with ToMe inside every layer up to the feature layer; the merged patch
    /// tokens are ordered by their smallest patch index.
    func reduceToMe(_ pixels: Tensor) throws -> ReducedVisionTokens {
        let out = tower.forward(pixels, layerCount: block + 1, merging: mergingSchedule!)
        let trace = out.merges!, prefix = tower.prefixTokens, n = patches
        let x = out.hiddenStates[block + 1]
        let hidden = x.reshaped(Array(x.shape.dropFirst()))                  // [prefix + M, C]
        // the CLS token is protected and stays first: patch slots are shifted by the prefix
        let slotOf = trace.slotOf[0].dropFirst(prefix).map { $0 - prefix }
        let sizes = Array(trace.sizes[0].dropFirst(prefix))
        return Self.orderedMerge(hidden.slice(axis: 0, prefix..<hidden.shape[0]), slotOf: slotOf, sizes: sizes,
                                 position: { [0, $0 / self.grid, $0 % self.grid] }, grid: grid, inputTokens: n)
    }

    /// Orders merged rows by their smallest member so the indices come out sorted.
    static func orderedMerge(_ tokens: Tensor, slotOf: [Int], sizes: [Float], position: (Int) -> [Int],
                             grid: Int, inputTokens: Int) -> ReducedVisionTokens {
        let m = tokens.shape[0]
        var first = [Int](repeating: Int.max, count: m)
        for (i, s) in slotOf.enumerated() { first[s] = min(first[s], i) }
        let order = (0..<m).sorted { first[$0] < first[$1] }
        var rank = [Int](repeating: 0, count: m)
        for (position, slot) in order.enumerated() { rank[slot] = position }
        let indices = order.map { first[$0] }
        return ReducedVisionTokens(features: tokens.indexSelect(axis: 0, order), indices: indices,
                                   positions: indices.map(position), slots: slotOf.map { rank[$0] },
                                   sizes: order.map { sizes[$0] }, partitions: nil, grid: grid, inputTokens: inputTokens)
    }

    // MARK: HiRED with tiles

    /// The tile grid for an image: the one asked for, or LLaVA-NeXT's best fit among the choices.
    public func tileGrid(for image: Image) -> TileGrid {
        options.tiles ?? TileGrid.bestFit(width: image.width, height: image.height, tileSize: tower.config.imageSize,
                                          among: options.tileChoices)
    }

    /// LLaVA-NeXT's base view: the whole image resized to `S × S` (aspect not kept), normalized.
    public func baseView(_ image: Image) -> Tensor {
        let t = baseProcessor.tensor(image)
        return t.reshaped([1] + t.shape)
    }

    /// The base view's pixels (for pictures of the selection).
    public func baseViewImage(_ image: Image) -> Image { baseProcessor.prepared(image) }

    var baseProcessor: HFImageProcessor {
        var processor = tower.processor
        processor.resize = .exact(width: tower.config.imageSize, height: tower.config.imageSize)
        processor.crop = nil
        return processor
    }

    /// The high-resolution tiles: ``highResolutionView(_:_:)`` cut into `S × S` crops, raster
    /// order, each normalized as the full view.
    public func tileViews(_ image: Image, _ tiles: TileGrid) -> [Tensor] {
        let p = tower.processor, s = tower.config.imageSize
        let big = highResolutionView(image, tiles)
        var views: [Tensor] = []
        for r in 0..<tiles.rows {
            for c in 0..<tiles.columns {
                let crop = big.cropped(x: c * s, y: r * s, width: s, height: s)
                var unprocessed = p
                unprocessed.resize = .none
                unprocessed.crop = nil
                let t = unprocessed.tensor(crop)
                views.append(t.reshaped([1] + t.shape))
            }
        }
        return views
    }

    /// The canvas the tiles cut up (LLaVA-NeXT `_resize_for_patching` + `_pad_for_patching`):
    /// the image scaled to fit `columns·S × rows·S` with its aspect kept (the long side
    /// filling the canvas, the other `ceil`ed), centred on black.
    public func highResolutionView(_ image: Image, _ tiles: TileGrid) -> Image {
        let s = tower.config.imageSize
        let (width, height) = (tiles.columns * s, tiles.rows * s)
        let scaleW = Double(width) / Double(image.width), scaleH = Double(height) / Double(image.height)
        let (w, h) = scaleW < scaleH ? (width, min(Int((Double(image.height) * scaleW).rounded(.up)), height))
                                     : (min(Int((Double(image.width) * scaleH).rounded(.up)), width), height)
        let resized = image.rgb().resized(width: w, height: h, filter: tower.processor.filter, engine: .pytorch)
        guard (w, h) != (width, height) else { return resized }
        var canvas = Image(width: width, height: height, layout: .rgb)
        let (x0, y0) = ((width - w) / 2, (height - h) / 2)
        for y in 0..<h {
            let src = y * w * 3, dst = ((y0 + y) * width + x0) * 3
            canvas.pixels.replaceSubrange(dst..<(dst + w * 3), with: resized.pixels[src..<(src + w * 3)])
        }
        return canvas
    }

    /// The rows and columns of the `rows × columns` high-resolution token grid that show the
    /// image rather than padding (LLaVA-NeXT's `unpad_image`, which HiRED applies to its masks).
    public static func unpaddedRegion(gridRows: Int, gridColumns: Int, imageWidth: Int, imageHeight: Int) -> (rows: Range<Int>, columns: Range<Int>) {
        let original = Double(imageWidth) / Double(imageHeight), current = Double(gridColumns) / Double(gridRows)
        if original > current {
            let height = Int(Double(imageHeight) * (Double(gridColumns) / Double(imageWidth)))
            let padding = (gridRows - height) / 2
            return (padding..<(gridRows - padding), 0..<gridColumns)
        }
        let width = Int(Double(imageWidth) * (Double(gridRows) / Double(imageHeight)))
        let padding = (gridColumns - width) / 2
        return (0..<gridRows, padding..<(gridColumns - padding))
    }

    /// HiRED across the full view and the tiles: budgets from the full view's layer-0 CLS
    /// attention, top tokens by the feature layer's CLS attention inside every partition
    /// (attention received on towers without CLS); then, as upstream, tile tokens that fall in
    /// the canvas padding are dropped (`unpad_image` on the selection mask).
    func reduceHiRED(full: Tensor, tiles views: [Tensor], grid tiles: TileGrid, imageSize: (width: Int, height: Int)) throws -> ReducedVisionTokens {
        let n = patches, g = grid
        func run(_ pixels: Tensor) throws -> (early: [Float], late: [Float], features: Tensor) {
            let out = tower.forward(pixels, layerCount: block + 1, statistics: importanceStatistics)
            let h = out.hiddenStates[block + 1], prefix = tower.prefixTokens
            return (try importance(out.attentions[0]), try importance(out.attentions[block]),
                    h.reshaped(Array(h.shape.dropFirst())).slice(axis: 0, prefix..<(prefix + n)))
        }
        let fullRun = try run(full)
        let tileRuns = try views.map(run)
        let selection = try HiRED.select(fullEarly: fullRun.early, fullLate: fullRun.late, tilesLate: tileRuns.map(\.late),
                                         gridWidth: g, tileRows: tiles.rows, tileColumns: tiles.columns,
                                         budgetRate: options.budgetRate, alpha: options.alpha)
        let shown = Self.unpaddedRegion(gridRows: tiles.rows * g, gridColumns: tiles.columns * g,
                                        imageWidth: imageSize.width, imageHeight: imageSize.height)
        var rows: [Tensor] = [], indices: [Int] = [], positions: [[Int]] = [], partitions: [Int] = []
        for (p, selected) in selection.kept.enumerated() {
            var kept = selected
            if p > 0 {
                let (tr, tc) = ((p - 1) / tiles.columns, (p - 1) % tiles.columns)
                kept = selected.filter { shown.rows.contains(tr * g + $0 / g) && shown.columns.contains(tc * g + $0 % g) }
                positions += kept.map { [0, tr * g + $0 / g, tc * g + $0 % g] }
            } else {
                positions += kept.map { [0, $0 / g, $0 % g] }
            }
            guard !kept.isEmpty else { continue }
            let source = p == 0 ? fullRun.features : tileRuns[p - 1].features
            rows.append(source.indexSelect(axis: 0, kept))
            indices += kept
            partitions += [Int](repeating: p, count: kept.count)
        }
        guard !rows.isEmpty else { throw TokenReductionError("HiRED kept no tokens (budget rate \(options.budgetRate))") }
        return ReducedVisionTokens(features: Tensor.concatenate(rows, axis: 0), indices: indices, positions: positions,
                                   slots: nil, sizes: nil, partitions: partitions, grid: g, inputTokens: n * (tiles.count + 1))
    }

    // MARK: Video

    /// Reduces the frames of a video. `tempme`: ToMe inside every frame's forward pass (r per
    /// layer) up to the feature layer, then TempMe's merging of neighbouring clips across time
    /// (CLS tokens protected and dropped from the output). Any other method: every frame on its
    /// own, indices `frame · N + patch`, positions `(frame, h, w)`.
    public func reduce(frames: [Image]) throws -> ReducedVisionTokens {
        guard !frames.isEmpty else { throw TokenReductionError("no frames") }
        guard !options.usesTiles else { throw TokenReductionError("hired tiles are for single images, not video frames") }
        let n = patches, g = grid
        guard options.method == .tempme else {
            var rows: [Tensor] = [], indices: [Int] = [], positions: [[Int]] = [], slots: [Int] = [], sizes: [Float] = []
            for (f, frame) in frames.enumerated() {
                let r = try reduce(frame)
                let offset = rows.reduce(0) { $0 + $1.shape[0] }
                rows.append(r.features)
                indices += r.indices.map { f * r.inputTokens + $0 }
                positions += r.positions.map { [f, $0[1], $0[2]] }
                if let s = r.slots { slots += s.map { offset + $0 } }
                if let s = r.sizes { sizes += s }
            }
            return ReducedVisionTokens(features: Tensor.concatenate(rows, axis: 0), indices: indices, positions: positions,
                                       slots: options.method.merges ? slots : nil, sizes: options.method.merges ? sizes : nil,
                                       partitions: nil, grid: g, inputTokens: frames.count * n)
        }
        let prefix = tower.prefixTokens
        let merging = mergingSchedule!
        // per frame: ToMe in the forward pass; a frame's rows map back to its patches through the trace
        var clips: [Tensor] = [], clipSizes: [[Float]] = [], frameSlots: [[Int]] = []
        for frame in frames {
            let out = tower.forward(pixels(frame), layerCount: block + 1, merging: merging)
            let x = out.hiddenStates[block + 1]
            clips.append(x.reshaped(Array(x.shape.dropFirst())))
            clipSizes.append(out.merges!.sizes[0])
            frameSlots.append(out.merges!.slotOf[0])
        }
        let groups = options.groups.isEmpty ? Self.primeFactors(frames.count) : options.groups
        guard groups.reduce(1, *) <= frames.count, frames.count % groups.reduce(1, *) == 0 else {
            throw TokenReductionError("tempme groups \(groups.map(String.init).joined(separator: ",")) do not divide \(frames.count) frames")
        }
        let stages = groups.map { TempMe.Stage(clipsPerGroup: $0, crossProportion: options.crossProportion, intraProportion: options.intraProportion) }
        // TempMe.reduce's own frame merge is off (frameR 0): the frames were merged inside the tower
        let merged = try TempMe.reduce(frames: clips, classTokens: prefix, frameR: 0, stages: stages, sizes: clipSizes)
        let perClip = merged.clips[0].shape[0], cls = merged.classTokens, t0 = clips[0].shape[0]
        // patch (f, j) → frame row → merged row; drop the class-token rows of every output clip
        var rowIndex = [Int](repeating: -1, count: merged.clips.count * perClip)
        var patchRows: [Tensor] = [], patchSizes: [Float] = [], next = 0
        for (c, clip) in merged.clips.enumerated() {
            patchRows.append(clip.slice(axis: 0, cls..<perClip))
            patchSizes += merged.sizes[c][cls...]
            for row in cls..<perClip { rowIndex[c * perClip + row] = next; next += 1 }
        }
        var slotOf = [Int](repeating: 0, count: frames.count * n)
        for f in 0..<frames.count {
            for j in 0..<n {
                let frameRow = frameSlots[f][prefix + j]
                slotOf[f * n + j] = rowIndex[merged.mergeMap.slotOf[f * t0 + frameRow]]
            }
        }
        return Self.orderedMerge(Tensor.concatenate(patchRows, axis: 0), slotOf: slotOf, sizes: patchSizes,
                                 position: { [$0 / n, ($0 % n) / g, $0 % g] }, grid: g, inputTokens: frames.count * n)
    }

    static func primeFactors(_ n: Int) -> [Int] {
        var n = n, f: [Int] = [], p = 2
        while n > 1 {
            if n % p == 0 { f.append(p); n /= p } else { p += 1 }
        }
        return f
    }
}
