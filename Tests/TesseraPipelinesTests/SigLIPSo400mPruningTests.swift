import Foundation
import TesseraTestSupport
import Testing

@testable import Tessera

/// Token reduction on the google/siglip-so400m-patch14-384 layout (27 × 27 = 729 patches, no CLS;
/// Tests/Fixtures/towers/siglip_so400m, made by Tests/Reference/make_siglip_so400m_fixture.py).
@Suite struct SigLIPSo400mPruningTests {
    static let encoder: any VisionEncoder = try! VisionEncoderRegistry.load(
        TowerFixtures.root.appendingPathComponent("siglip_so400m"))

    func image() throws -> Image {
        try Image(contentsOf: TowerFixtures.root.appendingPathComponent("images/chelsea_100x67.png"))
    }

    @Test func divpruneKeeps64On27x27Grid() throws {
        let reducer = try VisionTokenReducer(
            encoder: Self.encoder, options: TokenReductionOptions(method: .divprune, keep: 64))
        #expect(reducer.grid == 27 && reducer.patches == 729)
        let out = try reducer.reduce(try image())
        #expect(out.indices.count == 64)
        #expect(out.indices == out.indices.sorted() && Set(out.indices).count == 64)
        #expect(out.indices.allSatisfy { $0 >= 0 && $0 < 729 })
        #expect(out.positions.count == 64)
        #expect(zip(out.indices, out.positions).allSatisfy { $0.1 == [0, $0.0 / 27, $0.0 % 27] })
        #expect(out.features.shape == [64, 32])
        #expect(out.grid == 27 && out.inputTokens == 729)
    }

    @Test func tomeSizesCoverEveryPatch() throws {
        let reducer = try VisionTokenReducer(
            encoder: Self.encoder, options: TokenReductionOptions(method: .tome, layer: -1, r: 100))
        let out = try reducer.reduce(try image())
        let sizes = try #require(out.sizes)
        #expect(sizes.reduce(0, +) == 729)
        #expect(sizes.count == out.features.shape[0])
        #expect(out.slots?.count == 729)
        #expect(out.features.shape == [529, 32])  // 729 → 629 → 529
        #expect(out.indices == out.indices.sorted() && out.indices.allSatisfy { $0 < 729 })
    }
}
