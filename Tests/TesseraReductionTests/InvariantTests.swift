import TesseraCore
import Testing

@testable import TesseraReduction

func randomTensor(_ shape: [Int], seed: UInt64) -> Tensor {
    var state = seed
    return Tensor(
        shape: shape,
        scalars: (0..<shape.reduce(1, *)).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int(state >> 40) % 2001 - 1000) / 1000
        })
}

@Suite struct ToMeInvariantTests {
    @Test(arguments: [(17, 5, true), (16, 4, false), (9, 100, true)])
    func mergingInvariants(_ c: (Int, Int, Bool)) {
        let (t, r, cls) = c
        let metric = randomTensor([t, 8], seed: UInt64(t)), x = randomTensor([t, 6], seed: 99)
        let m = BipartiteMatching(metric: metric, r: r, classToken: cls)
        #expect(m.r == min(r, (t - (cls ? 1 : 0)) / 2))
        let (merged, sizes) = m.mergeWeighted(x)
        #expect(merged.shape == [t - m.r, 6])
        #expect(sizes.reduce(0, +) == Float(t))  // sizes sum to the input count
        if cls { #expect(m.slotOf[0] == 0 && merged.scalars[0..<6] == x.scalars[0..<6]) }  // CLS stays first, untouched
        // unmerge restores every token that was not merged exactly
        let restored = m.unmerge(merged)
        let mergedSlots = Set(m.destinations.map { m.unmerged.count + $0 })
        for i in 0..<t where !mergedSlots.contains(m.slotOf[i]) {
            #expect(restored.scalars[(i * 6)..<(i * 6 + 6)] == x.scalars[(i * 6)..<(i * 6 + 6)], "token \(i)")
        }
        // every slot is used, and sizes count the tokens mapped to each slot
        var counts = [Float](repeating: 0, count: t - m.r)
        for s in m.slotOf { counts[s] += 1 }
        #expect(counts == sizes)
    }

    @Test func schedules() {
        #expect(MergeSchedule.perLayer(r: 13, layers: 12) == Array(repeating: 13, count: 12))
        let s = MergeSchedule.perLayer(r: 8, inflect: 0.5, layers: 12)
        #expect(s.first == 4 && s.last == 12 && s == s.sorted())
    }
}

@Suite struct PruningInvariantTests {
    @Test func budgetsAreMetExactly() {
        let x = randomTensor([40, 6], seed: 3)
        let (kept, order) = TokenPruning.divPrune(x, k: 7)
        #expect(kept.count == 7 && Set(order).count == 7 && kept == kept.sorted())
        #expect(TokenPruning.uniform(n: 576, k: 64).count == 64)
        #expect(TokenPruning.random(n: 576, k: 64, seed: 1) == TokenPruning.random(n: 576, k: 64, seed: 1))
        let attention = (0..<30).map { Float(($0 * 7) % 30) }
        let fast = TokenPruning.fastV(attention: attention, image: 4..<20, ratio: 0.5)
        #expect(fast.count == 4 + 8 + 10 && fast == fast.sorted())
        let hi = TokenPruning.hiPrune(
            objectScores: (0..<36).map { Float($0 % 7) }, deepScores: (0..<36).map { Float(($0 * 5) % 36) },
            gridWidth: 6, budget: 10, anchorCount: 1)
        #expect(hi.count == 10 && hi == hi.sorted())
    }

    @Test func visionZipShape() {
        let attn = randomTensor([2, 17], seed: 5).map { abs($0) }
        let r = VisionZip.reduce(
            clsAttention: attn, hidden: randomTensor([17, 6], seed: 6), keys: randomTensor([17, 4], seed: 7),
            dominant: 5, contextual: 3)
        #expect(r.tokens.shape == [8, 6] && r.dominantIndices.first == 0 && r.dominantIndices.count == 5)
    }
}
