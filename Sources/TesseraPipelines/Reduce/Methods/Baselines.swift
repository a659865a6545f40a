// The baselines: evenly spaced and random patches.
import TesseraCore
import TesseraReduction

/// `uniform`: `keep` patches spread evenly over the grid.
struct UniformMethod: ReductionMethod {
    func reduce(pixels: Tensor, _ context: ReductionContext) throws -> ReducedVisionTokens {
        let out = context.forward(pixels)
        let kept = TokenPruning.uniform(n: context.patches, k: context.options.keep ?? 0)
        return context.pruned(kept, from: context.patchFeatures(out.blockOutput))
    }
}

/// `random`: `keep` patches drawn with the options' seed.
struct RandomMethod: ReductionMethod {
    func reduce(pixels: Tensor, _ context: ReductionContext) throws -> ReducedVisionTokens {
        let out = context.forward(pixels)
        let kept = TokenPruning.random(n: context.patches, k: context.options.keep ?? 0, seed: context.options.seed)
        return context.pruned(kept, from: context.patchFeatures(out.blockOutput))
    }
}
