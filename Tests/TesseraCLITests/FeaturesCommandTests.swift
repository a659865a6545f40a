import ArgumentParser
import Foundation
import Tessera
import TesseraTestSupport
import Testing

@testable import TesseraCLI

/// `tessera features` on every registered encoder: shapes per --pool and --layer, the sidecar, and load errors.
@Suite struct FeaturesCommandTests {
    /// Runs `features` on `model` with `arguments`; returns the array and its sidecar.
    func features(
        _ model: URL, _ arguments: [String], inputs: [String] = CLIFixtures.towerImages,
        name: String = "features"
    ) throws -> (array: NPYArray, sidecar: [String: Any]) {
        let out = try scratch(name).appendingPathComponent("out.npy")
        let command = try Features.parse(["--model", model.path] + arguments + inputs + ["-o", out.path])
        try command.run()
        let array = try NPYArray(contentsOf: out)
        let sidecar = try jsonObject(out.appendingPathExtension("json"))
        return (array, sidecar)
    }

    @Test func negativeLayerParsesWithASpaceOrAnEqualsSign() throws {
        #expect(try Features.parse(["--model", "m", "--layer", "-2", "a.png", "-o", "o.npy"]).layer == -2)
        #expect(try Features.parse(["--model", "m", "--layer=-1", "a.png", "-o", "o.npy"]).layer == -1)
        #expect(try Features.parse(["--model", "m", "a.png", "--layer", "0", "-o", "o.npy"]).layer == 0)
        #expect(try Features.parse(["--model", "m", "a.png", "-o", "o.npy"]).layer == nil)
    }

    @Test func negativeLayerRunsAndIsRecordedInTheSidecar() throws {
        let (array, sidecar) = try features(CLIFixtures.clip, ["--layer", "-2", "--pool", "none"])
        #expect(array.shape == [2, 17, 64])
        #expect(sidecar["sources"] as? [String] == CLIFixtures.towerImages)
        #expect(sidecar["layer"] as? Int == -2)
        #expect(sidecar["pool"] as? String == "none")
        #expect(sidecar["shape"] as? [Int] == [2, 17, 64])
        #expect(sidecar["family"] as? String == "clip")
        #expect(sidecar["model"] as? String == CLIFixtures.clip.path)

        // -2 of a 2-block tower is block 0; -1 (written with '=') is block 1 and differs
        let (first, _) = try features(CLIFixtures.clip, ["--layer", "0", "--pool", "none"])
        #expect(maxAbsDiff(array.floats(), first.floats()) == 0)
        let (last, lastSidecar) = try features(CLIFixtures.clip, ["--layer=-1", "--pool", "none"])
        #expect(lastSidecar["layer"] as? Int == -1)
        #expect(last.shape == [2, 17, 64])
        #expect(maxAbsDiff(array.floats(), last.floats()) > 1e-4)
        let (one, _) = try features(CLIFixtures.clip, ["--layer", "1", "--pool", "none"])
        #expect(maxAbsDiff(one.floats(), last.floats()) == 0)
    }

    @Test func finalLayerIsNamedFinal() throws {
        let (array, sidecar) = try features(CLIFixtures.clip, [])
        #expect(array.shape == [2, 64])
        #expect(sidecar["layer"] as? String == "final")
        #expect(sidecar["pool"] as? String == "cls")
    }

    @Test func layerOutsideTheEncoderIsRefused() throws {
        for layer in ["-3", "2"] {
            let message = errorMessage {
                _ = try features(CLIFixtures.clip, ["--layer", layer], name: "features-bad-layer")
            }
            #expect(message?.contains("--layer") == true, "\(message ?? "")")
            #expect(message?.contains("layer \(layer)") == true, "\(message ?? "")")
        }
    }

    /// The three pools agree with each other: cls is token 0 and mean the mean of the patch tokens of `none`.
    func checkPools(_ model: URL, tokens: Int, width: Int, prefix: Int, layer: [String] = []) throws {
        let (none, _) = try features(model, layer + ["--pool", "none"])
        #expect(none.shape == [2, tokens, width])
        let (mean, _) = try features(model, layer + ["--pool", "mean"])
        #expect(mean.shape == [2, width])
        let all = none.floats()
        var expected = [Float](repeating: 0, count: 2 * width)
        for b in 0..<2 {
            for t in prefix..<tokens {
                for c in 0..<width { expected[b * width + c] += all[(b * tokens + t) * width + c] }
            }
        }
        expected = expected.map { $0 / Float(tokens - prefix) }
        #expect(maxAbsDiff(mean.floats(), expected) < 1e-4)
        if prefix > 0 {
            let (cls, _) = try features(model, layer + ["--pool", "cls"])
            #expect(cls.shape == [2, width])
            let token0 = (0..<2).flatMap { b in all[(b * tokens * width)..<(b * tokens * width + width)] }
            #expect(maxAbsDiff(cls.floats(), token0) < 1e-6)
        }
    }

    @Test func clipPools() throws {
        try checkPools(CLIFixtures.clip, tokens: 17, width: 64, prefix: 1)
        try checkPools(CLIFixtures.clip, tokens: 17, width: 64, prefix: 1, layer: ["--layer", "-2"])
    }

    @Test func siglipPools() throws {
        try checkPools(CLIFixtures.siglip, tokens: 16, width: 64, prefix: 0)
        let (pooled, sidecar) = try features(CLIFixtures.siglip, ["--pool", "cls"])
        #expect(pooled.shape == [2, 64])  // the attention-pooling head
        #expect(sidecar["family"] as? String == "siglip")
        let (mean, _) = try features(CLIFixtures.siglip, ["--pool", "mean"])
        #expect(maxAbsDiff(pooled.floats(), mean.floats()) > 1e-4)
    }

    @Test func siglipClsWithALayerIsRefused() throws {
        let message = errorMessage { _ = try features(CLIFixtures.siglip, ["--layer", "-2", "--pool", "cls"]) }
        #expect(message?.contains("no class token") == true, "\(message ?? "")")
        let (mean, _) = try features(CLIFixtures.siglip, ["--layer", "-2", "--pool", "mean"])
        #expect(mean.shape == [2, 64])
    }

    @Test func timmViTPools() throws {
        let image = [CLIFixtures.towerImages[0]]
        let (cls, sidecar) = try features(CLIFixtures.vit, ["--pool", "cls"], inputs: image)
        #expect(cls.shape == [1, 192])
        #expect(sidecar["family"] as? String == "timm-vit")
        #expect(sidecar["architecture"] as? String == "vit_tiny_patch16_224")
        let (none, _) = try features(CLIFixtures.vit, ["--pool", "none"], inputs: image)
        #expect(none.shape == [1, 197, 192])
        #expect(maxAbsDiff(cls.floats(), Array(none.floats()[0..<192])) < 1e-6)
        let (mean, _) = try features(CLIFixtures.vit, ["--pool", "mean", "--layer", "-2"], inputs: image)
        #expect(mean.shape == [1, 192])
    }

    @Test func foldersAreSearchedAndNonImagesSkipped() throws {
        let folder = try scratch("features-in")
        for path in CLIFixtures.towerImages {
            try FileManager.default.copyItem(
                atPath: path,
                toPath: folder.appendingPathComponent(
                    URL(fileURLWithPath: path).lastPathComponent
                ).path)
        }
        try Data("not an image".utf8).write(to: folder.appendingPathComponent("notes.txt"))
        let (array, sidecar) = try features(CLIFixtures.clip, ["--pool", "mean"], inputs: [folder.path])
        #expect(array.shape == [2, 64])
        let sources = try #require(sidecar["sources"] as? [String])
        #expect(
            sources.map { URL(fileURLWithPath: $0).lastPathComponent }
                == ["astronaut_75x100.png", "chelsea_100x67.png"])
    }

    @Test func aBrokenImageFailsButTheOthersAreWritten() throws {
        let folder = try scratch("features-broken")
        let broken = folder.appendingPathComponent("broken.png")
        try Data([0x89, 0x50, 0x4E, 0x47, 0, 1, 2, 3]).write(to: broken)
        let out = folder.appendingPathComponent("out.npy")
        let command = try Features.parse([
            "--model", CLIFixtures.clip.path, "--pool", "mean",
            CLIFixtures.towerImages[0], broken.path, "-o", out.path,
        ])
        #expect(throws: ExitCode.self) { try command.run() }
        #expect(try NPYArray(contentsOf: out).shape == [1, 64])
        let sidecar = try jsonObject(out.appendingPathExtension("json"))
        #expect(sidecar["sources"] as? [String] == [CLIFixtures.towerImages[0]])
    }

    @Test func unknownDirectoryListsTheKnownFamilies() throws {
        let folder = try scratch("bert")
        try Data(#"{"model_type": "bert"}"#.utf8).write(to: folder.appendingPathComponent("config.json"))
        let message = errorMessage { _ = try features(folder, []) }
        let text = try #require(message)
        #expect(text.contains("known families"), "\(text)")
        #expect(!VisionEncoderRegistry.entries.isEmpty)
        for entry in VisionEncoderRegistry.entries {
            #expect(text.contains(entry.family), "\(entry.family) missing from: \(text)")
        }
    }

    @Test func missingDirectoryIsReportedAsSuch() {
        let message = errorMessage { _ = try features(URL(fileURLWithPath: "/nonexistent/tessera-model"), []) }
        #expect(message?.contains("no such model directory") == true, "\(message ?? "")")
    }

    /// A copy of the CLIP fixture whose config.json has `field` replaced by `value` (JSON text).
    func corruptedCLIP(_ field: String, _ value: String) throws -> URL {
        let folder = try scratch("clip-broken")
        for file in ["config.json", "model.safetensors", "preprocessor_config.json"] {
            try FileManager.default.copyItem(
                at: CLIFixtures.clip.appendingPathComponent(file),
                to: folder.appendingPathComponent(file))
        }
        let config = folder.appendingPathComponent("config.json")
        let text = try String(contentsOf: config, encoding: .utf8)
        let pattern = try Regex("\"\(field)\": [^,\\n]+")
        #expect(text.contains(pattern))
        try Data(text.replacing(pattern, with: "\"\(field)\": \(value)").utf8).write(to: config)
        return folder
    }

    @Test(arguments: [("hidden_size", "-3"), ("hidden_size", "\"big\""), ("num_hidden_layers", "0")])
    func brokenCLIPConfigReportsTheConfig(_ field: String, _ value: String) throws {
        let folder = try corruptedCLIP(field, value)
        let text = try #require(errorMessage { _ = try features(folder, []) })
        #expect(text.contains("config.json"), "\(text)")
        #expect(text.contains(field), "\(text)")
        #expect(!text.lowercased().contains("timm"), "\(text)")
        #expect(!text.contains("known families"), "\(text)")
    }
}
