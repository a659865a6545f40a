import Foundation
import TesseraCore
import TesseraMedia
import TesseraNN
import TesseraQuantizers
import TesseraTestSupport
import Testing

@testable import TesseraModels

/// FlexTok against the official apple/ml-flextok code (Tests/Reference/make_flextok_fixtures.py):
/// random-weight checkpoints in the published layout, every stage and full guided decodes with
/// the reference's noise.
@Suite struct FlexTokTests {
    static let root = Fixtures.url("flextok")

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var testDescription: String { name }
    }
    static let cases = ["zero_null", "learned_null"].map { Case(name: $0) }

    struct Decode: Decodable {
        var keep: [Int]
        var steps: Int
        var guidance: Float
        var apg: Bool
    }
    struct Manifest: Decodable {
        var images: [String]
        var decodes: [Decode]
    }
    static let manifest: Manifest? = Fixtures.load("flextok/manifest.json")

    @Test(arguments: cases)
    func configReadsTheVariant(_ c: Case) throws {
        let model = try FlexTok(directory: Self.root.appendingPathComponent(c.name))
        let config = model.config
        #expect(config.imageSize == 64 && config.registers == 32 && config.levels == [8, 8, 8, 5, 5, 5])
        #expect(model.descriptor.vocabularySizes == [64000] && model.descriptor.family == "flextok")
        if c.name == "zero_null" {
            #expect(config.nullCondition == .zero && config.decoderPositions == .sincos && !config.headAdaLN)
            #expect(config.maxTimestep == 1 && config.scalingFactor == 0.8 && !config.samplePosterior)
        } else {
            #expect(config.nullCondition == .learned(singleToken: true) && config.decoderPositions == .learnableSum)
            #expect(config.headAdaLN && config.maxTimestep == 1000 && config.encoder.dim == 64)
            #expect(config.decoder.dim == 128)
        }
    }

    @Test(arguments: cases)
    func stagesMatchOfficialCode(_ c: Case) throws {
        let dir = Self.root.appendingPathComponent(c.name)
        let model = try FlexTok(directory: dir)
        let e = try SafeTensorsFile(url: dir.appendingPathComponent("expected.safetensors"))
        let pixels = try e.tensor("images")
        // Preprocessing: upstream's demo transform (torchvision on PIL) on the same files.
        let names = try #require(Self.manifest).images
        let ours = try names.map {
            try Image(contentsOf: Fixtures.repository.appendingPathComponent("Assets/images/\($0)"))
        }
        .map { model.preprocessing.tensor($0) }
        #expect(maxDifference(Tensor.concatenate(ours.map { $0.reshaped([1] + $0.shape) }, axis: 0), pixels) <= 1e-6)

        let posterior = model.posterior(pixels)
        let latents = posterior.mean * model.config.scalingFactor
        try expectClose("vae_mean", latents, e)
        let registers = model.registerLatents(try e.tensor("vae_mean"))
        try expectClose("enc_registers", registers, e)
        let ids = try model.quantize(registers)
        #expect(ids.flatMap { $0 } == (try e.integers("ids")), "\(c.name) token ids")

        // One decoder evaluation, conditional and unconditional.
        let keep = try e.integers("forward_keep")
        let refIDs = try e.integers("ids")
        let r = model.config.registers
        let sets = (0..<2).map { Array(refIDs[($0 * r)..<($0 * r + keep[$0])]) }
        let noise = try e.tensor("forward_noise")
        let cond = model.velocity(noise, time: [0.7, 0.7], registers: try model.conditioning(sets))
        try expectClose("forward_cond", cond, e)
        let null = model.nullConditioning(count: 2)
        #expect(null.registers.shape == [2, 1, model.config.decoder.dim])
        let uncond = model.velocity(
            noise, time: [0.7, 0.7], registers: null.registers, multiplicity: null.multiplicity)
        try expectClose("forward_uncond", uncond, e)

        try expectClose("vae_decoded", model.decodeLatents(try e.tensor("vae_mean")), e)
    }

    @Test(arguments: cases)
    func guidedDecodesMatchOfficialCode(_ c: Case) throws {
        let dir = Self.root.appendingPathComponent(c.name)
        let model = try FlexTok(directory: dir)
        let e = try SafeTensorsFile(url: dir.appendingPathComponent("expected.safetensors"))
        let refIDs = try e.integers("ids"), r = model.config.registers
        for (i, d) in try #require(Self.manifest).decodes.enumerated() {
            let sets = (0..<2).map { Array(refIDs[($0 * r)..<($0 * r + d.keep[$0])]) }
            let latents = model.sample(
                noise: try e.tensor("decode\(i)_noise"), conditioning: try model.conditioning(sets), steps: d.steps,
                guidance: d.guidance, mode: d.apg ? .apg : .cfg)
            try expectClose("decode\(i)_latents", latents, e)
            // Through the public API: token sets, noise per set, options.
            let tokens = sets.map { Tokens(ids: $0, shape: [$0.count], vocabularySizes: [64000], model: "m") }
            let noise = try e.tensor("decode\(i)_noise")
            let images = try model.decode(
                tokens,
                options: DecodeOptions(
                    steps: d.steps, guidanceScale: d.guidance, guidanceMode: d.apg ? .apg : .cfg,
                    noise: [noise.slice(axis: 0, 0..<1), noise.slice(axis: 0, 1..<2)]))
            let reference = try e.tensor("decode\(i)_images")
            let diff = maxDifference(
                Tensor.concatenate(images.map { $0.reshaped([1] + $0.shape) }, axis: 0), reference)
            #expect(diff <= 1e-3, "\(c.name) decode \(i) images: max |Δ| \(diff)")
        }
    }
}

/// Hostile and broken FlexTok inputs: each gives an error naming the file or the problem.
@Suite struct FlexTokBadInputTests {
    static let source = FlexTokTests.root.appendingPathComponent("zero_null/model.safetensors")

    /// A copy of the zero_null checkpoint with `edit` applied to its metadata (and tensors).
    func checkpoint(
        _ name: String, metadata edit: (inout [String: String]) -> Void = { _ in },
        drop: (String) -> Bool = { _ in false }, rename: (String) -> String = { $0 }
    ) throws -> URL {
        let file = try SafeTensorsFile(url: Self.source)
        var metadata = file.metadata
        edit(&metadata)
        let dir = Fixtures.scratchFolder("flextok-bad-\(name)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let tensors = try file.names.filter { !drop($0) }.map {
            (rename($0), SafeTensorsWriter.Payload.float(try file.tensor($0)))
        }
        try SafeTensorsWriter.write(tensors, metadata: metadata, to: dir.appendingPathComponent("model.safetensors"))
        return dir
    }

    func loadError(_ dir: URL) -> String {
        do {
            _ = try FlexTok(directory: dir)
            Issue.record("\(dir.lastPathComponent) loaded")
            return ""
        } catch {
            return "\(error)"
        }
    }

    @Test func targetOutsideTheAllowlistIsRefused() throws {
        let dir = try checkpoint("target") {
            $0["regularizer"] = $0["regularizer"]?.replacingOccurrences(
                of: "flextok.regularizers.quantize_fsq.FSQ", with: "os.system")
        }
        let message = loadError(dir)
        #expect(message.contains("model.safetensors") && message.contains("os.system"), "\(message)")
        #expect(message.contains("not a FlexTok class"))
    }

    @Test func malformedMetadataNamesTheEntry() throws {
        let dir = try checkpoint("malformed") { $0["decoder"] = "{'_target_': __import__('os')}" }
        let message = loadError(dir)
        #expect(message.contains("model.safetensors") && message.contains("'decoder'"), "\(message)")
    }

    @Test func missingKeysAreListed() throws {
        let dir = try checkpoint("missing", drop: { $0.contains("dec_transformer.blocks.1.mlp.fc3") })
        let message = loadError(dir)
        #expect(
            message.contains("missing") && message.contains("dec_transformer.blocks.1.mlp.fc3.weight"), "\(message)")
    }

    @Test func unsupportedVariantsAreNamed() throws {
        let dir = try checkpoint("mask") {
            $0["encoder"] = $0["encoder"]?.replacingOccurrences(of: "'causal_last'", with: "'full'")
        }
        #expect(loadError(dir).contains("mask_mode must be causal_last"))
        let noScale = try checkpoint("scale") {
            $0["vae"] = $0["vae"]?.replacingOccurrences(of: "'scaling_factor': 0.8", with: "'scaling_factor': None")
        }
        #expect(loadError(noScale).contains("scaling_factor"))
    }

    @Test func activationCheckpointWrappersAreUnwrapped() throws {
        let dir = try checkpoint(
            "wrapped",
            rename: {
                guard let r = $0.range(of: #"blocks\.\d+\."#, options: .regularExpression) else { return $0 }
                return String($0[..<r.upperBound]) + "_checkpoint_wrapped_module." + String($0[r.upperBound...])
            })
        let keys = try SafeTensorsFile(url: dir.appendingPathComponent("model.safetensors")).names
        #expect(keys.contains { $0.contains("._checkpoint_wrapped_module.") })
        let model = try FlexTok(directory: dir)
        let e = try SafeTensorsFile(url: FlexTokTests.root.appendingPathComponent("zero_null/expected.safetensors"))
        let ids = try model.quantize(model.registerLatents(try e.tensor("vae_mean")))
        #expect(ids.flatMap { $0 } == (try e.integers("ids")))
    }

    @Test func scalingFactorFromTheHubVAEConfig() throws {
        let dir = try checkpoint("hubscale") {
            $0["vae"] = $0["vae"]?.replacingOccurrences(of: "'scaling_factor': 0.8", with: "'scaling_factor': None")
        }
        let vae = dir.appendingPathComponent("vae")
        try FileManager.default.createDirectory(at: vae, withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            at: FlexTokTests.root.appendingPathComponent("vae_c16/config.json"),
            to: vae.appendingPathComponent("config.json"))
        #expect(try FlexTok(directory: dir).config.scalingFactor == 0.8)
    }

    @Test func sizesAreCheckedAgainstTheTensorsBeforeAllocation() throws {
        // A hostile config: a huge trunk the tensors do not have (would be gigabytes if allocated).
        let dir = try checkpoint("huge") {
            $0["decoder"] = $0["decoder"]?.replacingOccurrences(of: "'depth': 2", with: "'depth': 200")
                .replacingOccurrences(of: "'dim': 128", with: "'dim': 8192")
        }
        let message = loadError(dir)
        #expect(message.contains("model.safetensors") && message.contains("dec_transformer"), "\(message)")
        let deeper = try checkpoint("deeper") {
            $0["encoder"] = $0["encoder"]?.replacingOccurrences(of: "'depth': 2", with: "'depth': 3")
        }
        #expect(loadError(deeper).contains("depth 3"))
    }

    @Test func badTokenSetsAndNoiseAreRefused() throws {
        let model = try FlexTok(directory: FlexTokTests.root.appendingPathComponent("zero_null"))
        func tokens(_ ids: [Int]) -> Tokens {
            Tokens(ids: ids, shape: [ids.count], vocabularySizes: [64000], model: "m")
        }
        let options = DecodeOptions(steps: 1, guidanceScale: 1)
        #expect(throws: TokenizerError.self) { try model.decode([tokens([64000])], options: options) }
        #expect(throws: TokenizerError.self) { try model.decode([tokens([-1])], options: options) }
        #expect(throws: TokenizerError.self) { try model.decode([tokens([])], options: options) }
        #expect(throws: TokenizerError.self) {
            try model.decode([tokens(Array(repeating: 1, count: 33))], options: options)
        }
        var limited = options
        limited.tokenLimit = 0
        #expect(throws: TokenizerError.self) { try model.decode([tokens([1])], options: limited) }
        var noisy = options
        noisy.noise = [Tensor.zeros([16, 4, 4])]
        let message = errorText { _ = try model.decode([tokens([1, 2])], options: noisy) }
        #expect(message.contains("[16, 8, 8]"), "\(message)")
        var steps = options
        steps.steps = 0
        #expect(throws: TokenizerError.self) { try model.decode([tokens([1])], options: steps) }
    }

    @Test func decodesAreDeterministicPerTokenSet() throws {
        let model = try FlexTok(directory: FlexTokTests.root.appendingPathComponent("zero_null"))
        let a = Tokens(ids: [1, 2, 3], shape: [3], vocabularySizes: [64000], model: "m")
        let b = Tokens(ids: [4, 5], shape: [2], vocabularySizes: [64000], model: "m")
        let options = DecodeOptions(batchSize: 2, seed: 7, steps: 2, guidanceScale: 3)
        let together = try model.decode([a, b], options: options)
        var single = options
        single.batchSize = 1
        let alone = try model.decode([b], options: single)
        #expect(maxDifference(together[1], alone[0]) <= 1e-4, "same token set, same noise, whatever the batch")
        var reseeded = options
        reseeded.seed = 8
        #expect(maxDifference(try model.decode([a], options: reseeded)[0], together[0]) > 1e-3)
    }
}

private func errorText(_ body: () throws -> Void) -> String {
    do {
        try body()
        return ""
    } catch {
        return "\(error)"
    }
}

/// A diffusers AutoencoderKL directory (the FlexTok VAE layout) against diffusers itself.
@Suite struct DiffusersVAETests {
    @Test func encodeAndDecodeMatchDiffusers() throws {
        let dir = FlexTokTests.root.appendingPathComponent("vae_c16")
        let model = try TokenizerRegistry.load(dir)
        let vae = try #require(model as? DiffusersVAE)
        #expect(vae.config.blockOutChannels == [32, 32, 64, 64] && vae.config.latentChannels == 16)
        #expect(model.descriptor.isContinuous && model.descriptor.tokenShape == [8, 8])
        let e = try SafeTensorsFile(url: dir.appendingPathComponent("expected.safetensors"))
        let posterior = vae.posterior(try e.tensor("images"))
        try expectClose("mean", posterior.mean, e)
        try expectClose("logvar", posterior.logVariance, e)
        try expectClose("decoded", vae.decodeLatents(try e.tensor("mean")), e)
    }

    @Test func tokensRoundTripThroughTheProtocol() throws {
        let vae = try DiffusersVAE(directory: FlexTokTests.root.appendingPathComponent("vae_c16"))
        let image = Tensor(shape: [3, 64, 64], scalars: (0..<(3 * 64 * 64)).map { Float($0 % 255) / 127.5 - 1 })
        let tokens = try vae.encode(preprocessed: [image], options: EncodeOptions())
        #expect(tokens[0].latents?.shape == [8 * 8, 16])
        let back = try vae.decode(tokens, options: DecodeOptions())
        #expect(back[0].shape == [3, 64, 64])
        let direct = vae.decodeLatents(vae.posterior(image.reshaped([1, 3, 64, 64])).mean)
        #expect(maxDifference(back[0], direct.reshaped([3, 64, 64])) == 0, "tokens carry the posterior mean")
        #expect(throws: TokenizerError.self) { try vae.decode(tokens, options: DecodeOptions(steps: 3)) }
    }
}

/// The published d12_d12 layout at full size: every key and shape of upstream's model (written by
/// the reference generator) binds, and the sizes come out as the released model's.
@Suite struct FlexTokPublishedLayoutTests {
    struct Layout: Decodable {
        var metadata: [String: String]
        var shapes: [String: [Int]]
    }

    @Test func d12d12KeySetBinds() throws {
        let layout = try #require(Fixtures.load("flextok/d12_d12_shapes.json", as: Layout.self))
        // A sparse file: the real header, zero data (nothing is written for the 1.4 GB of weights).
        let dir = Fixtures.scratchFolder("flextok-d12")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try Fixtures.writeSparseSafeTensors(
            shapes: layout.shapes, metadata: layout.metadata, to: dir.appendingPathComponent("model.safetensors"))

        let model = try FlexTok(directory: dir)
        let c = model.config
        #expect(c.imageSize == 256 && c.registers == 256 && c.grid == 16 && c.latentChannels == 16)
        #expect(c.encoder.dim == 768 && c.encoder.depth == 12 && c.encoder.heads == 12 && c.encoder.mlpHidden == 2048)
        #expect(c.decoder.dim == 768 && c.decoder.depth == 12 && c.decoder.adaLNExpansion == 2)
        #expect(c.vae.blockOutChannels == [128, 256, 512, 512] && c.vae.layersPerBlock == 2)
        #expect(model.descriptor.tokenShape == [256] && model.descriptor.vocabularySizes == [64000])
        #expect(model.descriptor.noiseShape == [16, 32, 32])
    }
}
