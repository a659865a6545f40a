import Foundation
import TesseraCore
import TesseraNN
import TesseraTestSupport
import Testing

@testable import TesseraModels

/// One edit of a model's JSON file (Tests/Fixtures/hostile/*-configs.json): `value` written at the
/// key path `path` of `file` in the model folder `model` (relative to the repository).
struct ConfigEdit: Decodable, Sendable, CustomTestStringConvertible {
    var `case`: String
    var model: String
    var file: String
    var path: [String]
    var value: Int
    /// What the refusal must say.
    var expect: String
    var testDescription: String { self.case }

    /// A scratch copy of the model with the edit made (the caller removes it).
    func apply() throws -> URL {
        let source = Fixtures.repository.appendingPathComponent(model)
        let data = try Data(contentsOf: source.appendingPathComponent(file))
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        func set(_ object: [String: Any], _ path: ArraySlice<String>) -> [String: Any] {
            var object = object
            guard let key = path.first else { return object }
            object[key] = path.count == 1 ? value : set(object[key] as? [String: Any] ?? [:], path.dropFirst())
            return object
        }
        return try Fixtures.modelWithEditedFile(
            source, file, contents: try JSONSerialization.data(withJSONObject: set(json, path[...])))
    }
}

/// Configs that trapped (negative sizes, zero heads, overflowing products) or allocated a model of
/// absurd size before its checkpoint was read (Tests/Fixtures/hostile/titok-configs.json: edits
/// of the demo model's config.json). Each must be refused with an error naming config.json and
/// the field, before anything of that size is allocated.
@Suite struct HostileConfigTests {
    static let edits = Fixtures.load("hostile/titok-configs.json", as: [ConfigEdit].self) ?? []

    @Test func everyEditIsListed() { #expect(Self.edits.count == 11) }

    @Test(arguments: edits)
    func refusedNamingTheField(_ edit: ConfigEdit) throws {
        let dir = try edit.apply()
        defer { try? FileManager.default.removeItem(at: dir) }
        let error = try #require(throws: ModelConfigError.self) { try TiTok(directory: dir) }
        #expect(error.path == dir.appendingPathComponent("config.json").path)
        #expect(error.reason.contains(edit.expect), "\(error)")
    }

    /// The unedited config still loads (the checks refuse only what is wrong).
    @Test func demoModelStillLoads() throws {
        _ = try TiTok(directory: Fixtures.repository.appendingPathComponent("Assets/models/titok-demo"))
    }
}

/// Found by `Scripts/fuzz.sh model-config`: an Emu3 config.json whose field names are garbled, so
/// the published sizes stand in for them (defaults), loaded with the small fixture's weights, built
/// a 1 GB model of zero placeholders before the key check. The encoder's tensors are now checked
/// against the sizes first (Tests/Fixtures/hostile/emu3-defaults-config.json).
@Suite struct FuzzFoundConfigTests {
    @Test func emu3DefaultsAgainstSmallWeights() throws {
        let dir = try Fixtures.modelWithEditedFile(
            Fixtures.url("vqgan/emu3"), "config.json",
            contents: try Data(contentsOf: Fixtures.url("hostile/emu3-defaults-config.json")))
        defer { try? FileManager.default.removeItem(at: dir) }
        let error = try #require(throws: ModelConfigError.self) { try TokenizerRegistry.load(dir) }
        #expect(error.path.hasSuffix("config.json"))
        #expect(error.reason.contains("disagree with the checkpoint"), "\(error)")
    }
}

/// Vision-tower configs (Hugging Face CLIP/SigLIP, timm) with sizes out of range or that the
/// checkpoint lacks, and an image processor asking for a billion-pixel resize
/// (Tests/Fixtures/hostile/tower-configs.json): refused before a tower of those sizes is built.
@Suite struct HostileTowerConfigTests {
    static let edits = Fixtures.load("hostile/tower-configs.json", as: [ConfigEdit].self) ?? []

    @Test func everyEditIsListed() { #expect(Self.edits.count == 7) }

    @Test(arguments: edits)
    func refusedNamingTheField(_ edit: ConfigEdit) throws {
        let dir = try edit.apply()
        defer { try? FileManager.default.removeItem(at: dir) }
        let error = try #require(throws: ModelConfigError.self) { try VisionEncoderRegistry.load(dir) }
        #expect(error.reason.contains(edit.expect), "\(error)")
    }
}
