// TransPrune: token transition variation accumulated over the blocks up to the feature layer,
// measured by a runner during the one forward pass (no text term on a bare vision tower).
import TesseraCore
import TesseraReduction

/// `transprune`: the `keep` patches whose sublayers changed them most.
struct TransPruneMethod: ReductionMethod {
    func reduce(pixels: Tensor, _ context: ReductionContext) throws -> ReducedVisionTokens {
        var runner = TransPruneRunner(layers: context.block + 1)
        let out = context.forward(pixels, runner: &runner)
        if let failure = runner.failure { throw failure }
        guard let variation = runner.accumulators.first?.variation else {
            throw TokenReductionError("transprune ran no blocks")
        }
        let kept = try TransPrune.select(
            variation: Array(variation[context.prefix..<(context.prefix + context.patches)]),
            keep: context.options.keep ?? 0)
        return context.pruned(kept, from: context.patchFeatures(out.blockOutput))
    }
}
