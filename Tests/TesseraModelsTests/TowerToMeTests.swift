import Foundation
import TesseraCore
import TesseraModels
import TesseraNN
import TesseraTestSupport
import Testing

@testable import TesseraReduction

/// ToMe inside the CLIP and SigLIP towers against transformers' towers patched the way
/// facebookresearch/ToMe patches timm (Tests/Reference/make_tome_tower_fixture.py): every hidden
/// state, the pooled output, sizes and sources.
@Suite struct TowerToMeTests {
    static let root = TowerFixtures.root

    @Test(arguments: [
        ("clip", "r3", MergeSchedule.perLayer(r: 3, layers: 2), true),
        ("clip", "sched", MergeSchedule.perLayer(r: 4, inflect: -0.5, layers: 2), true),
        ("clip", "noprop", MergeSchedule.perLayer(r: 3, layers: 2), false),
        ("clip", "r8", MergeSchedule.perLayer(r: 8, layers: 2), true),
        ("siglip", "r3", MergeSchedule.perLayer(r: 3, layers: 2), true),
        ("siglip", "sched", MergeSchedule.perLayer(r: 4, inflect: -0.5, layers: 2), true),
        ("siglip", "noprop", MergeSchedule.perLayer(r: 3, layers: 2), false),
    ])
    func matchesPatchedTransformers(_ c: (String, String, [Int], Bool)) throws {
        let (family, suffix, schedule, proportional) = c
        let e = try SafeTensorsFile(url: Self.root.appendingPathComponent("tome_expected.safetensors"))
        let dir = Self.root.appendingPathComponent(family)
        let pixels = try SafeTensorsFile(url: dir.appendingPathComponent("expected.safetensors")).tensor("pixel_values")
        let merging = TokenMerging(schedule: schedule, proportionalAttention: proportional)
        let tower: any VisionEncoder =
            family == "clip" ? try CLIPVisionTower(directory: dir) : try SigLIPVisionTower(directory: dir)
        var runner = ToMeRunner(merging: merging, classToken: tower.descriptor.hasClassToken)
        let out = tower.forward(pixels, keepHiddenStates: true, runner: &runner)
        let prefix = "\(family)_\(suffix)/"
        let check = { try expectClose($0, $1, $2, tolerance: $3) }
        for (i, h) in out.hiddenStates.enumerated() { try check(prefix + "hidden_states.\(i)", h, e, 1e-4) }
        try check(prefix + "last_hidden_state", out.lastHiddenState, e, 1e-4)
        try check(prefix + "pooler_output", try #require(out.pooled), e, 1e-4)
        let trace = try #require(runner.trace)
        #expect(trace.sizes.flatMap { $0 } == (try e.tensor(prefix + "size")).scalars)
        let source = try e.tensor(prefix + "source")
        let (tOut, tIn) = (source.shape[1], source.shape[2])
        #expect(trace.slotOf.allSatisfy { $0.count == tIn })
        for b in 0..<trace.slotOf.count {
            for i in 0..<tIn {
                #expect(
                    source.scalars[(b * tOut + trace.slotOf[b][i]) * tIn + i] == 1, "\(prefix) sample \(b) token \(i)")
            }
        }
        if family == "clip" { #expect(trace.slotOf.allSatisfy { $0[0] == 0 } && trace.sizes.allSatisfy { $0[0] == 1 }) }
    }

    @Test func tokenCountsFollowTheClamp() {
        let m = TokenMerging(r: 8, layers: 2)
        #expect(m.tokenCounts(tokens: 17, protected: 1, layers: 2) == [9, 5])
        #expect(m.tokenCounts(tokens: 16, protected: 0, layers: 2) == [8, 4])
    }
}
