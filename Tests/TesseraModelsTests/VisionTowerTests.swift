import Foundation
import TesseraCore
import TesseraMedia
import TesseraNN
import TesseraTestSupport
import Testing

@testable import TesseraModels

/// CLIP and SigLIP vision towers against transformers (Tests/Fixtures/towers, made by
/// Tests/Reference/make_tower_fixtures.py): preprocessing, every hidden state, attention
/// probabilities and the pooled output.
@Suite struct VisionTowerTests {
    static let root = TowerFixtures.root

    func images() throws -> [Image] { try TowerFixtures.images() }

    func check(_ name: String, _ got: Tensor, _ e: SafeTensorsFile, tolerance: Float = 1e-4) throws {
        try expectClose(name, got, e, tolerance: tolerance)
    }

    @Test(arguments: ["clip", "siglip"])
    func matchesTransformers(_ family: String) throws {
        let dir = Self.root.appendingPathComponent(family)
        let e = try SafeTensorsFile(url: dir.appendingPathComponent("expected.safetensors"))
        let images = try images()
        #expect(!images.isEmpty)
        let tower: any VisionEncoder =
            family == "clip" ? try CLIPVisionTower(directory: dir) : try SigLIPVisionTower(directory: dir)
        let pixels = tower.pixels(images)
        let output = tower.forward(try e.tensor("pixel_values"), statistics: .full, keepHiddenStates: true)
        #expect(output.hiddenStates.count == tower.descriptor.depth + 1)
        try check("pixel_values", pixels, e, tolerance: 1e-6)
        for (i, h) in output.hiddenStates.enumerated() { try check("hidden_states.\(i)", h, e) }
        for (i, a) in output.attentions.enumerated() { try check("attentions.\(i)", a, e) }
        try check("last_hidden_state", output.lastHiddenState, e)
        if e.entries["pooler_output"] != nil { try check("pooler_output", try #require(output.pooled), e) }
    }
}

extension VisionTowerTests {
    /// transformers 5 writes vision-only checkpoints without the `vision_model.` prefix.
    @Test func loadsUnprefixedCheckpoints() throws {
        let source = Self.root.appendingPathComponent("siglip")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-siglip-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for f in ["config.json", "preprocessor_config.json"] {
            try FileManager.default.copyItem(at: source.appendingPathComponent(f), to: dir.appendingPathComponent(f))
        }
        let original = try SafeTensorsFile(url: source.appendingPathComponent("model.safetensors"))
        try SafeTensorsWriter.write(
            try original.names.map { (String($0.dropFirst("vision_model.".count)), .float(try original.tensor($0))) },
            to: dir.appendingPathComponent("model.safetensors"))
        let tower = try SigLIPVisionTower(directory: dir)
        let e = try SafeTensorsFile(url: source.appendingPathComponent("expected.safetensors"))
        try check("pooler_output", try #require(tower.forward(try e.tensor("pixel_values")).pooled), e)
    }
}

@Suite struct LLaVAProjectorTests {
    @Test func matchesTorchSequential() throws {
        let dir = VisionTowerTests.root.appendingPathComponent("projector")
        let projector = try LLaVAProjector(directory: dir.appendingPathComponent("model.safetensors"))
        let e = try SafeTensorsFile(url: dir.appendingPathComponent("expected.safetensors"))
        let y = projector(try e.tensor("features")), ref = try e.tensor("projected")
        #expect(y.shape == ref.shape)
        #expect(zip(y.scalars, ref.scalars).allSatisfy { abs($0 - $1) <= 1e-5 })
        #expect(projector.inputWidth == 64 && projector.outputWidth == 48)
    }
}
