// HiPrune: anchors and buffers from an early "object" layer, registers from the feature layer,
// both ranked by the attention each patch receives.
import TesseraCore
import TesseraReduction

/// `hiprune`: object layer = the first third of the blocks up to the feature layer; upstream's
/// α = 0.1 gives `round(keep·α/5)` anchors, half to even (none up to a budget of 25).
struct HiPruneMethod: ReductionMethod {
    func reduce(pixels: Tensor, _ context: ReductionContext) throws -> ReducedVisionTokens {
        let out = context.forward(pixels, statistics: .columnMeans)
        let keep = context.options.keep ?? 0
        func received(_ layer: Int) -> [Float] {
            let stats = out.attentions[layer], h = stats.shape[1], t = stats.shape[2]
            return TokenPruning.attentionReceived(stats.reshaped([h, 1, t]), prefix: context.prefix)
        }
        let kept = TokenPruning.hiPrune(
            objectScores: received(max(0, context.block / 3)), deepScores: received(context.block),
            gridWidth: context.grid, budget: keep,
            anchorCount: Int((Double(keep) * 0.1 / 5).rounded(.toNearestOrEven)))
        return context.pruned(kept, from: context.patchFeatures(out.blockOutput))
    }
}
