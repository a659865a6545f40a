import Foundation
import Tessera
import TesseraTestSupport
import Testing

@testable import TesseraCLI

/// `tessera models` prints the registries, and the registries resolve every fixture directory to its family.
@Suite struct ModelsCommandTests {
    @Test func tokenizerRegistryResolvesTheDemoModel() throws {
        let entry = try TokenizerRegistry.registry.entry(for: CLIFixtures.demoModel)
        #expect(entry.family.hasPrefix("TiTok"))
        #expect(entry.repositories.contains("Assets/models/titok-demo (bundled)"))
        #expect(TokenizerRegistry.entries.map(\.family).contains(entry.family))
    }

    @Test(arguments: [
        ("towers/clip", "CLIP vision (Hugging Face)"), ("towers/siglip", "SigLIP vision (Hugging Face)"),
        ("vit/model", "timm ViT"),
    ])
    func visionRegistryResolvesTheFixtures(_ path: String, _ family: String) throws {
        let entry = try VisionEncoderRegistry.registry.entry(for: Fixtures.url(path))
        #expect(entry.family == family)
        #expect(VisionEncoderRegistry.entries.map(\.family).contains(family))
        #expect(!entry.repositories.isEmpty)
    }

    @Test func registriesDoNotConfuseKinds() throws {
        #expect(throws: UnknownModelError.self) { try TokenizerRegistry.registry.entry(for: CLIFixtures.clip) }
        #expect(throws: UnknownModelError.self) { try VisionEncoderRegistry.registry.entry(for: CLIFixtures.demoModel) }
        let bert = try scratch("bert-registry")
        try Data(#"{"model_type": "bert"}"#.utf8).write(to: bert.appendingPathComponent("config.json"))
        do {
            _ = try VisionEncoderRegistry.registry.entry(for: bert)
            Issue.record("a bert directory resolved")
        } catch let error as UnknownModelError {
            #expect(error.known == VisionEncoderRegistry.entries.map(\.family))
            #expect(error.kind == "vision encoder")
        }
    }

    @Test func jsonListsEveryRegisteredFamily() throws {
        let command = try Models.parse(["--json"])
        #expect(command.json)
        let output = try OutputCapture.capture(STDOUT_FILENO) { try command.run() }
        // other tests may print meanwhile: take the object the command printed
        let start = try #require(output.range(of: "{\n  \"tokenizers\""))
        let end = try #require(output.range(of: "\n}", range: start.upperBound..<output.endIndex))
        let json = Data(output[start.lowerBound..<end.upperBound].utf8)
        let object = try #require(try JSONSerialization.jsonObject(with: json) as? [String: [[String: Any]]])
        let tokenizers = try #require(object["tokenizers"]), encoders = try #require(object["vision_encoders"])
        #expect(tokenizers.compactMap { $0["family"] as? String } == TokenizerRegistry.entries.map(\.family))
        #expect(encoders.compactMap { $0["family"] as? String } == VisionEncoderRegistry.entries.map(\.family))
        #expect(
            encoders.compactMap { $0["repositories"] as? [String] }
                == VisionEncoderRegistry.entries.map(\.repositories))
        #expect(tokenizers.compactMap { $0["notes"] as? String } == TokenizerRegistry.entries.map(\.notes))
    }

    @Test func plainListingNamesEveryFamily() throws {
        let output = try OutputCapture.capture(STDOUT_FILENO) { try Models.parse([]).run() }
        for entry in TokenizerRegistry.entries { #expect(output.contains("  \(entry.family) — \(entry.notes)")) }
        for entry in VisionEncoderRegistry.entries { #expect(output.contains("  \(entry.family) — \(entry.notes)")) }
    }
}
