// VisionZip: dominant tokens by CLS attention (attention received without CLS) plus contextual
// tokens merged from the rest by key similarity, 54:10 as upstream. The keys are the feature
// block's own projections, kept during the forward pass.
import TesseraCore
import TesseraReduction

/// `visionzip`: indices cover the dominant tokens; the last feature rows are the contextual merges.
struct VisionZipMethod: ReductionMethod {
    func reduce(pixels: Tensor, _ context: ReductionContext) throws -> ReducedVisionTokens {
        var capture = KeyCapture(layers: [context.block])
        let out = context.forward(pixels, statistics: context.importanceStatistics, runner: &capture)
        let d = context.descriptor, keep = context.options.keep ?? 0
        guard let keys = capture.keys(context.block) else { throw TokenReductionError("visionzip: no keys captured") }
        let averaged = keys.reshaped([keys.shape[1], d.heads, d.width / d.heads]).mean(axis: 1)  // head-averaged keys
        let hidden = context.tokens(out.blockOutput), features = context.patchFeatures(out.blockOutput)
        let dominant = max(1, keep * 54 / 64), contextual = keep - dominant
        let statistics = out.attentions[context.block]
        if d.hasClassToken {
            let attention = statistics.reshaped([d.heads, statistics.shape[statistics.rank - 1]])
            let r = VisionZip.reduce(
                clsAttention: attention, hidden: hidden, keys: averaged, dominant: dominant + 1,
                contextual: contextual)
            // drop the CLS row from the output features; indices are the dominant patches
            return context.pruned(
                r.dominantIndices.dropFirst().map { $0 - 1 }, from: features,
                reduced: r.tokens.slice(axis: 0, 1..<r.tokens.shape[0]))
        }
        let r = VisionZip.reduce(
            scores: try context.importance(statistics), hidden: features, keys: averaged,
            dominant: dominant, contextual: contextual)
        return context.pruned(r.dominantIndices, from: features, reduced: r.tokens)
    }
}
