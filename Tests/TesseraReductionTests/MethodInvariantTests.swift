import TesseraCore
import Testing

@testable import TesseraReduction

/// Invariants of the merge maps and budgets, and the errors for impossible requests.
@Suite struct MethodInvariantTests {
    /// sizes sum to the input count, every slot is used, and unmerge restores unmerged tokens exactly.
    func checkMap(_ map: MergeMap, _ x: Tensor, sourceLocation: SourceLocation = #_sourceLocation) {
        let (merged, sizes) = map.mergeWeighted(x)
        #expect(sizes.reduce(0, +) == Float(map.inputCount), sourceLocation: sourceLocation)
        #expect(sizes == map.counts.map(Float.init), sourceLocation: sourceLocation)
        #expect(map.counts.allSatisfy { $0 >= 1 }, sourceLocation: sourceLocation)
        let restored = map.unmerge(merged)
        let c = x.shape[1], counts = map.counts
        for i in 0..<map.inputCount where counts[map.slotOf[i]] == 1 {
            #expect(
                restored.scalars[(i * c)..<((i + 1) * c)] == x.scalars[(i * c)..<((i + 1) * c)], "token \(i)",
                sourceLocation: sourceLocation)
        }
    }

    @Test(arguments: [
        (8, 6, 24, RandomStrideMatching.Choice.seeded(7)), (7, 5, 10, .topLeft), (6, 6, 0, .seeded(1)),
        (4, 4, 99, .seeded(3)),
    ])
    func tomesdInvariants(_ c: (Int, Int, Int, RandomStrideMatching.Choice)) throws {
        let (w, h, r, choice) = c
        let metric = randomTensor([w * h, 5], seed: UInt64(w * h)), x = randomTensor([w * h, 3], seed: 17)
        let m = try RandomStrideMatching(metric: metric, width: w, height: h, r: r, choice: choice)
        #expect(m.r == min(r, m.sources.count) && m.outputCount == w * h - m.r)
        #expect(m.destinations.count == (w / 2) * (h / 2))
        checkMap(m.mergeMap, x)
        // destinations are never merged away and stay alone unless a source joined them
        if m.r > 0 {
            for d in m.destinations { #expect(m.mergeMap.slotOf[d] >= m.unmerged.count) }
        } else {
            #expect(m.mergeMap == .identity(w * h))
        }
        // merge(mean) equals the size-weighted merge with unit sizes
        #expect(zip(m.merge(x).scalars, m.mergeMap.mergeWeighted(x).tokens.scalars).allSatisfy { abs($0 - $1) < 1e-6 })
    }

    @Test func tomesdSeedsAreReproducible() throws {
        let metric = randomTensor([64, 4], seed: 5)
        let a = try RandomStrideMatching(metric: metric, width: 8, height: 8, r: 20, choice: .seeded(42))
        let b = try RandomStrideMatching(metric: metric, width: 8, height: 8, r: 20, choice: .seeded(42))
        #expect(a == b)
    }

    @Test func clusterInvariants() throws {
        let assignments = (0..<36).map { ($0 * 7) % 5 }
        let c = try ClusterMerging(assignments: assignments, classToken: true)
        let x = randomTensor([37, 4], seed: 8)
        checkMap(c.mergeMap, x)
        #expect(c.mergeMap.outputCount == 1 + c.kept.count + c.clusters.count)
        // kept tokens and CLS come back exactly after regeneration
        let (tokens, _) = c.merge(x)
        let back = c.regenerate(tokens)
        for i in [0] + c.kept.map({ $0 + 1 }) {
            #expect(back.scalars[(i * 4)..<(i * 4 + 4)] == x.scalars[(i * 4)..<(i * 4 + 4)])
        }
        #expect(throws: ReductionError.self) { try ClusterMerging(assignments: [0, -1]) }
    }

    @Test func tempMeInvariants() throws {
        let frames = (0..<6).map { randomTensor([1 + 12, 4], seed: UInt64(30 + $0)) }
        let r = try TempMe.reduce(
            frames: frames, frameR: 2, stages: [.init(clipsPerGroup: 2), .init(clipsPerGroup: 3)])
        #expect(r.clips.count == 1 && r.classTokens == 6)
        #expect(r.mergeMap.inputCount == 6 * 13)
        checkMap(r.mergeMap, Tensor.concatenate(frames, axis: 0))
        #expect(r.sizes.flatMap { $0 }.reduce(0, +) == 78)
        // every frame's CLS token survives as its own output, in front
        for f in 0..<6 { #expect(r.mergeMap.slotOf[f * 13] == f) }
        #expect(throws: ReductionError.self) {
            try TempMe.reduce(frames: frames, frameR: 1, stages: [.init(clipsPerGroup: 4)])
        }
        #expect(throws: ReductionError.self) {
            try TempMe.reduce(
                frames: [randomTensor([5, 2], seed: 1), randomTensor([6, 2], seed: 1)], frameR: 1, stages: [])
        }
        // the protected-count parity rule: with 2 protected tokens A = even patch positions
        let m = try TempMe.matching(metric: randomTensor([10, 3], seed: 9), r: 2, protected: 2)
        #expect(m.slotOf[0] == 0 && m.slotOf[1] == 1 && m.outputCount == 8)
        #expect(try TempMe.matching(metric: randomTensor([10, 3], seed: 9), r: 0, protected: 1) == .identity(10))
    }

    @Test func mergeMapComposition() throws {
        let a = try MergeMap(slotOf: [0, 0, 1, 2], outputCount: 3), b = try MergeMap(slotOf: [1, 0, 0], outputCount: 2)
        #expect(a.then(b).slotOf == [1, 1, 0, 0])
        #expect(throws: ReductionError.self) { try MergeMap(slotOf: [0, 2], outputCount: 3) }
        #expect(throws: ReductionError.self) { try MergeMap(slotOf: [0, 3], outputCount: 3) }
    }

    @Test func pruMergeBudgets() throws {
        let y = randomTensor([36, 4], seed: 2), k = randomTensor([36, 5], seed: 3)
        let attention: [Float] = (0..<36).map { (i: Int) -> Float in i == 7 || i == 20 ? 0.2 : 0.01 + Float(i) * 1e-4 }
        let r = try PruMerge.reduce(features: y, keys: k, attention: attention, neighbours: 4)
        #expect(r.kept == [7, 20] && r.tokens.shape == [3, 4])
        #expect(zip(r.kept, r.neighbours).allSatisfy { $1.count == 4 && !$1.contains($0) })
        let plus = try PruMerge.reduce(features: y, keys: k, attention: attention, variant: .pruMergePlus)
        #expect(
            plus.selected == [7, 20] && Set(plus.sampled).isDisjoint(with: [7, 20]) && plus.kept == plus.kept.sorted())
        #expect(plus.kept.count == 2 + plus.sampled.count && plus.tokens.shape[0] == plus.kept.count + 1)
        #expect(plus.neighbours.allSatisfy { $0.count == 32 })
        let wide = try PruMerge.reduce(features: y, keys: k, attention: attention, neighbours: 100)
        #expect(wide.neighbours.allSatisfy { $0.count == 35 })  // clamped to N − 1
        let fixed = try PruMerge.reduce(features: y, keys: k, attention: attention, keep: 10)
        #expect(fixed.kept.count == 10)
        #expect(throws: ReductionError.self) {
            try PruMerge.reduce(features: y, keys: k, attention: attention, keep: 37)
        }
        #expect(throws: ReductionError.self) {
            try PruMerge.reduce(features: y, keys: k, attention: Array(attention.prefix(5)))
        }
        #expect(throws: ReductionError.self) {
            try PruMerge.reduce(features: y, keys: k, attention: attention, neighbours: -1)
        }
        #expect(throws: ReductionError.self) { try PruMerge.clsAttention(queries: y, keys: k) }
        #expect(PruMerge.percentile([1, 2, 3, 4], 25) == 1.75)
    }

    @Test func hiredBudgets() throws {
        let scores = (0..<5).map { p in (0..<64).map { Float(($0 * 37 + p * 11) % 64) } }
        let exact = try HiRED.select(
            fullEarly: scores[1], fullLate: scores[0], tilesLate: Array(scores[1...]), gridWidth: 8,
            tileRows: 2, tileColumns: 2, budgetRate: 0.23, rounding: .largestRemainder)
        #expect(exact.budgets.reduce(0, +) == exact.totalBudget && exact.totalBudget == Int(5.0 * 64 * 0.23))
        #expect(zip(exact.kept, exact.budgets).allSatisfy { $0.count == $1 })
        let floor = try HiRED.select(
            fullEarly: scores[1], fullLate: scores[0], tilesLate: Array(scores[1...]), gridWidth: 8,
            tileRows: 2, tileColumns: 2, budgetRate: 0.23)
        #expect(floor.budgets.reduce(0, +) <= floor.totalBudget && floor.budgets[0] == exact.budgets[0])
        // 2D blocks: tile of each grid position
        let tiles = HiRED.tileOf(gridHeight: 4, gridWidth: 4, tileRows: 2, tileColumns: 2, layout: .blocks)
        #expect(tiles == [0, 0, 1, 1, 0, 0, 1, 1, 2, 2, 3, 3, 2, 2, 3, 3])
        #expect(
            HiRED.tileOf(gridHeight: 4, gridWidth: 4, tileRows: 2, tileColumns: 2, layout: .rasterBands) == [
                0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3,
            ])
        // a single view (no tiles): keep = int(N·rate·α)… and rate 1 keeps everything
        let all = try HiRED.select(
            fullEarly: scores[0], fullLate: scores[0], tilesLate: [scores[1]], gridWidth: 8, tileRows: 1,
            tileColumns: 1, budgetRate: 1, alpha: 0.5, rounding: .largestRemainder)
        #expect(all.budgets == [64, 64])
        #expect(throws: ReductionError.self) {
            try HiRED.select(
                fullEarly: scores[0], fullLate: scores[0], tilesLate: [scores[1]], gridWidth: 8, tileRows: 2,
                tileColumns: 2)
        }
        #expect(throws: ReductionError.self) {
            try HiRED.select(
                fullEarly: scores[0], fullLate: scores[0], tilesLate: [], gridWidth: 7, tileRows: 1, tileColumns: 1)
        }
        #expect(throws: ReductionError.self) {
            try HiRED.select(
                fullEarly: scores[0], fullLate: scores[0], tilesLate: [scores[1]], gridWidth: 8, tileRows: 1,
                tileColumns: 1, budgetRate: 1.5)
        }
    }

    @Test func transPruneBudgets() throws {
        let b = randomTensor([10, 4], seed: 4), a = randomTensor([10, 4], seed: 5)
        let w = try TransPrune.transitionWeights(input: b, output: a)
        #expect(w.count == 10 && w.allSatisfy { $0 > 0 })
        var acc = TransPrune.Accumulator(tokens: 10)
        try acc.add(attentionInput: b, attentionOutput: a, mlpInput: a, mlpOutput: b)
        acc.retain([1, 3, 5, 7, 9])
        let kept = try TransPrune.select(variation: acc.variation, keep: 3)
        #expect(kept.count == 3 && kept == kept.sorted())
        #expect(throws: ReductionError.self) { try TransPrune.select(variation: acc.variation, keep: 6) }
        #expect(throws: ReductionError.self) {
            try TransPrune.transitionWeights(input: b, output: randomTensor([9, 4], seed: 1))
        }
        #expect(throws: ReductionError.self) { try TransPrune.score(variation: [1, 2], instructionAttention: [1]) }
    }

    @Test func tomesdBadInputs() {
        let metric = randomTensor([12, 3], seed: 1)
        #expect(throws: ReductionError.self) { try RandomStrideMatching(metric: metric, width: 5, height: 3, r: 2) }
        #expect(throws: ReductionError.self) {
            try RandomStrideMatching(metric: metric, width: 4, height: 3, strideX: 5, r: 2)
        }
        #expect(throws: ReductionError.self) {
            try RandomStrideMatching(metric: metric, width: 4, height: 3, r: 2, choice: .explicit([0]))
        }
        #expect(throws: ReductionError.self) {
            try RandomStrideMatching(metric: metric, width: 4, height: 3, r: 2, choice: .explicit([0, 4]))
        }
    }
}
