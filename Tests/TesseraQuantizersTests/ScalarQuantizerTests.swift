import Foundation
import TesseraCore
import Testing

@testable import TesseraQuantizers

/// The published checks of each quantizer's definition (shared/reference/quantizers.md).
@Suite struct ScalarQuantizerTests {
    @Test func fsqKnownIds() throws {
        let fsq = try FSQ(levels: [8, 5, 5, 5])
        #expect(fsq.codebookSize == 1000 && fsq.basis == [1, 8, 40, 200])
        let z = Tensor(
            shape: [3, 4],
            scalars: [
                0, 0, 0, 0, .infinity, .infinity, .infinity, .infinity,
                -.infinity, -.infinity, -.infinity, -.infinity,
            ])
        let (ids, codes) = try fsq.encode(z)
        #expect(ids == [500, 999, 0])
        #expect(Array(codes.scalars[4..<8]) == [0.75, 1, 1, 1])  // L = 8 is asymmetric: −1 … 0.75
        #expect(try fsq.decode(ids) == codes)
        // every id decodes to a distinct code inside [−1, 1]
        let all = try fsq.decode(Array(0..<fsq.codebookSize))
        let rows = Set((0..<1000).map { Array(all.scalars[($0 * 4)..<($0 * 4 + 4)]) })
        #expect(rows.count == 1000 && all.scalars.allSatisfy { $0 >= -1 && $0 <= 1 })
        #expect(throws: QuantizerError.self) { try fsq.decode([1000]) }
        #expect(throws: QuantizerError.self) { try FSQ(levels: [2, 3]) }
        let flextok = try FSQ(levels: [8, 8, 8, 5, 5, 5])
        #expect(flextok.codebookSize == 64000 && flextok.basis == [1, 8, 64, 512, 2560, 12800])
    }

    @Test func fsqPreserveSymmetryHandlesLevelTwo() throws {
        let fsq = try FSQ(levels: [2, 3, 4], preserveSymmetry: true)
        let (ids, codes) = try fsq.encode(Tensor(shape: [2, 3], scalars: [-3, 0, 0.2, 3, 3, -3]))
        // level-2 channel: ±1; level-3 channel: −1, 0, 1; level-4 channel: −1, −1/3, 1/3, 1
        #expect(codes.scalars[0] == -1 && codes.scalars[1] == 0 && abs(codes.scalars[2] - 1.0 / 3) < 1e-6)
        #expect(try fsq.decode(ids) == codes)
        #expect(codes.scalars[0] == -1 && codes.scalars[3] == 1)
    }

    @Test func lfqSignsAndIds() throws {
        let lfq = try LFQ(dimension: 4)
        let (ids, codes) = try lfq.encode(Tensor(shape: [2, 4], scalars: [1, -1, -1, -1, 0, 2, 0, 3]))
        #expect(ids == [8, 5])  // MSB first; 0 counts as negative
        #expect(codes.scalars == [1, -1, -1, -1, -1, 1, -1, 1])
        #expect(try lfq.decode(ids) == codes)
        let bsq = try LFQ(dimension: 4, spherical: true)
        #expect(
            try bsq.encode(Tensor(shape: [1, 4], scalars: [3, -1, 2, -5])).codes.scalars == [0.5, -0.5, 0.5, -0.5])
        let two = try LFQ(dimension: 8, codebooks: 2)
        #expect(try two.encode(Tensor(shape: [1, 8], scalars: [1, 1, -1, -1, -1, -1, 1, 1])).ids == [12, 3])
        #expect(throws: QuantizerError.self) { try lfq.decode([16]) }
    }

    @Test func tokenBridgeRepresentatives() throws {
        let q = try DimensionWiseQuantizer(bits: 6, range: -5...5, stdRange: 3)
        let r = q.representatives
        #expect(r.count == 64)
        for (i, expected) in [(0, -2.43710), (1, -1.99424), (2, -1.76421), (31, -0.019585), (32, 0.019585)] {
            #expect(abs(r[i] - expected) < 5e-5, "r\(i) = \(r[i])")
        }
        #expect(abs(q.boundaries[1] - -2.15387) < 5e-5)
        // nearest representative, not bucketing: −2.2 (standardized) is closer to r₁ than r₀
        let x = Tensor(shape: [3], scalars: [0.0, 100, -100])
        let ids = q.encode(x)
        #expect(ids == [31, 63, 0])  // 0 lies exactly between r31 and r32: the lower wins
        let back = try q.decode(ids, shape: [3])
        #expect(abs(back.scalars[0] - Float((r[31] + 3) / 6 * 10 - 5)) < 1e-6)
    }

    @Test func binaryPacking() throws {
        let e = Tensor(shape: [4, 2], scalars: [1, 0, 0, 1, 10, 10, 100, 0])
        let q = try BinaryQuantizer(embedding: e)
        let ids = try q.encode(Tensor(shape: [2, 4], scalars: [0.5, 0, -1, 2, -1, 3, 1, 0]))
        #expect(ids == [0b1001, 0b0110])
        #expect(try q.decode(ids).scalars == [101, 0, 10, 11])
    }

    @Test func inverseNormalCDFIsAccurate() {
        for p in [1e-12, 1e-4, 0.02, 0.3, 0.5, 0.77, 0.9999] {
            let x = inverseNormalCDF(p)
            #expect(abs(normalCDF(x) - p) < 1e-12 * max(1, p * 1e3), "p = \(p)")
        }
    }
}

@Suite struct QuantizerSpecTests {
    @Test func parsesEveryKind() throws {
        guard case .fsq(let f) = try QuantizerSpec(parsing: "fsq:8,5,5,5") else { Issue.record("not fsq"); return }
        #expect(f.levels == [8, 5, 5, 5] && !f.preserveSymmetry)
        guard case .fsq(let s) = try QuantizerSpec(parsing: "fsq-sym:2,3,4") else { Issue.record("not fsq"); return }
        #expect(s.preserveSymmetry)
        guard case .lfq(let l) = try QuantizerSpec(parsing: "lfq:16,codebooks=2,scale=0.5") else {
            Issue.record("not lfq"); return
        }
        #expect(l.dimension == 16 && l.codebooks == 2 && l.scale == 0.5 && !l.spherical)
        guard case .lfq(let b) = try QuantizerSpec(parsing: "bsq:8") else { Issue.record("not bsq"); return }
        #expect(b.spherical)
        guard case .dimensionWise(let d, _) = try QuantizerSpec(parsing: "dimwise:bits=4,range=-2:2,std=2.5") else {
            Issue.record("not dimwise"); return
        }
        #expect(d.levels == 16 && d.range == -2...2 && d.stdRange == 2.5)
        for bad in ["vq:3", "fsq:", "fsq:8,x", "lfq", "lfq:7,codebooks=2", "dimwise:range=3:1"] {
            #expect(throws: QuantizerError.self, "\(bad)") { try QuantizerSpec(parsing: bad) }
        }
    }

    @Test func roundTripThroughSpec() throws {
        let x = Tensor(shape: [4, 6], scalars: (0..<24).map { Float($0) / 7 - 1.5 })
        // (FSQ codes are not inputs of FSQ's tanh bound; its decode == encode check is in fsqKnownIds.)
        for text in ["lfq:6,codebooks=3", "bsq:6", "dimwise:bits=6"] {
            let spec = try QuantizerSpec(parsing: text)
            let ids = try spec.quantize(x)
            #expect(ids.count == 4 * spec.idsPerRow(dimension: 6))
            let codes = try spec.dequantize(ids, rows: 4, dimension: 6)
            #expect(try spec.quantize(codes) == ids, "\(text): codes re-quantize to the same ids")
        }
    }

    @Test func codebookUsage() throws {
        let u = try CodebookUsage(ids: [0, 0, 1, 3], vocabularySize: 4)
        #expect(u.used == 3 && u.dead == 1 && u.utilization == 0.75)
        #expect(abs(u.perplexity - exp(-(0.5 * log(0.5) + 2 * 0.25 * log(0.25)))) < 1e-12)
        #expect(throws: QuantizerError.self) { try CodebookUsage(ids: [4], vocabularySize: 4) }
    }
}

@Suite struct EdgeCaseTests {
    @Test func nonFiniteInputsHaveDefinedResults() throws {
        let fsq = try FSQ(levels: [8, 5])
        let (ids, codes) = try fsq.encode(Tensor(shape: [1, 2], scalars: [.nan, .nan]))
        #expect(ids == [0] && codes.scalars == [-1, -1])  // NaN → level 0
        let lfq = try LFQ(dimension: 2)
        #expect(try lfq.encode(Tensor(shape: [1, 2], scalars: [.nan, .infinity])).ids == [1])  // NaN is not > 0
        let vq = VectorQuantizer(
            codebook: Tensor(shape: [2, 2], scalars: [0, 0, 1, 1]), metric: .euclidean(clampMin: nil))
        #expect(vq.encode(Tensor(shape: [2, 2], scalars: [.nan, 0, 0.9, 1.2])) == [0, 1])  // NaN row → first code
        let dim = try DimensionWiseQuantizer()
        #expect(dim.encode(Tensor(shape: [3], scalars: [.nan, .infinity, -.infinity])) == [32, 63, 0])
    }

    @Test func tiesGoToTheFirstCode() {
        let vq = VectorQuantizer(
            codebook: Tensor(shape: [3, 2], scalars: [1, 0, -1, 0, 1, 0]), metric: .euclidean(clampMin: nil))
        #expect(vq.encode(Tensor(shape: [2, 2], scalars: [0, 0, 0, 5])) == [0, 0])
        let cos = VectorQuantizer(
            codebook: Tensor(shape: [2, 2], scalars: [0, 1, 0, 1]), metric: .cosine(inputEps: 1e-6))
        #expect(cos.encode(Tensor(shape: [1, 2], scalars: [0, 0])) == [0])
    }

    @Test func codebookFileSpec() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent(
            "tessera-codebook-\(UUID()).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try SafeTensorsWriter.write(
            [("codebook", .float(Tensor(shape: [3, 2], scalars: [0, 0, 1, 1, -1, 2])))], to: url)
        let spec = try QuantizerSpec(parsing: "vq:\(url.path)")
        #expect(try spec.quantize(Tensor(shape: [2, 2], scalars: [0.9, 0.8, -1, 1.9])) == [1, 2])
        #expect(spec.vocabularySize == 3)
        #expect(throws: QuantizerError.self) { try spec.quantize(Tensor(shape: [1, 3], scalars: [0, 0, 0])) }
        #expect(throws: QuantizerError.self) { try spec.dequantize([3], rows: 1, dimension: 2) }
        #expect(throws: QuantizerError.self) { try QuantizerSpec(parsing: "vq:/nonexistent.safetensors") }
        #expect(throws: QuantizerError.self) { try QuantizerSpec(parsing: "vq:\(url.path),bogus") }
    }
}
