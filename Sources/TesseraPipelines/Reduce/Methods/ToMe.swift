// ToMe inside the encoder's forward pass up to the feature layer (facebookresearch/ToMe's
// patched timm `Block`, as ``ToMeRunner``); merged patch tokens come out ordered by their
// smallest patch index, with the slot of every patch and the sizes.
import TesseraCore
import TesseraReduction

/// `tome`: `r` tokens merged per block (or the smallest constant r that leaves at most `keep`).
struct ToMeMethod: ReductionMethod {
    var merges: Bool { true }

    func mergingSchedule(_ context: ReductionContext) -> TokenMerging? { Self.schedule(context) }

    func validate(_ context: ReductionContext) throws {
        let o = context.options, p = context.prefix, t = context.patches + p
        guard o.r != nil || o.keep != nil else {
            throw TokenReductionError("tome needs r (tokens merged per layer) or keep")
        }
        guard o.r == nil || o.keep == nil else { throw TokenReductionError("tome takes r or keep, not both") }
        if let r = o.r { try Self.checkR(r, tokens: t, protected: p) }
        if let keep = o.keep, o.r == nil, Self.constantR(forKeep: keep, context) == nil {
            throw TokenReductionError(
                "keep \(keep): ToMe cannot merge below \(Self.minimumTokens(context)) patch tokens "
                    + "by layer \(o.layer) (it merges at most half the tokens per layer)")
        }
    }

    func reduce(pixels: Tensor, _ context: ReductionContext) throws -> ReducedVisionTokens {
        let (hidden, trace) = Self.merged(pixels, context)
        let p = context.prefix
        // the CLS token is protected and stays first: patch slots are shifted by the prefix
        let slotOf = trace.slotOf[0].dropFirst(p).map { $0 - p }
        return Self.orderedMerge(
            hidden.slice(axis: 0, p..<hidden.shape[0]), slotOf: slotOf,
            sizes: Array(trace.sizes[0].dropFirst(p)), position: context.position,
            grid: context.grid, inputTokens: context.patches)
    }

    /// One image's `[prefix + M, C]` tokens at the feature layer after ToMe, and the trace.
    static func merged(_ pixels: Tensor, _ context: ReductionContext) -> (hidden: Tensor, trace: MergeTrace) {
        var runner = ToMeRunner(merging: schedule(context), classToken: context.descriptor.hasClassToken)
        let out = context.forward(pixels, runner: &runner)
        let tokens = out.blockOutput.shape[1]
        return (context.tokens(out.blockOutput), runner.trace ?? MergeTrace(batch: 1, tokens: tokens))
    }

    /// The ToMe schedule the options ask for.
    static func schedule(_ context: ReductionContext) -> TokenMerging {
        let o = context.options
        let r = o.r ?? o.keep.flatMap { constantR(forKeep: $0, context) } ?? 0
        return TokenMerging(r: r, inflect: o.inflect, layers: context.descriptor.depth)
    }

    static func checkR(_ r: Int, tokens: Int, protected: Int) throws {
        let most = (tokens - protected) / 2
        guard r >= 0 else { throw TokenReductionError("r \(r) must be ≥ 0") }
        guard r <= most else {
            throw TokenReductionError(
                "r \(r) is too large: ToMe merges at most half the \(tokens - protected) mergeable "
                    + "tokens per layer (r ≤ \(most))")
        }
    }

    /// Patch tokens left after the feature block by a constant `r`.
    static func patchesLeft(r: Int, _ context: ReductionContext) -> Int {
        let p = context.prefix, t = context.patches + p
        let counts = TokenMerging(r: r, layers: context.descriptor.depth).tokenCounts(
            tokens: t, protected: p,
            layers: context.block + 1)
        return (counts.last ?? t) - p
    }

    /// Patch tokens left at the feature block by the largest constant r.
    static func minimumTokens(_ context: ReductionContext) -> Int {
        patchesLeft(r: context.patches + context.prefix, context)
    }

    /// The smallest constant r that leaves at most `keep` patch tokens after the feature block.
    static func constantR(forKeep keep: Int, _ context: ReductionContext) -> Int? {
        (0...(context.patches / 2)).first { patchesLeft(r: $0, context) <= keep }
    }

    /// Orders merged rows by their smallest member so the indices come out sorted.
    static func orderedMerge(
        _ tokens: Tensor, slotOf: [Int], sizes: [Float], position: (Int) -> [Int],
        grid: Int, inputTokens: Int
    ) -> ReducedVisionTokens {
        let m = tokens.shape[0]
        var first = [Int](repeating: Int.max, count: m)
        for (i, s) in slotOf.enumerated() { first[s] = min(first[s], i) }
        let order = (0..<m).sorted { first[$0] < first[$1] }
        var rank = [Int](repeating: 0, count: m)
        for (position, slot) in order.enumerated() { rank[slot] = position }
        let indices = order.map { first[$0] }
        return ReducedVisionTokens(
            features: tokens.indexSelect(axis: 0, order), indices: indices,
            positions: indices.map(position), slots: slotOf.map { rank[$0] },
            sizes: order.map { sizes[$0] }, partitions: nil, grid: grid, inputTokens: inputTokens)
    }
}
