import Foundation
import TesseraCore
import TesseraMedia
import TesseraNN
import TesseraQuantizers
import TesseraTestSupport
import Testing

@testable import TesseraModels

enum TiTokFixtures {
    static let root = Fixtures.url("titok")
    static let images = ["images/chelsea_90x70.png", "images/astronaut_70x90.png"]  // manifest batch_order
}

/// TiTok-family models against the PyTorch reference (Tests/Reference/titok_reference.py,
/// itself checked against the official code): every stage, exact token ids.
@Suite struct TiTokTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var testDescription: String { name }
    }
    static let cases = ["legacy_vq", "vq_pixel", "vae", "one_d_piece", "tatitok"].map { Case(name: $0) }

    @Test(arguments: cases)
    func stagesMatchReference(_ c: Case) throws {
        let dir = TiTokFixtures.root.appendingPathComponent(c.name)
        let model = try TiTok(directory: dir)
        let e = try SafeTensorsFile(url: dir.appendingPathComponent("expected.safetensors"))
        // Preprocessing: decoded PNGs through the model's own eval transform.
        let images = try TiTokFixtures.images.map {
            try Image(contentsOf: TiTokFixtures.root.appendingPathComponent($0))
        }
        let pixels = Tensor.concatenate(
            images.map {
                let t = model.preprocessing.tensor($0); return t.reshaped([1] + t.shape)
            }, axis: 0)
        let referencePixels = try e.tensor("pixel_values")
        #expect(maxDifference(pixels, referencePixels) <= 1e-6, "\(c.name) pixel_values")

        let latents = model.encodeLatents(referencePixels)
        let refLatents = try e.tensor("encoder_latents")
        #expect(
            maxDifference(latents, refLatents) <= 1e-4 * max(1, refLatents.scalars.map(abs).max()!),
            "\(c.name) encoder_latents")

        let z: Tensor
        if model.config.isVAE {
            let posterior = DiagonalGaussian(parameters: latents, axis: 1)
            #expect(maxDifference(posterior.mean, try e.tensor("mean").reshaped(posterior.mean.shape)) <= 1e-4)
            z = posterior.mean
        } else {
            let ids = model.quantize(latents)
            let refIDs = try e.integers("ids")
            #expect(ids.flatMap { $0 } == refIDs, "\(c.name) token ids")
            z = try model.lookup(ids)
            #expect(maxDifference(z, try e.tensor("quantized").reshaped(z.shape)) <= 1e-6, "\(c.name) quantized")
        }
        if c.name == "tatitok" {
            let text = try e.tensor("text_guidance")  // [B, 77, dim]: one text per image
            let out = model.decodeLatents(z, text: text)
            try checkReconstruction(out, e, "", c.name)
        } else {
            try checkReconstruction(model.decodeLatents(z), e, "", c.name)
        }
        if c.name == "one_d_piece" {
            for k in [1, 4] {
                let prefix = z.slice(axis: 2, 0..<k)
                try checkReconstruction(model.decodeLatents(prefix), e, "_k\(k)", c.name)
            }
        }

        // TA-TiTok through the protocol: the text embeddings are a decode option, one per token set.
        if model.config.textContext != nil {
            let tokens = try model.encode(
                preprocessed: (0..<referencePixels.shape[0]).map {
                    referencePixels.slice(axis: 0, $0..<($0 + 1)).reshaped(Array(referencePixels.shape.dropFirst()))
                }, options: EncodeOptions())
            let decoded = try model.decode(tokens, options: DecodeOptions(conditioning: try e.tensor("text_guidance")))
            try checkReconstruction(
                Tensor.concatenate(decoded.map { $0.reshaped([1] + $0.shape) }, axis: 0), e, "", c.name)
        }

        // The whole API path: images → tokens → images (8-bit), as a user calls it.
        if !model.config.isVAE && model.config.textContext == nil {
            let tokens = try model.encode(images)
            #expect(tokens.flatMap(\.ids) == (try e.integers("ids")))
            let decoded = try model.decodeImages(tokens)
            let reference = try e.tensor("reconstruction_u8")
            let bytes = decoded.flatMap(\.pixels).map(Float.init)
            #expect(
                maxDifference(Tensor(shape: reference.shape, scalars: bytes), reference) <= 1, "\(c.name) 8-bit output")
        }
    }

    private func checkReconstruction(_ image: Tensor, _ e: SafeTensorsFile, _ suffix: String, _ name: String) throws {
        let ref = try e.tensor("reconstruction" + suffix)
        let diff = maxDifference(image, ref)
        #expect(diff <= 1e-4, "\(name) reconstruction\(suffix): max abs diff \(diff)")
    }

    @Test func vaeSamplingIsSeeded() throws {
        let model = try TiTok(directory: TiTokFixtures.root.appendingPathComponent("vae"))
        let image = try Image(contentsOf: TiTokFixtures.root.appendingPathComponent(TiTokFixtures.images[0]))
        let mean = try model.encode([image])[0]
        let seeded = EncodeOptions(seed: 7)
        let a = try model.encode([image], options: seeded)[0], b = try model.encode([image], options: seeded)[0]
        #expect(a == b)
        #expect(a != mean)
        #expect(a.latents?.shape == [model.config.tokens, model.config.tokenSize])
        #expect(try model.encode([image], options: EncodeOptions(seed: 8))[0] != a)
    }

    /// A seeded sample depends on (seed, image) only: batch 1, batch 5 and a shuffled batch give
    /// each image the same sample, and two different images in one batch get different noise.
    @Test func samplesDoNotDependOnTheBatch() throws {
        let model = try TiTok(directory: TiTokFixtures.root.appendingPathComponent("vae"))
        let base = try TiTokFixtures.images.map { try Image(contentsOf: TiTokFixtures.root.appendingPathComponent($0)) }
        let images = (0..<5).map { i in base[i % 2].resized(width: 60 + 7 * i, height: 70 + 3 * i) }
        let pixels = images.map(model.preprocessing.tensor)
        let one = try pixels.map {
            try model.encode(preprocessed: [$0], options: EncodeOptions(batchSize: 1, seed: 3))[0]
        }
        let five = try model.encode(preprocessed: pixels, options: EncodeOptions(batchSize: 5, seed: 3))
        let two = try model.encode(preprocessed: pixels, options: EncodeOptions(batchSize: 2, seed: 3))
        let order = [3, 0, 4, 1, 2]
        let shuffled = try model.encode(
            preprocessed: order.map { pixels[$0] }, options: EncodeOptions(batchSize: 5, seed: 3))
        // BLAS blocking makes the posterior itself differ in the last bits between batch sizes;
        // the noise must not differ at all (the old per-batch seeding moved samples by ~1σ)
        func close(_ a: Tokens, _ b: Tokens) -> Bool {
            guard let x = a.latents, let y = b.latents else { return false }
            return relativeError(x, y) <= 1e-5
        }
        #expect(zip(one, five).allSatisfy(close) && zip(one, two).allSatisfy(close))
        #expect(order.enumerated().allSatisfy { close(shuffled[$0.offset], one[$0.element]) })
        // the same image's posterior mean differs from its sample; the noise of two images differs
        let means = try model.encode(preprocessed: pixels, options: EncodeOptions())
        let noise0 = zip(one[0].latents!.scalars, means[0].latents!.scalars).map { $0 - $1 }
        let noise1 = zip(one[1].latents!.scalars, means[1].latents!.scalars).map { $0 - $1 }
        #expect(noise0 != noise1)
    }

    @Test func badTokensAreRefused() throws {
        let model = try TiTok(directory: TiTokFixtures.root.appendingPathComponent("vq_pixel"))
        let n = model.config.tokens, k = try #require(model.config.codebookSize)
        let outOfRange = Tokens(
            ids: [k] + Array(repeating: 0, count: n - 1), shape: [n], vocabularySizes: [k], model: "x")
        #expect(throws: TokenizerError.self) { try model.decodeImages([outOfRange]) }
        let tooLong = Tokens(ids: Array(repeating: 0, count: n + 1), shape: [n + 1], vocabularySizes: [k], model: "x")
        #expect(throws: TokenizerError.self) { try model.decodeImages([tooLong]) }
        let mismatched = Tokens(ids: [1, 2], shape: [3], vocabularySizes: [k], model: "x")
        #expect(throws: TokenizerError.self) { try model.decodeImages([mismatched]) }
        let ta = try TiTok(directory: TiTokFixtures.root.appendingPathComponent("tatitok"))
        #expect(throws: TokenizerError.self) {
            try ta.decodeImages([Tokens(ids: [0], shape: [1], vocabularySizes: [k], model: "x")])
        }
        #expect(throws: TokenizerError.self) {
            try model.decode([outOfRange], options: DecodeOptions(conditioning: Tensor.zeros([77, 768])))
        }
        // options that do not apply to a one-pass decoder are refused, not ignored
        let valid = Tokens(ids: Array(repeating: 0, count: n), shape: [n], vocabularySizes: [k], model: "x")
        for options in [DecodeOptions(seed: 1), DecodeOptions(steps: 20), DecodeOptions(guidanceScale: 7.5)] {
            #expect(throws: TokenizerError.self) { try model.decode([valid], options: options) }
        }
        #expect(try model.decode([valid], options: DecodeOptions()).count == 1)
    }

    @Test func brokenCheckpointsNameTheKey() throws {
        let source = TiTokFixtures.root.appendingPathComponent("vq_pixel")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-broken-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.copyItem(
            at: source.appendingPathComponent("config.json"), to: dir.appendingPathComponent("config.json"))
        let original = try SafeTensorsFile(url: source.appendingPathComponent("model.safetensors"))
        var tensors: [(String, SafeTensorsWriter.Payload)] = []
        for name in original.names where name != "decoder.mask_token" {
            var t = try original.tensor(name)
            if name == "encoder.ln_post.weight" { t = Tensor.zeros([t.count + 1]) }
            tensors.append((name, .float(t)))
        }
        try SafeTensorsWriter.write(tensors, to: dir.appendingPathComponent("model.safetensors"))
        do {
            _ = try TiTok(directory: dir)
            Issue.record("expected a load error")
        } catch let error as WeightLoadError {
            #expect(error.missing == ["decoder.mask_token"])
            #expect(error.mismatched.map(\.key) == ["encoder.ln_post.weight"])
        }
    }

    /// The published shapes bind: an all-zero checkpoint with the official key set and shapes
    /// (Tests/Fixtures/titok/s128_shapes.json, checked against the official modules) is
    /// written as a sparse file and loaded strictly.
    @Test(arguments: ["titok_s128", "one-d-piece_s256"])
    func publishedShapesBind(_ name: String) throws {
        let data = try Data(contentsOf: TiTokFixtures.root.appendingPathComponent("s128_shapes.json"))
        let models = try #require(
            (try JSONSerialization.jsonObject(with: data) as? [String: Any])?["models"] as? [String: Any])
        let entry = try #require(models[name] as? [String: Any], "no shapes for \(name)")
        let keys = try #require(entry["keys"] as? [[Any]])
        let configPath = try #require(entry["config"] as? String)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-\(name)-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.copyItem(
            at: TiTokFixtures.root.appendingPathComponent(configPath), to: dir.appendingPathComponent("config.json"))
        var header: [String: Any] = [:]
        var offset = 0
        for pair in keys {
            let key = try #require(pair[0] as? String), shape = try #require(pair[1] as? [Int])
            let bytes = shape.reduce(1, *) * 4
            header[key] = ["dtype": "F32", "shape": shape, "data_offsets": [offset, offset + bytes]]
            offset += bytes
        }
        var json = try JSONSerialization.data(withJSONObject: header)
        while json.count % 8 != 0 { json.append(0x20) }
        var file = Data()
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { file.append(contentsOf: $0) }
        file.append(json)
        let url = dir.appendingPathComponent("model.safetensors")
        try file.write(to: url)
        let handle = try FileHandle(forWritingTo: url)
        try handle.truncate(atOffset: UInt64(file.count + offset))  // sparse zeros
        try handle.close()
        let model = try TiTok(directory: dir)
        #expect(model.descriptor.inputSize == PixelSize(256))
        #expect(model.descriptor.positions == (name == "titok_s128" ? 128 : 256))
    }
}
