import Foundation
import Testing
import TesseraTestSupport
@testable import Tessera

/// CLIP and SigLIP vision towers against transformers (Tests/Fixtures/towers, made by
/// Tests/Reference/make_tower_fixtures.py): preprocessing, every hidden state, attention
/// probabilities and the pooled output.
@Suite struct VisionTowerTests {
    static let root = Fixtures.url("towers")

    struct Manifest: Decodable { var batch_order: [String] }

    func images() throws -> [Image] {
        let data = try Data(contentsOf: Self.root.appendingPathComponent("manifest.json"))
        let names = try JSONDecoder().decode(Manifest.self, from: data).batch_order
        return try names.map { name in
            try Image(contentsOf: Self.root.appendingPathComponent(name.hasPrefix("images/") ? name : "images/" + name))
        }
    }

    func check(_ name: String, _ got: Tensor, _ e: SafeTensorsFile, tolerance: Float = 1e-4) throws {
        let ref = try e.tensor(name)
        #expect(got.shape == ref.shape, "\(name): \(got.shape) vs \(ref.shape)")
        guard got.count == ref.count else { return }
        var diff: Float = 0, scale: Float = 0
        for i in 0..<ref.count { diff = max(diff, abs(got.scalars[i] - ref.scalars[i])); scale = max(scale, abs(ref.scalars[i])) }
        #expect(diff / max(scale, 1e-12) <= tolerance, "\(name): relative error \(diff / max(scale, 1e-12))")
    }

    @Test(arguments: ["clip", "siglip"])
    func matchesTransformers(_ family: String) throws {
        let dir = Self.root.appendingPathComponent(family)
        let e = try SafeTensorsFile(url: dir.appendingPathComponent("expected.safetensors"))
        let images = try images()
        #expect(!images.isEmpty)
        let output: VisionTowerOutput
        let pixels: Tensor
        if family == "clip" {
            let tower = try CLIPVisionTower(directory: dir)
            pixels = Tensor.concatenate(images.map { let t = tower.processor.tensor($0); return t.reshaped([1] + t.shape) }, axis: 0)
            output = tower.forward(try e.tensor("pixel_values"), statistics: .full)
        } else {
            let tower = try SigLIPVisionTower(directory: dir)
            pixels = Tensor.concatenate(images.map { let t = tower.processor.tensor($0); return t.reshaped([1] + t.shape) }, axis: 0)
            output = tower.forward(try e.tensor("pixel_values"), statistics: .full)
        }
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
        try SafeTensorsWriter.write(try original.names.map { (String($0.dropFirst("vision_model.".count)), .float(try original.tensor($0))) },
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
