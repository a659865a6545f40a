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
        let uncond = model.velocity(noise, time: [0.7, 0.7], registers: model.nullConditioning(count: 2))
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
