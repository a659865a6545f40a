import TesseraTestSupport
import Testing

@testable import TesseraCore

@Suite struct AttentionTests {
    /// A prefix mask (every query sees keys `0..<end`, ends varying across several row blocks,
    /// one row seeing nothing) takes the block-skipping path; it must equal the same mask given as
    /// an additive −∞ bias, which takes the element path, with and without the probabilities.
    @Test func prefixMaskMatchesBias() throws {
        let (b, h, n, d) = (2, 3, 150, 16)
        var rng = SeededRandom(seed: 7)
        func random(_ shape: [Int]) -> Tensor {
            Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in Float(Int(rng.next() % 201) - 100) / 50 })
        }
        let (q, k, v) = (random([b, h, n, d]), random([b, h, n, d]), random([b, h, n, d]))
        // FlexTok's encoder shape: the first 60 rows see the first 60 keys, the rest are causal;
        // row 5 sees no key at all.
        func visible(_ qi: Int, _ kj: Int) -> Bool { qi == 5 ? false : qi < 60 ? kj < 60 : kj <= qi }
        let mask = (0..<(n * n)).map { visible($0 / n, $0 % n) }
        let bias = Tensor(shape: [n, n], scalars: mask.map { $0 ? 0 : -Float.infinity })
        for statistics in [AttentionStatistics.none, .full] {
            let (masked, mp) = scaledDotProductAttention(q: q, k: k, v: v, mask: mask, statistics: statistics)
            let (biased, bp) = scaledDotProductAttention(q: q, k: k, v: v, bias: bias, statistics: statistics)
            #expect(maxDifference(masked, biased) < 1e-5, "\(statistics)")
            if let mp, let bp { #expect(maxDifference(mp, bp) < 1e-6) }
        }
        // The row that sees nothing attends to nothing: zeros, as before.
        let (out, _) = scaledDotProductAttention(q: q, k: k, v: v, mask: mask)
        #expect((0..<d).allSatisfy { out[0, 0, 5, $0] == 0 })
    }

    /// Column means of the probabilities over several row blocks equal the mean of the full maps.
    @Test func columnMeansSpanRowBlocks() throws {
        let (n, d) = (130, 8)
        var rng = SeededRandom(seed: 3)
        func random(_ shape: [Int]) -> Tensor {
            Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in Float(Int(rng.next() % 201) - 100) / 50 })
        }
        let (q, k, v) = (random([1, 2, n, d]), random([1, 2, n, d]), random([1, 2, n, d]))
        let mask = (0..<(n * n)).map { $0 % n <= $0 / n }  // causal
        let (_, full) = scaledDotProductAttention(q: q, k: k, v: v, mask: mask, statistics: .full)
        let (_, means) = scaledDotProductAttention(q: q, k: k, v: v, mask: mask, statistics: .columnMeans)
        #expect(maxDifference(try #require(means), try #require(full).mean(axis: 2)) < 1e-6)
    }

    /// Packed self-attention for some query rows only (a last layer's read rows) equals those rows
    /// of the full result, under a prefix mask (rows across block boundaries) and a key bias.
    @Test func queryRowsEqualTheFullResultsRows() throws {
        let (b, heads, n, d) = (2, 3, 150, 48)
        var rng = SeededRandom(seed: 11)
        let qkv = Tensor(
            shape: [b, n, 3 * d], scalars: (0..<(b * n * 3 * d)).map { _ in Float(Int(rng.next() % 201) - 100) / 50 })
        let mask = (0..<(n * n)).map { i in i % n < 60 || i % n <= i / n }
        let bias = Tensor(shape: [1, 1, 1, n], scalars: (0..<n).map { $0 < 60 ? 0 : 0.7 })
        let full = packedSelfAttention(qkv, heads: heads, bias: bias, mask: mask).output
        for rows in [0..<60, 60..<150, 10..<11, 0..<150] {
            let part = packedSelfAttention(qkv, heads: heads, bias: bias, mask: mask, queries: rows).output
            #expect(part.shape == [b, rows.count, d])
            #expect(maxDifference(part, full.slice(axis: 1, rows)) < 1e-6, "\(rows)")
        }
    }

    /// No queries (or no keys) is an empty result, not a trap.
    @Test func emptyProblemsAreEmpty() {
        let none = Tensor.zeros([1, 2, 0, 8]), some = Tensor(repeating: 1, shape: [1, 2, 3, 8])
        #expect(scaledDotProductAttention(q: none, k: some, v: some).output.shape == [1, 2, 0, 8])
        let out = scaledDotProductAttention(q: some, k: none, v: none).output
        #expect(out.shape == [1, 2, 3, 8] && out.scalars.allSatisfy { $0 == 0 })
    }
}
