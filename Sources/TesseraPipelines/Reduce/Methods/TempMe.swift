// TempMe on a video: ToMe inside every frame's forward pass (r per layer) up to the feature
// layer, then TempMe's merging of neighbouring clips across time; CLS tokens are protected and
// dropped from the output.
import TesseraCore
import TesseraMedia
import TesseraReduction

/// `tempme`: videos only; the budget follows from r, the groups and the proportions.
struct TempMeMethod: ReductionMethod {
    var merges: Bool { true }

    func mergingSchedule(_ context: ReductionContext) -> TokenMerging? { ToMeMethod.schedule(context) }

    func validate(_ context: ReductionContext) throws {
        let o = context.options
        guard let r = o.r else {
            throw TokenReductionError("tempme needs r (tokens merged per layer inside every frame)")
        }
        guard o.keep == nil else {
            throw TokenReductionError(
                "keep does not apply to tempme (its budget follows from r, groups and proportions)")
        }
        try ToMeMethod.checkR(r, tokens: context.patches + context.prefix, protected: context.prefix)
        guard o.groups.allSatisfy({ $0 >= 1 }) else { throw TokenReductionError("tempme groups must be ≥ 1") }
        guard (0...1).contains(o.crossProportion), (0...1).contains(o.intraProportion) else {
            throw TokenReductionError("tempme proportions must lie in [0, 1]")
        }
    }

    func reduce(pixels: Tensor, _ context: ReductionContext) throws -> ReducedVisionTokens {
        throw TokenReductionError("tempme merges across video frames; give it a video")
    }

    func reduce(frames: [Image], _ context: ReductionContext) throws -> ReducedVisionTokens {
        let n = context.patches, g = context.grid, prefix = context.prefix, o = context.options
        // per frame: ToMe in the forward pass; a frame's rows map back to its patches through the trace
        var clips: [Tensor] = [], clipSizes: [[Float]] = [], frameSlots: [[Int]] = []
        for frame in frames {
            let (hidden, trace) = ToMeMethod.merged(context.pixels(frame), context)
            clips.append(hidden)
            clipSizes.append(trace.sizes[0])
            frameSlots.append(trace.slotOf[0])
        }
        let groups = o.groups.isEmpty ? Self.primeFactors(frames.count) : o.groups
        let product = groups.reduce(1, *)
        guard product <= frames.count, frames.count % product == 0 else {
            throw TokenReductionError(
                "tempme groups \(groups.map(String.init).joined(separator: ",")) "
                    + "do not divide \(frames.count) frames")
        }
        let stages = groups.map {
            TempMe.Stage(clipsPerGroup: $0, crossProportion: o.crossProportion, intraProportion: o.intraProportion)
        }
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
                slotOf[f * n + j] = rowIndex[merged.mergeMap.slotOf[f * t0 + frameSlots[f][prefix + j]]]
            }
        }
        return ToMeMethod.orderedMerge(
            Tensor.concatenate(patchRows, axis: 0), slotOf: slotOf, sizes: patchSizes,
            position: { [$0 / n, ($0 % n) / g, $0 % g] }, grid: g,
            inputTokens: frames.count * n)
    }

    static func primeFactors(_ n: Int) -> [Int] {
        var n = n, f: [Int] = [], p = 2
        while n > 1 {
            if n % p == 0 { f.append(p); n /= p } else { p += 1 }
        }
        return f
    }
}
