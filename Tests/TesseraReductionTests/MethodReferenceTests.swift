import Foundation
import TesseraCore
import TesseraTestSupport
import Testing

@testable import TesseraReduction

/// PruMerge(+), HiRED, TransPrune, tomesd, ClustViT and TempMe against their references in
/// Tests/Reference/make_reduction_fixtures.py (tomesd and TempMe's matching run the upstream code
/// itself): identical indices, budgets and slot maps; tokens ≤ 1e-5.
@Suite struct MethodReferenceTests {
    func t(_ name: String) throws -> Tensor { try #require(ReductionFixtures.file).tensor(name) }
    func ints(_ name: String) throws -> [Int] { try #require(ReductionFixtures.file).integers(name) }
    func params(_ name: String) throws -> [String: Any] { try #require(ReductionFixtures.params[name]) }
    func close(_ a: Tensor, _ b: Tensor, _ tolerance: Float = 1e-5) -> Bool {
        a.count == b.count && zip(a.scalars, b.scalars).allSatisfy { abs($0 - $1) <= tolerance * max(1, abs($1)) }
    }
    func rows(_ x: Tensor, _ range: Range<Int>) -> Tensor {
        x.slice(axis: 0, range)
    }

    @Test func hiPruneScores() throws {
        let scores = TokenPruning.attentionReceived(try t("hiprune_scores/attn"), prefix: 1)
        #expect(close(Tensor(shape: [scores.count], scalars: scores), try t("hiprune_scores/score")))
    }

    @Test(arguments: ["prumerge", "prumerge_plus", "prumerge_nn8"])
    func pruMerge(_ name: String) throws {
        let p = try params(name)
        let q = try t("\(name)/q"), k = try t("\(name)/k"), y = try t("\(name)/y")
        let attention = try PruMerge.clsAttention(queries: q, keys: k)
        #expect(close(Tensor(shape: [attention.count], scalars: attention), try t("\(name)/cls_attn")))
        #expect(PruMerge.outlierCount(attention) == p["selected_count"] as! Int)
        let patchKeys = rows(k, 1..<k.shape[0])
        let r = try PruMerge.reduce(
            features: y, keys: patchKeys, attention: attention,
            variant: p["variant"] as! String == "plus" ? .pruMergePlus : .pruMerge,
            neighbours: p["neighbours"] as! Int)
        #expect(r.selected == (try ints("\(name)/selected")))
        #expect(r.kept == (try ints("\(name)/kept")))
        #expect(r.upstreamOrder == (try ints("\(name)/upstream_order")))
        #expect(r.neighbours.flatMap { $0 } == (try ints("\(name)/neighbours")))
        #expect(close(r.tokens, try t("\(name)/tokens")), "\(name) tokens")
    }

    @Test(arguments: ["hired_blocks", "hired_bands", "hired_exact"])
    func hired(_ name: String) throws {
        let p = try params(name)
        let early = try t("\(name)/early_attn"), late = try t("\(name)/late_attn")
        let (parts, heads, t1) = (late.shape[0], late.shape[1], late.shape[2])
        let n = t1 - 1
        let lateScores = try (0..<parts).map { i in
            try HiRED.patchScores(
                Tensor(shape: [heads, t1], scalars: Array(late.scalars[(i * heads * t1)..<((i + 1) * heads * t1)])),
                patches: n)
        }
        let r = try HiRED.select(
            fullEarly: try HiRED.patchScores(early, patches: n), fullLate: lateScores[0],
            tilesLate: Array(lateScores.dropFirst()), gridWidth: p["grid_w"] as! Int,
            tileRows: p["tile_rows"] as! Int, tileColumns: p["tile_cols"] as! Int,
            budgetRate: p["budget_rate"] as! Double, alpha: p["alpha"] as! Double,
            layout: p["layout"] as! String == "blocks" ? .blocks : .rasterBands,
            rounding: p["rounding"] as! String == "floor" ? .floor : .largestRemainder)
        #expect(r.totalBudget == p["total_budget"] as! Int)
        #expect(r.budgets == (try ints("\(name)/budgets")))
        #expect(r.tileShares == (try ints("\(name)/tile_shares")))
        #expect(r.kept.flatMap { $0 } == (try ints("\(name)/kept")))
        #expect(zip(r.kept, r.budgets).allSatisfy { $0.count == $1 && $0 == $0.sorted() })
    }

    @Test func transPrune() throws {
        let p = try params("transprune")
        let ins = try t("transprune/inputs"), outs = try t("transprune/outputs")
        let (layers, tokens, c) = (ins.shape[0], ins.shape[2], ins.shape[3])
        func part(_ x: Tensor, _ l: Int, _ s: Int) -> Tensor {
            let size = tokens * c, start = (l * 2 + s) * size
            return Tensor(shape: [tokens, c], scalars: Array(x.scalars[start..<(start + size)]))
        }
        let expected = try t("transprune/layer_weights")
        var acc = TransPrune.Accumulator(tokens: tokens)
        for l in 0..<layers {
            let w = zip(
                try TransPrune.transitionWeights(input: part(ins, l, 0), output: part(outs, l, 0)),
                try TransPrune.transitionWeights(input: part(ins, l, 1), output: part(outs, l, 1))
            ).map { $0 + $1 }
            #expect(
                close(
                    Tensor(shape: [tokens], scalars: w),
                    Tensor(shape: [tokens], scalars: Array(expected.scalars[(l * tokens)..<((l + 1) * tokens)]))))
            try acc.add(
                attentionInput: part(ins, l, 0), attentionOutput: part(outs, l, 0), mlpInput: part(ins, l, 1),
                mlpOutput: part(outs, l, 1))
        }
        let start = p["image_start"] as! Int, length = p["image_len"] as! Int, keep = p["keep"] as! Int
        let span = Array(acc.variation[start..<(start + length)])
        let iap = try TransPrune.instructionAttention(try t("transprune/text_attn"), image: start..<(start + length))
        let score = try TransPrune.score(variation: span, instructionAttention: iap)
        #expect(close(Tensor(shape: [score.count], scalars: score), try t("transprune/score")))
        #expect(
            try TransPrune.select(variation: span, instructionAttention: iap, keep: keep)
                == (try ints("transprune/kept")))
        #expect(try TransPrune.select(variation: span, keep: keep) == (try ints("transprune/kept_ttv_only")))
        #expect(TransPrune.keepCount(imageTokens: length, ratio: 0.625) == keep)
    }

    @Test(arguments: ["tomesd_random", "tomesd_seeded", "tomesd_norand", "tomesd_clamped"])
    func tomesd(_ name: String) throws {
        let p = try params(name)
        let choice: RandomStrideMatching.Choice
        switch p["choice"] as! String {
        case "topleft": choice = .topLeft
        case "seeded": choice = .seeded(UInt64(p["seed"] as! Int))
        default: choice = .explicit(try ints("\(name)/choices"))
        }
        let m = try RandomStrideMatching(
            metric: try t("\(name)/metric"), width: p["w"] as! Int, height: p["h"] as! Int,
            strideX: p["sx"] as! Int, strideY: p["sy"] as! Int, r: p["r"] as! Int, choice: choice)
        if case .seeded(let seed) = choice {
            #expect(
                RandomStrideMatching.seededChoices(cells: (try ints("\(name)/choices")).count, cellSize: 4, seed: seed)
                    == (try ints("\(name)/choices")))
        }
        #expect(m.r == p["r_effective"] as! Int)
        #expect(m.mergeMap.slotOf == (try ints("\(name)/slot_of")))
        let merged = m.merge(try t("\(name)/x"))
        #expect(close(merged, try t("\(name)/merged")))
        #expect(close(m.unmerge(merged), try t("\(name)/unmerged")))
    }

    @Test func clustViT() throws {
        let c = try ClusterMerging(assignments: try ints("clustvit/assignments"), classToken: true)
        #expect(c.mergeMap.slotOf == (try ints("clustvit/slot_of")))
        #expect(c.clusters == (try #require(ReductionFixtures.params["clustvit"]?["clusters"] as? [Int])))
        let (tokens, sizes) = c.merge(try t("clustvit/x"))
        #expect(close(tokens, try t("clustvit/tokens")))
        #expect(sizes == (try t("clustvit/sizes")).scalars)
        #expect(c.regenerate(try t("clustvit/y")) == (try t("clustvit/regenerated")))
    }

    @Test func tempMe() throws {
        let p = try params("tempme")
        let frames = try t("tempme/frames")
        let (f, t0, c) = (frames.shape[0], frames.shape[1], frames.shape[2])
        let list = (0..<f).map {
            Tensor(shape: [t0, c], scalars: Array(frames.scalars[(($0) * t0 * c)..<(($0 + 1) * t0 * c)]))
        }
        let stages = (p["stages"] as! [[Double]]).map {
            TempMe.Stage(clipsPerGroup: Int($0[0]), crossProportion: $0[1], intraProportion: $0[2])
        }
        let r = try TempMe.reduce(
            frames: list, classTokens: p["class_tokens"] as! Int, frameR: p["frame_r"] as! Int, stages: stages)
        #expect(r.frameR == p["frame_r_effective"] as! Int)
        #expect(r.stageR.map { [$0.cross, $0.intra] } == p["stage_r"] as! [[Int]])
        #expect(r.classTokens == p["class_tokens_out"] as! Int)
        #expect(r.mergeMap.slotOf == (try ints("tempme/slot_of")))
        let clips = try t("tempme/clips")
        #expect(
            close(
                Tensor.concatenate(r.clips, axis: 0), clips.reshaped([clips.shape[0] * clips.shape[1], clips.shape[2]]))
        )
        #expect(r.sizes.flatMap { $0 } == (try t("tempme/sizes")).scalars)
    }
}
