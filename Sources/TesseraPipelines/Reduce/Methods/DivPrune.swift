// DivPrune / ToDRE: k-center diversity on the feature layer's patch tokens.
import TesseraCore
import TesseraReduction

/// `divprune`: the `keep` most diverse patches (greedy max–min on `1 − cos`).
struct DivPruneMethod: ReductionMethod {
    func reduce(pixels: Tensor, _ context: ReductionContext) throws -> ReducedVisionTokens {
        let features = context.patchFeatures(context.forward(pixels).blockOutput)
        return context.pruned(TokenPruning.divPrune(features, k: context.options.keep ?? 0).kept, from: features)
    }
}
