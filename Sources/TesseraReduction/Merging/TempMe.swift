// TempMe-style temporal token merging for video (Shen et al., "TempMe: Video Temporal Token
// Merging for Efficient Text-Video Retrieval"), following LunarShen/TempMe
// `tvr/models/module_tome_merge.py` (`bipartite_soft_matching` with `cls_num`) and the clip
// concatenation of `module_tome_patch.py` (`ToMeBlock.forward`, `M_frame_num > 1`).
//
// Variant implemented here (post-hoc, on given per-frame tokens, no transformer in between):
// 1. Frame merging: every frame `[CLS…, patches…]` runs TempMe's bipartite matching with its
//    class tokens protected, `frameR` tokens merged (size-weighted average, sizes tracked).
// 2. For each stage: `clipsPerGroup` adjacent clips are concatenated as upstream does
//    (`[CLS of clip 0, CLS of clip 1, …, patches of clip 0, patches of clip 1, …]`), then merged
//    across time with r0 = min(((T − P)·M) div 2, int(T·M·crossProportion)) tokens, then merged
//    inside the new clip with r1 = min(((T − P)·M − r0) div 2, int((T·M − r0)·intraProportion))
//    (T tokens and P class tokens per clip before the stage, M clips per group).
// Upstream defaults: 12 frames, groups 2-2-3 (12 → 6 → 3 → 1 clips) at layers 8-9-10, r = 2 per
// earlier layer, proportions 30% (cross) and 10% (intra). The metric is the tokens themselves
// (upstream uses the hidden states for the cross-clip merge and the attention keys for the
// others; inside a model, pass those through `matching`/`mergeClips` directly). Upstream's
// frame position embeddings (`frame_pos`) and LoRA are model parts, not reduction, and are left out.
import TesseraCore

/// TempMe: ToMe with protected class tokens, and merging of adjacent clips across time.
public enum TempMe {
    /// TempMe's `bipartite_soft_matching(metric, r, cls_num)`: the first `protected` tokens are
    /// kept in front; the rest alternate A/B with the parity of the whole sequence (A = the odd
    /// patch positions when `protected` is odd, the even ones otherwise); the `r` A tokens most
    /// similar to a B token merge into it. Output: `[protected…, unmerged A (original order), B…]`.
    /// `r` is clamped to `0…|A|`; `r ≤ 0` returns the identity.
    public static func matching(metric: Tensor, r requested: Int, protected: Int) throws -> MergeMap {
        try ReductionError.requireRank2(metric, "metric")
        let t = metric.shape[0]
        guard protected >= 0 && protected <= t else {
            throw ReductionError.shape("\(protected) protected tokens of \(t)")
        }
        let patches = t - protected
        let aFirst = protected % 2 == 0 ? 0 : 1
        let aPositions = Array(stride(from: aFirst, to: patches, by: 2)).map { $0 + protected }
        let bPositions = Array(stride(from: 1 - aFirst, to: patches, by: 2)).map { $0 + protected }
        let r = min(requested, aPositions.count)
        guard r > 0, !bPositions.isEmpty else { return .identity(t) }
        let unit = metric.rowNormalized()
        let scores = unit.indexSelect(axis: 0, aPositions).matmul(
            unit.indexSelect(axis: 0, bPositions), transposeB: true)
        let nb = bPositions.count
        var nodeMax = [Float](repeating: -.infinity, count: aPositions.count),
            nodeIdx = [Int](repeating: 0, count: aPositions.count)
        for a in aPositions.indices {
            for b in 0..<nb where b == 0 || scores.scalars[a * nb + b] > nodeMax[a] {
                nodeMax[a] = scores.scalars[a * nb + b]; nodeIdx[a] = b
            }
        }
        let order = aPositions.indices.sorted { nodeMax[$0] > nodeMax[$1] || (nodeMax[$0] == nodeMax[$1] && $0 < $1) }
        let src = order.prefix(r), unm = order.dropFirst(r).sorted()
        var slots = Array(0..<t)
        for (k, a) in unm.enumerated() { slots[aPositions[a]] = protected + k }
        for (k, b) in bPositions.enumerated() { slots[b] = protected + unm.count + k }
        for a in src { slots[aPositions[a]] = protected + unm.count + nodeIdx[a] }
        return MergeMap(unchecked: slots, outputCount: t - r)
    }

    /// Merged clips.
    public struct ClipMerge: Sendable {
        /// `[P·M + patches − r, C]`: class tokens of all clips, unmerged patches, destinations.
        public var tokens: Tensor
        /// Size (number of original tokens) of every output token.
        public var sizes: [Float]
        /// Map over the clips' rows concatenated clip by clip (`clip·T + row`).
        public var mergeMap: MergeMap
        /// Class tokens at the front of the merged clip (`P·M`).
        public var classTokens: Int
    }

    /// Concatenates `M` adjacent clips as TempMe does and merges `r` tokens across them.
    /// - Parameters:
    ///   - clips: `M` tensors `[T, C]`, each `[P class tokens, patches…]`.
    ///   - sizes: per clip `[T]` token sizes (ones when `nil`).
    ///   - metrics: per clip `[T, Ck]` matching metric (the tokens when `nil`).
    /// - Throws: ``ReductionError/shape(_:)`` when the clips differ in shape or sizes/metrics do not match.
    public static func mergeClips(
        _ clips: [Tensor], sizes: [[Float]]? = nil, metrics: [Tensor]? = nil,
        classTokens p: Int, r: Int
    ) throws -> ClipMerge {
        guard let first = clips.first, clips.allSatisfy({ $0.shape == first.shape }), first.rank == 2 else {
            throw ReductionError.shape("clips must be non-empty [T, C] tensors of one shape")
        }
        let m = clips.count, t = first.shape[0]
        guard p >= 0 && p <= t else { throw ReductionError.shape("\(p) class tokens in clips of \(t)") }
        if let sizes, sizes.count != m || sizes.contains(where: { $0.count != t }) {
            throw ReductionError.shape("sizes must be [M][T]")
        }
        if let metrics,
            metrics.count != m
                || metrics.contains(where: { $0.rank != 2 || $0.shape[0] != t || $0.shape[1] != metrics[0].shape[1] })
        {
            throw ReductionError.shape("metrics must be M tensors [T, Ck]")
        }
        // clip-major input row → position in [CLS of every clip…, patches of every clip…]
        var reorder = [Int](repeating: 0, count: m * t)
        for clip in 0..<m {
            for row in 0..<t {
                reorder[clip * t + row] = row < p ? clip * p + row : m * p + clip * (t - p) + (row - p)
            }
        }
        var inverse = [Int](repeating: 0, count: m * t)
        for (i, position) in reorder.enumerated() { inverse[position] = i }
        func arranged(_ parts: [Tensor]) -> Tensor {
            Tensor.concatenate(parts, axis: 0).indexSelect(axis: 0, inverse)
        }
        let x = arranged(clips)
        let metric = metrics.map(arranged) ?? x
        let flatSizes = sizes.map { s in inverse.map { s[$0 / t][$0 % t] } }
        let matched = try matching(metric: metric, r: r, protected: p * m)
        let (tokens, newSizes) = matched.mergeWeighted(x, sizes: flatSizes)
        let map = MergeMap(unchecked: reorder, outputCount: m * t).then(matched)
        return ClipMerge(tokens: tokens, sizes: newSizes, mergeMap: map, classTokens: p * m)
    }

    /// One temporal stage: group size and merge proportions.
    public struct Stage: Sendable, Equatable {
        /// Adjacent clips concatenated and merged into one clip (`M`); must divide the clip count.
        public var clipsPerGroup: Int
        /// Share of the group's `T·M` tokens merged across clips (r0; upstream 30%), at most half the patches.
        public var crossProportion: Double
        /// Share of the tokens left after the cross-clip merge that then merge inside the new clip (r1; upstream 10%).
        public var intraProportion: Double
        /// A stage merging groups of `clipsPerGroup` clips with upstream's proportions by default.
        /// - Parameters:
        ///   - clipsPerGroup: Adjacent clips merged into one.
        ///   - crossProportion: Share of the group's tokens merged across clips (default 0.3).
        ///   - intraProportion: Share of the remaining tokens merged inside the new clip (default 0.1).
        public init(clipsPerGroup: Int, crossProportion: Double = 0.3, intraProportion: Double = 0.1) {
            self.clipsPerGroup = clipsPerGroup
            self.crossProportion = crossProportion
            self.intraProportion = intraProportion
        }
    }

    /// The merged video.
    public struct Result: Sendable {
        /// Remaining clips, each `[P·(frames per clip) + patches, C]`.
        public var clips: [Tensor]
        /// Sizes per clip.
        public var sizes: [[Float]]
        /// Map from the frame-major input (`frame·T0 + row`) to the clip-major output
        /// (`clip·T + row`, T = tokens per output clip).
        public var mergeMap: MergeMap
        /// Class tokens at the front of every output clip.
        public var classTokens: Int
        /// r of the merge inside every frame, after clamping to half the patches.
        public var frameR: Int
        /// r of every stage, in stage order: `cross` across clips, then `intra` inside the new clip.
        public var stageR: [(cross: Int, intra: Int)]
    }

    /// Runs the frame merge and the temporal stages (see the file comment for the exact rules).
    /// - Parameters:
    ///   - frames: `F` tensors `[T0, C]`, each `[P class tokens, patches…]`.
    ///   - classTokens: P (CLIP: 1).
    ///   - frameR: tokens merged inside every frame first (clamped to half the patches).
    ///   - stages: temporal stages; the product of their group sizes must divide F.
    ///   - sizes: per frame `[T0]` sizes of the input tokens (ones when `nil`), e.g. from ToMe
    ///     inside each frame's forward pass.
    /// - Throws: ``ReductionError`` for frames of different shapes or groups that do not divide the clips.
    public static func reduce(
        frames: [Tensor], classTokens p: Int = 1, frameR: Int, stages: [Stage],
        sizes frameSizes: [[Float]]? = nil
    ) throws -> Result {
        guard let first = frames.first, first.rank == 2, frames.allSatisfy({ $0.shape == first.shape }) else {
            throw ReductionError.shape("frames must be non-empty [T, C] tensors of one shape")
        }
        let t0 = first.shape[0]
        guard p >= 0 && p <= t0 else { throw ReductionError.shape("\(p) class tokens in frames of \(t0)") }
        guard frameR >= 0 else { throw ReductionError.budget("frameR must be ≥ 0") }
        if let frameSizes, frameSizes.count != frames.count || frameSizes.contains(where: { $0.count != t0 }) {
            throw ReductionError.shape("sizes must be [F][T0]")
        }
        var clips: [Tensor] = [], sizes: [[Float]] = []
        var slot = [Int](repeating: 0, count: frames.count * t0)
        let r0 = min(frameR, (t0 - p) / 2)
        var perClip = t0 - r0
        for (f, frame) in frames.enumerated() {
            let map = try matching(metric: frame, r: r0, protected: p)
            let (x, s) = map.mergeWeighted(frame, sizes: frameSizes?[f])
            clips.append(x); sizes.append(s)
            for row in 0..<t0 { slot[f * t0 + row] = f * perClip + map.slotOf[row] }
        }
        var cls = p
        var stageR: [(cross: Int, intra: Int)] = []
        for stage in stages {
            let m = stage.clipsPerGroup
            guard m >= 1, clips.count % m == 0 else {
                throw ReductionError.parameter("groups of \(m) do not divide \(clips.count) clips")
            }
            let t = perClip
            let cross = min(((t - cls) * m) / 2, Int(Double(t * m) * stage.crossProportion))
            let intra = min(((t - cls) * m - cross) / 2, Int(Double(t * m - cross) * stage.intraProportion))
            var nextClips: [Tensor] = [], nextSizes: [[Float]] = []
            var clipSlot = [Int](repeating: 0, count: clips.count * t)
            let nextT = t * m - cross - intra
            for g in 0..<(clips.count / m) {
                let group = Array(clips[(g * m)..<((g + 1) * m)]), groupSizes = Array(sizes[(g * m)..<((g + 1) * m)])
                let merged = try mergeClips(group, sizes: groupSizes, classTokens: cls, r: cross)
                let second = try matching(metric: merged.tokens, r: intra, protected: merged.classTokens)
                let (x, s) = second.mergeWeighted(merged.tokens, sizes: merged.sizes)
                nextClips.append(x); nextSizes.append(s)
                let map = merged.mergeMap.then(second)
                for i in 0..<(m * t) { clipSlot[g * m * t + i] = g * nextT + map.slotOf[i] }
            }
            slot = slot.map { clipSlot[$0] }
            clips = nextClips; sizes = nextSizes
            cls *= m
            perClip = nextT
            stageR.append((cross, intra))
        }
        return Result(
            clips: clips, sizes: sizes, mergeMap: MergeMap(unchecked: slot, outputCount: clips.count * perClip),
            classTokens: cls, frameR: r0, stageR: stageR)
    }
}
