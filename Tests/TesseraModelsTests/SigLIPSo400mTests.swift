import Foundation
import TesseraCore
import TesseraMedia
import TesseraTestSupport
import Testing

@testable import TesseraModels

/// The google/siglip-so400m-patch14-384 layout (Tests/Fixtures/towers/siglip_so400m, made by
/// Tests/Reference/make_siglip_so400m_fixture.py): 384 px input with 14 px patches, so the patch
/// convolution floors to a 27 × 27 grid of 729 tokens; reduced width and depth, random weights.
@Suite struct SigLIPSo400mTests {
    static let directory = TowerFixtures.root.appendingPathComponent("siglip_so400m")

    static func expected() throws -> SafeTensorsFile {
        try SafeTensorsFile(url: directory.appendingPathComponent("expected.safetensors"))
    }

    /// The reference `pixel_values` [1, 3, 384, 384]: stored as the processor's uint8 resize output,
    /// `(x − 127.5) / 127.5` in Float32 is bit-exactly what SiglipImageProcessor computes from it.
    static func referencePixels(_ e: SafeTensorsFile) throws -> Tensor {
        let resized = try e.tensor("resized")
        return Tensor(shape: [1] + resized.shape, scalars: resized.scalars.map { ($0 - 127.5) / 127.5 })
    }

    static func image() throws -> Image {
        try Image(contentsOf: TowerFixtures.root.appendingPathComponent("images/chelsea_100x67.png"))
    }

    @Test func registryResolvesTheLayout() throws {
        let encoder = try VisionEncoderRegistry.load(Self.directory)
        #expect(encoder is SigLIPVisionTower)
        let d = encoder.descriptor
        #expect(d.family == "siglip")
        #expect(d.inputSize == PixelSize(384) && d.patchSize == 14)
        #expect(d.gridRows == 27 && d.gridColumns == 27)
        #expect(d.patchTokens == 729 && d.prefixTokens == 0 && d.tokens == 729)
        #expect(!d.hasClassToken)
        #expect(d.width == 32 && d.depth == 2 && d.heads == 2)
    }

    @Test func preprocessingMatchesSiglipImageProcessor() throws {
        let encoder = try VisionEncoderRegistry.load(Self.directory)
        let ref = try Self.referencePixels(try Self.expected())
        let got = encoder.preprocessing.tensor(try Self.image())
        #expect(got.shape == [3, 384, 384])
        guard got.count == ref.count else { return }
        let error = maxDifference(got, ref)
        #expect(error <= 1e-5, "pixel_values: max |Δ| \(error)")
    }

    @Test func forwardMatchesTransformers() throws {
        let encoder = try VisionEncoderRegistry.load(Self.directory)
        let e = try Self.expected()
        let output = encoder.forward(try Self.referencePixels(e), keepHiddenStates: true)
        #expect(output.hiddenStates.count == 3)
        for (i, h) in output.hiddenStates.enumerated() { try expectClose("hidden_states.\(i)", h, e) }
        #expect(output.hiddenStates.first?.shape == [1, 729, 32])
        try expectClose("last_hidden_state", output.lastHiddenState, e)
        try expectClose("pooler_output", try #require(output.pooled), e)
    }
}
