// LLaVA-PruMerge and PruMerge+: IQR outliers of the last layer's CLS attention (attention
// received without CLS), each kept token merged with its nearest keys; PruMerge+ adds spatially
// uniform samples. q and k are the last block's projections.
import TesseraCore
import TesseraReduction

/// `prumerge` / `prumerge+`: adaptive without `keep`; the last feature row sums the pruned tokens.
struct PruMergeMethod: ReductionMethod {
    let variant: PruMerge.Variant

    func validate(_ context: ReductionContext) throws {}

    func reduce(pixels: Tensor, _ context: ReductionContext) throws -> ReducedVisionTokens {
        let depth = context.descriptor.depth, last = depth - 1, d = context.descriptor.width
        let qkv: Tensor, features: Tensor
        if context.block == last {
            // the feature block is the last block: its projections come from the forward pass
            var capture = KeyCapture(layers: [last])
            let out = context.forward(pixels, runner: &capture)
            guard let projections = capture.projections[last] else {
                throw TokenReductionError("prumerge: no keys captured")
            }
            (qkv, features) = (projections, context.patchFeatures(out.blockOutput))
        } else {
            // run up to the last block's input; project it once (the forward pass never ran that block)
            let out = context.forward(pixels, layers: last, keepHiddenStates: context.block + 1 < last)
            let lastBlock = context.encoder.stack.blocks[last]
            qkv = lastBlock.attention.qkv(lastBlock.norm1(out.blockOutput))
            let hidden = context.block + 1 < last ? out.hiddenStates[context.block + 1] : out.blockOutput
            features = context.patchFeatures(hidden)
        }
        let tokens = qkv.shape[1]
        let q = qkv.projection(.query).reshaped([tokens, d]), k = qkv.projection(.key).reshaped([tokens, d])
        let attention =
            context.descriptor.hasClassToken
            ? try PruMerge.clsAttention(queries: q, keys: k)
            : try PruMerge.receivedAttention(queries: q, keys: k)
        let r = try PruMerge.reduce(
            features: features, keys: k.slice(axis: 0, context.prefix..<(context.prefix + context.patches)),
            attention: attention, variant: variant, keep: context.options.keep)
        return context.pruned(r.kept, from: features, reduced: r.tokens)
    }
}
