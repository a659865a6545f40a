// HiRED: the top tokens by the feature layer's CLS attention (attention received without CLS);
// with tiles, LLaVA-NeXT's anyres views and HiRED's budget allocation across them.
import TesseraCore
import TesseraMedia
import TesseraReduction

/// `hired`: single view with `keep`, or base view + high-resolution tiles with the budget rate.
struct HiREDMethod: ReductionMethod {
    func validate(_ context: ReductionContext) throws {
        let o = context.options, g = context.grid
        guard o.usesTiles else {
            guard o.keep != nil else { throw TokenReductionError("hired needs keep (single view) or tiles") }
            return
        }
        guard o.keep == nil else {
            throw TokenReductionError("hired with tiles sets its budget from the budget rate and alpha, not keep")
        }
        for t in (o.tiles.map { [$0] } ?? o.tileChoices) {
            guard t.rows >= 1, t.columns >= 1, t.rows <= g, t.columns <= g else {
                throw TokenReductionError("tiles \(t.rows)x\(t.columns) do not fit the \(g)x\(g) patch grid")
            }
        }
        guard (0...1).contains(o.budgetRate), (0...1).contains(o.alpha) else {
            throw TokenReductionError("budget rate \(o.budgetRate) and alpha \(o.alpha) must lie in [0, 1]")
        }
    }

    func reduce(pixels: Tensor, _ context: ReductionContext) throws -> ReducedVisionTokens {
        guard !context.options.usesTiles else {
            throw TokenReductionError("hired with tiles needs the image, not pixels")
        }
        let out = context.forward(pixels, statistics: context.importanceStatistics)
        let kept = TokenPruning.topK(
            try context.importance(out.attentions[context.block]), k: context.options.keep ?? 0)
        return context.pruned(kept, from: context.patchFeatures(out.blockOutput))
    }

    func reduce(image: Image, _ context: ReductionContext) throws -> ReducedVisionTokens {
        guard context.options.usesTiles else { return try reduce(pixels: context.pixels(image), context) }
        let views = context.anyResViews, tiles = context.tileGrid(for: image)
        func batched(_ t: Tensor) -> Tensor { t.reshaped([1] + t.shape) }
        return try reduceTiles(
            full: batched(views.baseView(image)), tiles: views.tiles(image, tiles).map(batched),
            grid: tiles, imageSize: (image.width, image.height), context)
    }

    func reduce(frames: [Image], _ context: ReductionContext) throws -> ReducedVisionTokens {
        guard !context.options.usesTiles else {
            throw TokenReductionError("hired tiles are for single images, not video frames")
        }
        return try reduceEachFrame(frames, context)
    }

    /// HiRED across the full view and the tiles: budgets from the full view's layer-0 CLS
    /// attention, top tokens by the feature layer's CLS attention inside every partition
    /// (attention received without CLS); then, as upstream, tile tokens that fall in the canvas
    /// padding are dropped (`unpad_image` on the selection mask).
    func reduceTiles(
        full: Tensor, tiles views: [Tensor], grid tiles: TileGrid, imageSize: (width: Int, height: Int),
        _ context: ReductionContext
    ) throws -> ReducedVisionTokens {
        let n = context.patches, g = context.grid
        func run(_ pixels: Tensor) throws -> (early: [Float], late: [Float], features: Tensor) {
            let out = context.forward(pixels, statistics: context.importanceStatistics)
            return (
                try context.importance(out.attentions[0]), try context.importance(out.attentions[context.block]),
                context.patchFeatures(out.blockOutput)
            )
        }
        let fullRun = try run(full)
        let tileRuns = try views.map(run)
        let o = context.options
        let selection = try HiRED.select(
            fullEarly: fullRun.early, fullLate: fullRun.late, tilesLate: tileRuns.map(\.late),
            gridWidth: g, tileRows: tiles.rows, tileColumns: tiles.columns,
            budgetRate: o.budgetRate, alpha: o.alpha)
        let shown = AnyResViews.unpaddedRegion(
            gridRows: tiles.rows * g, gridColumns: tiles.columns * g,
            imageWidth: imageSize.width, imageHeight: imageSize.height)
        var rows: [Tensor] = [], indices: [Int] = [], positions: [[Int]] = [], partitions: [Int] = []
        for (p, selected) in selection.kept.enumerated() {
            var kept = selected
            if p > 0 {
                let (tr, tc) = ((p - 1) / tiles.columns, (p - 1) % tiles.columns)
                kept = selected.filter {
                    shown.rows.contains(tr * g + $0 / g) && shown.columns.contains(tc * g + $0 % g)
                }
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
        guard !rows.isEmpty else { throw TokenReductionError("HiRED kept no tokens (budget rate \(o.budgetRate))") }
        return ReducedVisionTokens(
            features: Tensor.concatenate(rows, axis: 0), indices: indices, positions: positions,
            slots: nil, sizes: nil, partitions: partitions, grid: g,
            inputTokens: n * (tiles.count + 1))
    }
}

extension ReductionContext {
    /// The encoder's anyres views (LLaVA-NeXT's base view and tiles).
    public var anyResViews: AnyResViews {
        AnyResViews(preprocessing: encoder.preprocessing, tileSize: descriptor.inputSize.width)
    }

    /// The tile grid for an image: the one asked for, or LLaVA-NeXT's best fit among the choices.
    public func tileGrid(for image: Image) -> TileGrid {
        options.tiles
            ?? TileGrid.bestFit(
                width: image.width, height: image.height, tileSize: descriptor.inputSize.width,
                among: options.tileChoices.isEmpty ? TileGrid.llavaNext : options.tileChoices)
    }
}
