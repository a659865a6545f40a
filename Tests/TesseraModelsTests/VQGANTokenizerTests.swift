import Foundation
import TesseraCore
import TesseraMedia
import TesseraNN
import TesseraStreams
import TesseraTestSupport
import Testing

@testable import TesseraModels

/// Chameleon and Janus-Pro / LlamaGen VQ-16 against transformers, facebookresearch/chameleon and
/// deepseek-ai/Janus (Tests/Reference/make_vqgan_fixtures.py): random weights in the published
/// layouts at reduced widths.
@Suite struct VQGANTokenizerTests {
    static let root = Fixtures.url("vqgan")

    static func expected(_ name: String) throws -> SafeTensorsFile {
        try SafeTensorsFile(url: root.appendingPathComponent(name).appendingPathComponent("expected.safetensors"))
    }

    /// The two 128² inputs every case encodes.
    static func pixels() throws -> Tensor { try expected("chameleon").tensor("pixels") }

    static func ints(_ t: Tensor) -> [Int] { t.scalars.map { Int($0) } }

    static func codes(_ file: SafeTensorsFile, _ name: String) throws -> [[Int]] {
        let t = try file.tensor(name)
        let per = t.count / t.shape[0]
        let all = ints(t)
        return (0..<t.shape[0]).map { Array(all[($0 * per)..<(($0 + 1) * per)]) }
    }

    @Test func chameleonTransformersLayoutMatches() throws {
        let model = try Chameleon(directory: Self.root.appendingPathComponent("chameleon"))
        #expect(model.descriptor.family == "chameleon" && model.descriptor.tokenShape == [8, 8])
        #expect(model.descriptor.vocabularySizes == [512] && !model.grid.model.canDecode)
        #expect(model.config.attentionLevels == [4], "attn_resolutions [8] at resolution 128 is the last level")
        let e = try Self.expected("chameleon")
        let x = try Self.pixels()
        #expect(relativeError(model.grid.model.encoderOutput(x), try e.tensor("encoder_out")) < 1e-4)
        let tokens = try model.encode(
            preprocessed: [x.slice(axis: 0, 0..<1), x.slice(axis: 0, 1..<2)].map {
                $0.reshaped([3, 128, 128])
            }, options: EncodeOptions(batchSize: 2))
        #expect(tokens.map(\.ids) == (try Self.codes(e, "codes")))
        // The LM stream: transformers' IMGIMG → BPE mapping between <racm3:break> and <eoss>.
        let vocabulary = try #require(model.lmVocabulary)
        #expect(vocabulary.offset == 4 && vocabulary.special.imageStart == 517 && vocabulary.special.imageEnd == 516)
        let lm = try Self.codes(e, "lm_ids")
        for (t, ids) in zip(tokens, lm) { #expect(try vocabulary.stream([t]) == [517] + ids + [516]) }
        // The text form is the stream's token names in the model's own vocabulary_map, and parses back.
        let config = try JSONSerialization.jsonObject(
            with: Data(contentsOf: Self.root.appendingPathComponent("chameleon/config.json")))
        let names = try #require((config as? [String: Any])?["vocabulary_map"] as? [String: Int])
        let nameOf = Dictionary(uniqueKeysWithValues: names.map { ($0.value, $0.key) })
        for (t, ids) in zip(tokens, lm) {
            let text = try vocabulary.text([t])
            #expect(text == ([517] + ids + [516]).compactMap { nameOf[$0] }.joined())
            #expect(try vocabulary.tokens(fromText: text).map(\.ids) == [t.ids])
        }
    }

    @Test func chameleonPreprocessingMatchesBothProcessors() throws {
        let dir = Self.root.appendingPathComponent("chameleon")
        let e = try Self.expected("chameleon")
        let image = try Image(contentsOf: dir.appendingPathComponent("rgba.png"))
        #expect(image.layout == .rgba)
        let whitened = try e.tensor("rgba_whitened")
        #expect(image.whitened().pixels == whitened.scalars.map { UInt8($0) }, "white blend, truncated")
        let original = try Chameleon(directory: dir)
        let x = original.preprocessing.tensor(image)
        #expect(maxDifference(x, try e.tensor("rgba_original_pixels")) <= 1e-6)
        let codes = try original.encode(preprocessed: [x], options: EncodeOptions())
        #expect(codes[0].ids == Self.ints(try e.tensor("rgba_original_codes")))
        let hf = try Chameleon(directory: dir, processor: .transformers)
        #expect(maxDifference(hf.preprocessing.tensor(image), try e.tensor("rgba_hf_pixels")) <= 1e-6)
    }

    @Test func chameleonOriginalReleaseDecodes() throws {
        let model = try Chameleon(directory: Self.root.appendingPathComponent("chameleon_original"))
        #expect(model.grid.model.canDecode && model.descriptor.tokenShape == [32, 32])
        #expect(model.config.attentionLevels == [1] && model.lmVocabulary == nil)
        let e = try Self.expected("chameleon_original")
        let x = try Self.pixels().slice(axis: 2, 0..<64).slice(axis: 3, 0..<64)  // the top-left quarters
        let expected = try Self.codes(e, "codes")
        #expect(model.grid.model.codes(x) == expected)
        let tokens = expected.map { Tokens(ids: $0, shape: [32, 32], vocabularySizes: [256], model: "m") }
        let decoded = try model.decode(tokens, options: DecodeOptions())
        let reference = try e.tensor("decoded")
        #expect(
            relativeError(Tensor.concatenate(decoded.map { $0.reshaped([1, 3, 64, 64]) }, axis: 0), reference) < 1e-4)
        // facebookresearch/chameleon's `_pil_from_chw_tensor`: clamp, (x + 1) / 2 · 255, truncated.
        let images = try model.decodeImages(tokens)
        let want = try e.tensor("images").scalars.map { UInt8($0) }
        let got = images.flatMap(\.pixels)
        #expect(maxAbsDiff(got, want) <= 1)
    }

    @Test func janusMatchesOfficialAndTransformersSearch() throws {
        let dir = Self.root.appendingPathComponent("janus")
        let e = try Self.expected("janus")
        let x = try Self.pixels()
        let model = try Janus(directory: dir)
        #expect(model.descriptor.family == "janus" && model.descriptor.tokenShape == [8, 8])
        #expect(model.config.attentionLevels == [4] && model.grid.size == 128)
        let official = try Self.codes(e, "codes")
        #expect(model.grid.model.codes(x) == official, "deepseek-ai/Janus' L2-normalised search")
        let hf = try Janus(directory: dir, search: .transformers)
        #expect(hf.grid.model.codes(x) == (try Self.codes(e, "codes_hf")), "transformers' raw-codebook search")
        let tokens = official.map { Tokens(ids: $0, shape: [8, 8], vocabularySizes: [512], model: "m") }
        let decoded = try model.decode(tokens, options: DecodeOptions(batchSize: 1))
        let all = Tensor.concatenate(decoded.map { $0.reshaped([1, 3, 128, 128]) }, axis: 0)
        #expect(relativeError(all, try e.tensor("decoded")) < 1e-4)
    }

    /// LlamaGen's own checkpoint (`vq_ds16_c2i.pt` as its trainer saves it: `model`, `optimizer`,
    /// `steps` and an `argparse.Namespace`), with no config: the sizes come from the tensors, and
    /// codes and reconstructions equal LlamaGen's `VQModel` (Tests/Reference/make_llamagen_fixtures.py).
    @Test func llamaGenCheckpointLoads() throws {
        let dir = Self.root.appendingPathComponent("llamagen")
        let model = try #require(try TokenizerRegistry.load(dir) as? Janus)
        #expect(model.config.channelMultipliers == [1, 1] && model.config.baseChannels == 32)
        #expect(model.config.resBlocks == 1 && model.config.attentionLevels == [1] && model.config.embedDim == 8)
        #expect(model.descriptor.vocabularySizes == [64] && model.grid.model.canDecode)
        let e = try Self.expected("llamagen")
        let pixels = try e.tensor("pixels")
        let codes = model.grid.model.codes(pixels)
        #expect(codes == (try Self.codes(e, "codes")))
        let decoded = try model.grid.model.decode(codes, height: 16, width: 16)
        #expect(maxDifference(decoded, try e.tensor("decoded")) <= 1e-4)
    }

    /// The same weights under Janus' original names (`gen_vision_model.`, `conv_blocks`, `res`,
    /// `mid.{0,1,2}`, the usage buffer) give the same codes.
    @Test func janusOriginalNamesLoad() throws {
        let source = try SafeTensorsFile(url: Self.root.appendingPathComponent("janus/model.safetensors"))
        func originalName(_ key: String) -> String {
            var parts = key.split(separator: ".").map(String.init)
            if parts[1] == "down" || parts[1] == "up" {
                parts[1] = "conv_blocks"
                if parts[3] == "block" { parts[3] = "res" }
            }
            if parts[1] == "mid", let i = ["block_1", "attn_1", "block_2"].firstIndex(of: parts[2]) {
                parts[2] = "\(i)"
            }
            return "gen_vision_model." + parts.joined(separator: ".")
        }
        var tensors: [String: Tensor] = ["gen_vision_model.quantize.codebook_used": Tensor.zeros([64])]
        for name in source.entries.keys { tensors[originalName(name)] = try source.tensor(name) }
        let dir = Fixtures.scratchFolder("janus-original")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try SafeTensorsWriter.write(
            tensors.map { ($0.key, .float($0.value)) }, to: dir.appendingPathComponent("model.safetensors"))
        // Janus' own config names the VQ-16 preset; a reduced model needs transformers' fields.
        let config = try String(contentsOf: Self.root.appendingPathComponent("janus/config.json"), encoding: .utf8)
        try config.write(to: dir.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        let model = try Janus(directory: dir)
        #expect(model.grid.model.codes(try Self.pixels()) == (try Self.codes(try Self.expected("janus"), "codes")))
        #expect(Janus.transformersName("encoder.conv_blocks.4.attn.1.q.weight") == "encoder.down.4.attn.1.q.weight")
        #expect(Janus.transformersName("decoder.mid.2.norm1.bias") == "decoder.mid.block_2.norm1.bias")
    }
}

/// Emu3's encoder against transformers' `Emu3VQVAE`: images (repeated in time) and video clips.
@Suite struct Emu3Tests {
    static let dir = VQGANTokenizerTests.root.appendingPathComponent("emu3")

    @Test func imagesAndClipsMatchTransformers() throws {
        let model = try Emu3(directory: Self.dir)
        let e = try VQGANTokenizerTests.expected("emu3")
        #expect(model.coderShape.factor == 4 && model.temporalFactor == 4 && model.codebookSize == 256)
        let images = try e.tensor("images")  // [2, 3, 24, 40]
        let one = (0..<2).map { images.slice(axis: 0, $0..<($0 + 1)).reshaped([3, 24, 40]) }
        // The encoder's output after the temporal stack, for the first image repeated 4×.
        let latent = model.spatialLatents(one[0].reshaped([1, 3, 24, 40]))
        let h = model.temporal(Tensor.concatenate([Tensor](repeating: latent, count: 4), axis: 0))
        let reference = try e.tensor("image_encoder_out").slice(axis: 0, 0..<1).reshaped(h.shape)
        #expect(relativeError(h, reference) < 1e-4)
        let tokens = try model.encode(preprocessed: one, options: EncodeOptions())
        #expect(tokens.map(\.shape) == [[6, 10], [6, 10]])
        #expect(tokens.flatMap(\.ids) == VQGANTokenizerTests.ints(try e.tensor("image_codes")))
        for (name, frames, steps) in [("video", 8, 2), ("short_video", 5, 1)] {
            let clip = try e.tensor(name).reshaped([frames, 3, 32, 32])
            let codes = try model.encode(clip: clip)
            #expect(codes.shape == [steps, 8, 8])
            #expect(codes.ids == VQGANTokenizerTests.ints(try e.tensor(name + "_codes")))
        }
        #expect(throws: TokenizerError.self) { try model.encode(clip: Tensor.zeros([2, 3, 30, 32])) }
        for frames in [1, 2, 3] {  // shorter than the temporal factor: an error, not a trap
            #expect(throws: TokenizerError.self) { try model.encode(clip: Tensor.zeros([frames, 3, 32, 32])) }
        }
        #expect(try model.encode(clip: Tensor.zeros([4, 3, 32, 32])).shape == [1, 8, 8])
    }

    /// Decodes against transformers' `Emu3VQVAE.decode` (itself equal to baaivision/Emu3's to 2e-7;
    /// Tests/Reference/make_emu3_decode_fixtures.py): images are frame 0, clips 4T' frames.
    static func checkDecodes(_ model: Emu3) throws {
        let e = try VQGANTokenizerTests.expected("emu3")
        let d = try SafeTensorsFile(url: Self.dir.appendingPathComponent("decoded.safetensors"))
        let codes = VQGANTokenizerTests.ints(try e.tensor("image_codes"))
        let grids = (0..<2).map {
            Tokens(ids: Array(codes[($0 * 60)..<($0 * 60 + 60)]), shape: [6, 10], vocabularySizes: [256], model: "")
        }
        let images = try model.decode(grids, options: DecodeOptions())
        #expect(images.map(\.shape) == [[3, 24, 40], [3, 24, 40]])
        #expect(
            maxDifference(
                Tensor.concatenate(images.map { $0.reshaped([1] + $0.shape) }, axis: 0), try d.tensor("image_decoded"))
                <= 1e-4)
        for (name, steps, frames) in [("video", 2, 8), ("short_video", 1, 4)] {
            let clip = Tokens(
                ids: VQGANTokenizerTests.ints(try e.tensor(name + "_codes")), shape: [steps, 8, 8],
                vocabularySizes: [256], model: "")
            let decoded = try model.decode(clip: clip)
            #expect(decoded.shape == [frames, 3, 32, 32])
            #expect(maxDifference(decoded, try d.tensor(name + "_decoded").reshaped(decoded.shape)) <= 1e-4)
        }
    }

    @Test func decodesAsTransformers() throws {
        let model = try Emu3(directory: Self.dir)
        try Self.checkDecodes(model)
        // The temporal stages of the 8-frame clip's decode, on their own.
        let e = try VQGANTokenizerTests.expected("emu3")
        let d = try SafeTensorsFile(url: Self.dir.appendingPathComponent("decoded.safetensors"))
        let decoder = try #require(model.decoder)
        let clip = Tokens(
            ids: VQGANTokenizerTests.ints(try e.tensor("video_codes")), shape: [2, 8, 8], vocabularySizes: [256],
            model: "")
        let quant = try model.codewords(clip, decoder: decoder)
        let post = decoder.postQuantConv(quant)
        #expect(maxDifference(post, try d.tensor("video_post_quant").reshaped(post.shape)) <= 1e-5)
        let h = decoder.temporal(post), zq = decoder.temporal(quant)
        #expect(maxDifference(h, try d.tensor("video_temporal_h").reshaped(h.shape)) <= 1e-5)
        #expect(maxDifference(zq, try d.tensor("video_temporal_zq").reshaped(zq.shape)) <= 1e-5)
        // Bad grids and codes: errors, not traps.
        let bad = [
            Tokens(ids: [Int](repeating: 256, count: 60), shape: [6, 10], vocabularySizes: [256], model: ""),
            Tokens(ids: [Int](repeating: 0, count: 59), shape: [6, 10], vocabularySizes: [256], model: ""),
            Tokens(ids: [-1], shape: [1, 1], vocabularySizes: [256], model: ""),
            Tokens(ids: [], shape: [0, 4], vocabularySizes: [256], model: ""),
        ]
        for tokens in bad {
            #expect(throws: TokenizerError.self) { try model.decode([tokens], options: DecodeOptions()) }
            #expect(throws: TokenizerError.self) { try model.decode(clip: tokens) }
        }
        #expect(throws: TokenizerError.self) { try model.decode([clip], options: DecodeOptions()) }
        #expect(throws: TokenizerError.self) {
            try model.decode([clip], options: DecodeOptions(steps: 4))
        }
    }

    /// transformers' name → the original release's (BAAI/Emu3-VisionTokenizer), as
    /// Tests/Reference/make_emu3_original_fixtures.py renames them before loading the official model.
    static func originalName(_ key: String) -> String {
        var k = key.replacingOccurrences(of: "encoder.down_block.down.", with: "encoder.down.")
            .replacingOccurrences(of: "decoder.up_block.up.", with: "decoder.up.")
            .replacingOccurrences(of: "encoder.middle_block.", with: "encoder.mid.")
            .replacingOccurrences(of: "decoder.middle_block.", with: "decoder.mid.")
            .replacingOccurrences(of: "mid.attn_norm.", with: "mid.attn_1.norm.")
        if let r = k.range(of: #"attn_norms\.(\d+)\."#, options: .regularExpression) {
            let index = k[r].dropFirst("attn_norms.".count).dropLast()
            k.replaceSubrange(r, with: "attn.\(index).norm.")
        }
        for (hf, original) in [("q_proj", "q"), ("k_proj", "k"), ("v_proj", "v"), ("out_proj", "proj_out")] {
            k = k.replacingOccurrences(of: ".\(hf).", with: ".\(original).")
        }
        return k
    }

    @Test func originalReleaseLayoutMatches() throws {
        let dir = Fixtures.scratchFolder("emu3-original")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.copyItem(
            at: VQGANTokenizerTests.root.appendingPathComponent("emu3_original/config.json"),
            to: dir.appendingPathComponent("config.json"))
        let hf = try SafeTensorsFile(url: Self.dir.appendingPathComponent("model.safetensors"))
        let tensors: [(String, SafeTensorsWriter.Payload)] = try hf.names.map { name in
            var t = try hf.tensor(name)
            // The original's attention projections are 1×1 convolutions.
            if name.hasSuffix("_proj.weight") { t = t.reshaped(t.shape + [1, 1]) }
            return (Self.originalName(name), .float(t))
        }
        try SafeTensorsWriter.write(tensors, to: dir.appendingPathComponent("model.safetensors"))
        let model = try #require(try TokenizerRegistry.load(dir) as? Emu3)
        let e = try VQGANTokenizerTests.expected("emu3")
        let images = try e.tensor("images")
        let one = (0..<2).map { images.slice(axis: 0, $0..<($0 + 1)).reshaped([3, 24, 40]) }
        let tokens = try model.encode(preprocessed: one, options: EncodeOptions())
        #expect(tokens.flatMap(\.ids) == VQGANTokenizerTests.ints(try e.tensor("image_codes")))
        let clip = try model.encode(clip: try e.tensor("video").reshaped([8, 3, 32, 32]))
        #expect(clip.ids == VQGANTokenizerTests.ints(try e.tensor("video_codes")))
        #expect(model.lmVocabulary == nil)
        try Self.checkDecodes(model)
    }

    @Test func smartResizeAsTheProcessor() {
        let image = Image(width: 200, height: 200)
        #expect(image.smartResizeTarget(factor: 8, minPixels: 512 * 512, maxPixels: 1024 * 1024) == (512, 512))
        let wide = Image(width: 3000, height: 1000)
        let (w, h) = wide.smartResizeTarget(factor: 8, minPixels: 512 * 512, maxPixels: 1024 * 1024)
        #expect(w % 8 == 0 && h % 8 == 0 && w * h <= 1024 * 1024 && (w, h) == (1768, 584))
    }
}

/// The published key sets at full size bind (sparse checkpoints written from the reference's key
/// and shape dumps), with the published sizes and LM vocabularies.
@Suite struct VQGANPublishedLayoutTests {
    static func write(_ shapesFile: String, config: [String: Any], name: String) throws -> URL {
        let shapes = try #require(Fixtures.load("vqgan/\(shapesFile)", as: [String: [Int]].self))
        let dir = Fixtures.scratchFolder(name)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try Fixtures.writeSparseSafeTensors(shapes: shapes, to: dir.appendingPathComponent("model.safetensors"))
        try JSONSerialization.data(withJSONObject: config).write(to: dir.appendingPathComponent("config.json"))
        return dir
    }

    /// Chameleon's vocabulary: `<s>`, `<pad>`, `</s>`, `<unk>`, then IMGIMG names of 8192 codes at
    /// 4…8195, `<eoss>` 8196, `<racm3:break>` 8197.
    static func chameleonVocabulary() -> [String: Int] {
        var vocab = ["<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "<eoss>": 8196, "<racm3:break>": 8197]
        for code in 0..<8192 {
            let letters = String(code).map { Character(UnicodeScalar($0.asciiValue! - 48 + 65)) }
            vocab["IMGIMG" + String(letters) + "Z"] = 4 + code
        }
        return vocab
    }

    @Test func chameleon7bBinds() throws {
        let dir = try Self.write(
            "chameleon_7b_vq_shapes.json",
            config: [
                "model_type": "chameleon", "vocab_size": 65536, "vocabulary_map": Self.chameleonVocabulary(),
                "vq_config": ["attn_resolutions": [Int](), "resolution": 512],
            ], name: "chameleon-7b")
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try TokenizerRegistry.load(dir)
        #expect(model.descriptor.family == "chameleon" && model.descriptor.tokenShape == [32, 32])
        #expect(model.descriptor.inputSize == PixelSize(512) && model.descriptor.vocabularySizes == [8192])
        let vocabulary = try #require((model as? Chameleon)?.lmVocabulary)
        #expect(vocabulary.offset == 4 && vocabulary.lmVocabularySize == 65536)
        #expect(vocabulary.special.imageStart == 8197 && vocabulary.special.imageEnd == 8196)
    }

    @Test func emu3VisionTokenizerBinds() throws {
        let dir = try Self.write(
            "emu3_vq_shapes.json", config: ["model_type": "emu3", "vq_config": [String: Any]()], name: "emu3")
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try #require(try TokenizerRegistry.load(dir) as? Emu3)
        #expect(model.coderShape.channels == [256, 512, 512, 1024] && model.coderShape.attentionLevels == [3])
        #expect(model.coderShape.factor == 8 && model.temporalFactor == 4 && model.codebookSize == 32768)
        #expect(model.descriptor.family == "emu3" && model.descriptor.tokenShape == [64, 64])
        #expect(model.decoder?.spatial.shape.conditionChannels == 4)
    }

    @Test func emu3OriginalReleaseBinds() throws {
        let dir = try Self.write(
            "emu3_original_vq_shapes.json", config: ["model_type": "Emu3VisionVQ"], name: "emu3-original")
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try #require(try TokenizerRegistry.load(dir) as? Emu3)
        #expect(model.coderShape.channels == [256, 512, 512, 1024] && model.coderShape.attentionLevels == [3])
        #expect(model.coderShape.factor == 8 && model.temporalFactor == 4 && model.codebookSize == 32768)
        #expect(model.decoder != nil)
    }

    @Test func janusPro1BBinds() throws {
        let dir = try Self.write(
            "janus_pro_vq_shapes.json", config: ["model_type": "janus", "vq_config": [String: Any]()], name: "janus")
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try #require(try TokenizerRegistry.load(dir) as? Janus)
        #expect(model.descriptor.tokenShape == [24, 24] && model.descriptor.inputSize == PixelSize(384))
        #expect(model.descriptor.vocabularySizes == [16384] && model.grid.model.canDecode)
        #expect(model.config.attentionLevels == [4] && model.config.embedDim == 8)
    }
}

/// Bad LM directories and token sets fail with errors naming the file or the problem.
@Suite struct VQGANBadInputTests {
    static func copy(_ name: String) throws -> URL {
        let dir = Fixtures.scratchFolder(name)
        try FileManager.default.copyItem(at: VQGANTokenizerTests.root.appendingPathComponent(name), to: dir)
        return dir
    }

    @Test func missingShardNamesIt() throws {
        let dir = try Self.copy("chameleon")
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.removeItem(at: dir.appendingPathComponent("model-00002-of-00004.safetensors"))
        let error = #expect(throws: (any Error).self) { try Chameleon(directory: dir) }
        #expect("\(error!)".contains("model-00002-of-00004.safetensors"))
    }

    @Test func directoryWithoutVQWeights() throws {
        let dir = Fixtures.scratchFolder("chameleon-text-only")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.copyItem(
            at: VQGANTokenizerTests.root.appendingPathComponent("chameleon/config.json"),
            to: dir.appendingPathComponent("config.json"))
        try SafeTensorsWriter.write(
            [("model.embed_tokens.weight", .float(Tensor.zeros([4, 4])))],
            to: dir.appendingPathComponent("model.safetensors"))
        let error = #expect(throws: ModelConfigError.self) { try Chameleon(directory: dir) }
        #expect(error?.reason.contains("no VQ encoder") == true)
    }

    @Test func vocabularyWithoutImageTokens() throws {
        let dir = try Self.copy("chameleon")
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("config.json")
        var json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        json["vocabulary_map"] = ["<s>": 0, "<eoss>": 1, "<racm3:break>": 2]
        try JSONSerialization.data(withJSONObject: json).write(to: url)
        let error = #expect(throws: ModelConfigError.self) { try Chameleon(directory: dir) }
        #expect(error?.path == url.path && error?.reason.contains("no image tokens") == true)
    }

    @Test func badCodesAndGrids() throws {
        let model = try Janus(directory: VQGANTokenizerTests.root.appendingPathComponent("janus"))
        let outOfRange = Tokens(
            ids: [512] + [Int](repeating: 0, count: 63), shape: [8, 8], vocabularySizes: [512], model: "m")
        #expect(throws: TokenizerError.self) { try model.decode([outOfRange], options: DecodeOptions()) }
        let negative = Tokens(
            ids: [-1] + [Int](repeating: 0, count: 63), shape: [8, 8], vocabularySizes: [512], model: "m")
        #expect(throws: TokenizerError.self) { try model.decode([negative], options: DecodeOptions()) }
        let wrongGrid = Tokens(ids: [Int](repeating: 0, count: 16), shape: [4, 4], vocabularySizes: [512], model: "m")
        #expect(throws: TokenizerError.self) { try model.decode([wrongGrid], options: DecodeOptions()) }
        #expect(throws: TokenizerError.self) {
            try model.encode(preprocessed: [Tensor.zeros([3, 64, 64])], options: EncodeOptions())
        }
        let chameleon = try Chameleon(directory: VQGANTokenizerTests.root.appendingPathComponent("chameleon"))
        let tokens = Tokens(ids: [Int](repeating: 0, count: 64), shape: [8, 8], vocabularySizes: [512], model: "m")
        let error = #expect(throws: TokenizerError.self) { try chameleon.decode([tokens], options: DecodeOptions()) }
        #expect(error?.reason.contains("no decoder") == true)
    }

    @Test func yamlSubsetParsesAndRefuses() throws {
        let tree = try ConfigTree(
            parsingYAML: """
                model:
                  target: chameleon.vqgan.VQModel  # a comment
                  params:
                    n_embed: 8192
                    ddconfig:
                      ch_mult: [1, 1, 2, 2, 4]
                      attn_resolutions: []
                      double_z: false
                      dropout: 0.0
                      list:
                      - 1
                      - 2
                """)
        let dd = try #require(tree["model"]?["params"]?["ddconfig"])
        #expect(dd["ch_mult"]?.list?.compactMap(\.int) == [1, 1, 2, 2, 4] && dd["double_z"]?.bool == false)
        #expect(dd["attn_resolutions"]?.list?.isEmpty == true && dd["list"]?.list?.compactMap(\.int) == [1, 2])
        #expect(tree["model"]?["params"]?["n_embed"]?.int == 8192 && dd["dropout"]?.double == 0)
        #expect(tree["model"]?["target"]?.string == "chameleon.vqgan.VQModel")
        #expect(throws: ConfigTreeError.self) { try ConfigTree(parsingYAML: "a: &anchor 1") }
        #expect(throws: ConfigTreeError.self) { try ConfigTree(parsingYAML: "a: 1\na: 2") }
        #expect(throws: ConfigTreeError.self) { try ConfigTree(parsingYAML: "a:\n  b: 1\n c: 2") }
        #expect(throws: ConfigTreeError.self) { try ConfigTree(parsingYAML: "just text") }
    }
}
