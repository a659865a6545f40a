import Foundation
import TesseraCore
import TesseraMedia
import TesseraNN
import TesseraTestSupport
import Testing

@testable import TesseraModels

/// The registries decide the family of every published directory layout from its files, and
/// refuse anything else with an error that lists the families they know.
@Suite struct RegistryTests {
    static let demo = Fixtures.repository.appendingPathComponent("Assets/models/titok-demo")

    @Test(arguments: ["legacy_vq", "vq_pixel", "vae", "one_d_piece", "tatitok"])
    func titokLayoutsResolve(_ name: String) throws {
        let entry = try TokenizerRegistry.registry.entry(for: Fixtures.url("titok/\(name)"))
        #expect(entry.family.hasPrefix("TiTok"))
        let tokenizer = try TokenizerRegistry.load(Fixtures.url("titok/\(name)"))
        #expect(tokenizer.descriptor.family == "titok" && tokenizer.modelID == name)
    }

    @Test func bundledDemoModelResolves() throws {
        let tokenizer = try TokenizerRegistry.load(Self.demo)
        let d = tokenizer.descriptor
        #expect(
            d.inputSize == PixelSize(128) && d.tokenShape == [32] && d.vocabularySizes == [1024] && d.variableLength)
        #expect(d.outputRange == 0...1 && d.positions == 32 && !d.isContinuous)
    }

    @Test(arguments: [("towers/clip", "clip"), ("towers/siglip", "siglip"), ("vit/model", "timm-vit")])
    func encoderLayoutsResolve(_ path: String, _ family: String) throws {
        let encoder = try VisionEncoderRegistry.load(Fixtures.url(path))
        #expect(encoder.descriptor.family == family)
        #expect(encoder.stack.depth == encoder.descriptor.depth)
    }

    /// A full CLIP model's config (vision settings under `vision_config`) is a CLIP encoder too.
    @Test func fullModelConfigResolves() throws {
        let dir = Fixtures.scratchFolder("full-clip")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data(#"{"model_type": "clip", "vision_config": {"hidden_size": 8}}"#.utf8)
            .write(to: dir.appendingPathComponent("config.json"))
        #expect(try VisionEncoderRegistry.registry.entry(for: dir).family.hasPrefix("CLIP"))
    }

    @Test func unknownDirectoriesListTheKnownFamilies() throws {
        let dir = Fixtures.scratchFolder("unknown-model")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data(#"{"model_type": "bert"}"#.utf8).write(to: dir.appendingPathComponent("config.json"))
        for (load, registry) in [
            ({ _ = try TokenizerRegistry.load(dir) }, TokenizerRegistry.entries.map(\.family)),
            ({ _ = try VisionEncoderRegistry.load(dir) }, VisionEncoderRegistry.entries.map(\.family)),
        ] {
            do {
                try load()
                Issue.record("an unknown directory loaded")
            } catch let error as UnknownModelError {
                #expect(error.path == dir.path && error.known == registry)
                #expect(registry.allSatisfy { "\(error)".contains($0) })
            }
        }
        // SigLIP 2 is a different architecture: not taken for SigLIP
        try Data(#"{"model_type": "siglip2_vision_model"}"#.utf8).write(to: dir.appendingPathComponent("config.json"))
        #expect(throws: UnknownModelError.self) { _ = try VisionEncoderRegistry.load(dir) }
        #expect(throws: ModelConfigError.self) { _ = try TokenizerRegistry.load(dir.appendingPathComponent("missing")) }
    }

    /// A broken config is reported as such by the family that recognises the directory.
    @Test func configErrorsNameTheFileAndField() throws {
        let dir = Fixtures.scratchFolder("bad-clip")
        try FileManager.default.copyItem(at: Fixtures.url("towers/clip"), to: dir)
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("config.json")
        let text = try String(contentsOf: url, encoding: .utf8)
        try text.replacingOccurrences(of: #""hidden_size": 64"#, with: #""hidden_size": -3"#)
            .write(to: url, atomically: true, encoding: .utf8)
        do {
            _ = try VisionEncoderRegistry.load(dir)
            Issue.record("a broken config loaded")
        } catch let error as ModelConfigError {
            #expect(error.path.hasSuffix("config.json") && error.reason.contains("hidden_size"))
        }
    }

    /// Preprocessing comes from config.json, never from the folder's name: One-D-Piece's config
    /// gives bilinear resizing wherever it lies, and a TiTok folder named like One-D-Piece stays bicubic.
    @Test func preprocessingDoesNotDependOnTheFolderName() throws {
        let renamed = Fixtures.scratchFolder("plain-name")
        let misnamed = Fixtures.scratchFolder("one-d-piece-lookalike")
        defer { [renamed, misnamed].forEach { try? FileManager.default.removeItem(at: $0) } }
        try FileManager.default.copyItem(at: Fixtures.url("titok/one_d_piece"), to: renamed)
        try FileManager.default.copyItem(at: Fixtures.url("titok/vq_pixel"), to: misnamed)
        #expect(try TokenizerRegistry.load(renamed).preprocessing.filter == .bilinear)
        #expect(try TokenizerRegistry.load(misnamed).preprocessing.filter == .bicubic)
    }
}
