import Foundation
import TesseraCore
import TesseraModels
import TesseraNN
import TesseraTestSupport
import Testing

@testable import TesseraReduction

/// The block runners observe the one forward pass without changing it: TransPrune's variation and
/// the captured keys equal what re-running the sublayers on the hidden states gives (the way the
/// pipeline computed them before the runners), and no block runs twice.
@Suite struct RunnerTests {
    static let towers: [any VisionEncoder] = [
        try! CLIPVisionTower(directory: TowerFixtures.root.appendingPathComponent("clip")),
        try! SigLIPVisionTower(directory: TowerFixtures.root.appendingPathComponent("siglip")),
        try! TimmViT(directory: Fixtures.url("vit/model")),
    ]

    func pixels(_ tower: any VisionEncoder) throws -> Tensor { tower.pixels([try TowerFixtures.images()[0]]) }

    @Test(arguments: 0..<3)
    func transPruneRunsEachBlockOnce(_ which: Int) throws {
        let tower = Self.towers[which], depth = tower.descriptor.depth
        let x = try pixels(tower)
        var runner = TransPruneRunner(layers: depth)
        let out = tower.forward(x, runner: &runner)
        #expect(runner.blocksRun == depth && out.layersRun == depth && runner.failure == nil)
        let plain = tower.forward(x, keepHiddenStates: true)
        #expect(out.lastHiddenState == plain.lastHiddenState)
        // the accumulation the pipeline did before: every block's sublayers re-run on hidden_states
        var expected = TransPrune.Accumulator(tokens: tower.descriptor.tokens)
        for (l, block) in tower.stack.blocks.enumerated() {
            let h = plain.hiddenStates[l], (t, d) = (h.shape[1], h.shape[2])
            let b1 = block.norm1(h)
            var (a1, _) = block.attention(b1)
            if let scale = block.layerScale1 { a1 = a1 * scale }
            var mid = h
            mid.add(a1)
            let b2 = block.norm2(mid)
            var a2 = block.mlp(b2)
            if let scale = block.layerScale2 { a2 = a2 * scale }
            try expected.add(
                attentionInput: b1.reshaped([t, d]), attentionOutput: a1.reshaped([t, d]),
                mlpInput: b2.reshaped([t, d]), mlpOutput: a2.reshaped([t, d]))
        }
        #expect(runner.accumulators.first?.variation == expected.variation)
    }

    @Test(arguments: 0..<3)
    func keyCaptureKeepsTheBlocksOwnProjections(_ which: Int) throws {
        let tower = Self.towers[which], last = tower.descriptor.depth - 1
        let x = try pixels(tower)
        var capture = KeyCapture(layers: [0, last])
        let out = tower.forward(x, runner: &capture)
        let plain = tower.forward(x, keepHiddenStates: true)
        #expect(out.lastHiddenState == plain.lastHiddenState)
        for l in [0, last] {
            let block = tower.stack.blocks[l]
            let qkv = block.attention.qkv(block.norm1(plain.hiddenStates[l])), d = qkv.shape[2] / 3
            #expect(capture.projections[l] == qkv)
            #expect(capture.keys(l) == qkv.slice(axis: 2, d..<(2 * d)))
            #expect(capture.queries(l) == qkv.slice(axis: 2, 0..<d))
        }
        #expect(capture.projections.count == 2)
    }

    /// ToMe with r = 0 everywhere is the plain forward pass.
    @Test(arguments: 0..<3)
    func tomeWithoutMergesIsThePlainPass(_ which: Int) throws {
        let tower = Self.towers[which]
        let x = try pixels(tower)
        var runner = ToMeRunner(
            merging: TokenMerging(schedule: [], proportionalAttention: false),
            classToken: tower.descriptor.hasClassToken)
        let out = tower.forward(x, runner: &runner)
        #expect(out.lastHiddenState == tower.forward(x).lastHiddenState)
        #expect(runner.trace?.sizes.first?.allSatisfy { $0 == 1 } == true)
    }
}
