import Foundation
import TesseraCore
import TesseraTestSupport
import Testing

@testable import TesseraReduction

enum ReductionFixtures {
    static let root = Fixtures.url("reduction")
    static let file = try? SafeTensorsFile(url: root.appendingPathComponent("cases.safetensors"))
    nonisolated(unsafe) static let params = Fixtures.caseParameters("reduction/cases.json")
}

/// Each method against its reference implementation (Tests/Reference/make_reduction_fixtures.py;
/// ToMe against facebookresearch/ToMe's own merge.py): identical indices and slot maps, tokens ≤ 1e-5.
@Suite struct ReductionReferenceTests {
    func t(_ name: String) throws -> Tensor { try #require(ReductionFixtures.file).tensor(name) }
    func ints(_ name: String) throws -> [Int] { try #require(ReductionFixtures.file).integers(name) }
    func close(_ a: Tensor, _ b: Tensor) -> Bool {
        a.count == b.count && zip(a.scalars, b.scalars).allSatisfy { abs($0 - $1) <= 1e-5 * max(1, abs($1)) }
    }

    @Test(arguments: ["tome_cls", "tome_nocls", "tome_clamped", "tome_sizes"])
    func tome(_ name: String) throws {
        let p = try #require(ReductionFixtures.params[name])
        let m = BipartiteMatching(
            metric: try t("\(name)/metric"), r: p["r"] as! Int, classToken: p["class_token"] as! Bool)
        #expect(m.r == p["r_effective"] as! Int)
        #expect(m.slotOf == (try ints("\(name)/slot_of")))
        let (merged, sizes) = m.mergeWeighted(try t("\(name)/x"), sizes: try t("\(name)/sizes_in").scalars)
        #expect(close(merged, try t("\(name)/merged")), "\(name) merged")
        #expect(sizes == (try t("\(name)/sizes_out")).scalars)
        #expect(close(m.unmerge(merged), try t("\(name)/unmerged")))
    }

    @Test func schedules() throws {
        #expect(MergeSchedule.perLayer(r: 13, inflect: -0.5, layers: 12) == (try ints("tome_schedule/inflect_m0p5")))
        #expect(MergeSchedule.perLayer(r: 8, inflect: 0.5, layers: 12) == (try ints("tome_schedule/inflect_p0p5")))
        #expect(MergeSchedule.perLayer(r: 13, layers: 12) == (try ints("tome_schedule/constant")))
    }

    @Test func visionZip() throws {
        let r = VisionZip.reduce(
            clsAttention: try t("visionzip/cls_attn"), hidden: try t("visionzip/x"), keys: try t("visionzip/keys"),
            dominant: 5, contextual: 3)
        #expect(r.dominantIndices == (try ints("visionzip/dominant_indices")))
        #expect(close(r.tokens, try t("visionzip/tokens")))
    }

    @Test func divPrune() throws {
        let (kept, order) = TokenPruning.divPrune(try t("divprune/x"), k: 6)
        #expect(order == (try ints("divprune/order")))
        #expect(kept == (try ints("divprune/kept")))
    }

    @Test(arguments: ["fastv", "fastv_half"])
    func fastV(_ name: String) throws {
        let p = try #require(ReductionFixtures.params[name])
        let start = p["image_start"] as! Int, length = p["image_len"] as! Int
        let kept = TokenPruning.fastV(
            attention: try t("\(name)/attn_mean").scalars, image: start..<(start + length), ratio: p["R"] as! Double)
        #expect(kept == (try ints("\(name)/position_ids")))
    }

    @Test(arguments: ["hiprune_alpha0p1", "hiprune_nowrapcheck", "hiprune_wrapcheck"])
    func hiPrune(_ name: String) throws {
        let p = try #require(ReductionFixtures.params[name])
        let kept = TokenPruning.hiPrune(
            objectScores: try t("\(name)/object_scores").scalars, deepScores: try t("\(name)/deep_scores").scalars,
            gridWidth: p["grid_w"] as! Int, budget: p["budget"] as! Int,
            anchorCount: p["anchor_count"] as! Int, checkRowWrap: p["row_wrap_check"] as! Bool)
        #expect(kept == (try ints("\(name)/kept")), "\(name)")
    }
}
