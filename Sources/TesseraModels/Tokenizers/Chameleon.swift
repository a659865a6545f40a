// Chameleon's image tokenizer (facebookresearch/chameleon; Anole and Lumina-mGPT use the same):
// a VQGAN from 512² images to 32×32 codes of 8192, whose LM ids come from the IMGIMG names of the
// model's vocabulary. Loads transformers' conversion (`facebook/chameleon-7b|30b`: `vq_config` and
// `vocabulary_map` in config.json, the encoder under `model.vqmodel.` in the sharded LM checkpoint,
// no decoder) and the original release (`tokenizer/vqgan.yaml` + `vqgan.ckpt`, with the decoder).
import Foundation
import TesseraCore
import TesseraMedia
import TesseraNN
import TesseraStreams

/// A Chameleon VQGAN tokenizer.
public struct Chameleon: LanguageModelImageTokenizer {
    /// Whose preprocessing to follow (they are not bit-identical).
    public enum Processor: String, Sendable, CaseIterable {
        /// facebookresearch/chameleon (what the LM was trained with): RGBA composited on white and
        /// truncated, shorter side to 512 with `round()` on both sides, PIL Lanczos, centre crop,
        /// `x / 255 · 2 − 1`.
        case original
        /// transformers' `ChameleonImageProcessorPil`: RGBA through Pillow's `alpha_composite` on white,
        /// long side `int()`, PIL Lanczos,
        /// centre crop, `x · 0.0078 − 1`.
        case transformers
    }

    /// The VQGAN's shape.
    public var config: VQGANConfig { grid.model.config }
    /// Family `chameleon`: `[32, 32]` codes of 8192 for the published models, output in `-1...1`.
    public let descriptor: TokenizerDescriptor
    /// The preprocessing of ``processor``.
    public let preprocessing: Preprocessing
    /// Whose preprocessing this tokenizer follows.
    public let processor: Processor
    /// The image span in the LM's vocabulary (from `vocabulary_map`), when the directory has one.
    public let lmVocabulary: VisualVocabulary?
    let grid: VQGANGrid

    /// Loads a Chameleon directory: transformers' (config.json with `vq_config`, or a standalone
    /// `chameleon_vqgan`) or the original (`tokenizer/vqgan.yaml` + `vqgan.ckpt`).
    /// - Throws: ``ModelConfigError`` for the config or vocabulary, `WeightLoadError` listing key problems.
    public init(directory: URL, processor: Processor = .original) throws {
        self.processor = processor
        let (config, size, checkpoint, prefix, vocabulary) = try Self.open(directory)
        grid = try VQGANGrid(
            checkpoint: checkpoint, prefix: prefix, config: config, keys: .taming, normalizedSearch: false,
            normalizedLookup: false, size: size, modelID: directory.lastPathComponent, path: directory.path)
        descriptor = grid.descriptor(family: "chameleon")
        lmVocabulary = vocabulary
        switch processor {
        case .original:
            var p = Preprocessing(
                resize: .shorterSideRounded(size), filter: .lanczos, centerCrop: PixelSize(size),
                cropRule: .transformers, normalization: .symmetricDouble)
            p.alpha = .whiten
            preprocessing = p
        case .transformers:
            var p = Preprocessing(
                resize: .shorterSide(size), filter: .lanczos, centerCrop: PixelSize(size), cropRule: .transformers,
                normalization: .rescaled(factor: 0.0078, mean: [1, 1, 1], std: [1, 1, 1]))
            p.alpha = .compositeOnWhite
            preprocessing = p
        }
    }

    /// Codes `[h, w]` (row-major) of preprocessed images `[3, S, S]`.
    public func encode(preprocessed images: [Tensor], options: EncodeOptions) throws -> [Tokens] {
        try grid.encode(images, options: options)
    }

    /// Reconstructions `[3, S, S]` in about [−1, 1] (the original checkpoint only).
    public func decode(_ tokens: [Tokens], options: DecodeOptions) throws -> [Tensor] {
        try grid.decode(tokens, options: options)
    }

    /// Whether the checkpoint has the decoder (the original release; not transformers' conversion).
    public var canDecode: Bool { grid.model.canDecode }

    /// The VQGAN's activations at the input size, per image of the batch.
    public func workingMemory(batch: Int, decoding: Bool) -> Int {
        grid.workingMemory(batch: batch, decoding: decoding)
    }

    /// Floating-point operations of encoding and decoding one image (``VQGAN/flops(height:width:)``).
    public var flopsPerImage: (encode: Double, decode: Double) {
        grid.flops
    }

    // MARK: loading

    /// Config, input size, weights, the VQ prefix inside them and the LM vocabulary of a directory.
    private static func open(_ directory: URL) throws -> (VQGANConfig, Int, Checkpoint, String, VisualVocabulary?) {
        let configURL = directory.appendingPathComponent("config.json")
        if FileManager.default.fileExists(atPath: configURL.path) {
            let root = JSONFields(object: try readJSONConfig(configURL), path: configURL.path)
            let type = root.string("model_type")
            guard type == "chameleon" || type == "chameleon_vqgan" else {
                throw ModelConfigError(path: configURL.path, reason: "model_type \(type ?? "nil") is not Chameleon's")
            }
            guard let vq = type == "chameleon" ? root.object("vq_config") : root else {
                throw ModelConfigError(path: configURL.path, reason: "no 'vq_config': not a Chameleon checkpoint")
            }
            let (config, size) = try transformersConfig(vq)
            let checkpoint = try Checkpoint(directory: directory)
            guard let prefix = vqPrefix(checkpoint, candidates: ["model.vqmodel", "vqmodel", ""]) else {
                throw ModelConfigError(
                    path: directory.path, reason: "the checkpoint has no VQ encoder (model.vqmodel.encoder.*)")
            }
            let vocabulary = try (root.object["vocabulary_map"] as? [String: Any]).map {
                try lmVocabulary(
                    $0, codes: config.codebookSize, size: root.object["vocab_size"] as? Int,
                    path: configURL.path)
            }
            return (config, size, checkpoint, prefix.isEmpty ? "" : prefix + ".", vocabulary)
        }
        for folder in ["tokenizer", ""] {
            let base = folder.isEmpty ? directory : directory.appendingPathComponent(folder)
            let yaml = base.appendingPathComponent("vqgan.yaml")
            guard FileManager.default.fileExists(atPath: yaml.path) else { continue }
            let (config, size) = try originalConfig(yaml)
            let checkpoint = try Checkpoint(directory: base, files: ["vqgan.ckpt"])
            guard let prefix = vqPrefix(checkpoint, candidates: ["state_dict", ""]) else {
                throw ModelConfigError(
                    path: base.appendingPathComponent("vqgan.ckpt").path, reason: "no state_dict with encoder.* keys")
            }
            let textTokenizer = base.appendingPathComponent("text_tokenizer.json")
            var vocabulary: VisualVocabulary?
            if FileManager.default.fileExists(atPath: textTokenizer.path) {
                let model = JSONFields(object: try readJSONConfig(textTokenizer), path: textTokenizer.path)
                if let vocab = model.object("model")?.object["vocab"] as? [String: Any] {
                    vocabulary = try lmVocabulary(
                        vocab, codes: config.codebookSize, size: nil, path: textTokenizer.path)
                }
            }
            return (config, size, checkpoint, prefix.isEmpty ? "" : prefix + ".", vocabulary)
        }
        throw ModelConfigError(
            path: directory.path, reason: "neither config.json (transformers) nor tokenizer/vqgan.yaml (original)")
    }

    /// transformers' `ChameleonVQVAEConfig` fields.
    static func transformersConfig(_ vq: JSONFields) throws -> (VQGANConfig, Int) {
        let mult = try vq.ints("channel_multiplier", default: [1, 1, 2, 2, 4])
        var config = VQGANConfig(
            baseChannels: try vq.int("base_channels", default: 128, in: 1...4096), channelMultipliers: mult,
            resBlocks: try vq.int("num_res_blocks", default: 2, in: 1...16),
            latentChannels: try vq.int("latent_channels", default: 256, in: 1...4096),
            embedDim: try vq.int("embed_dim", default: 256, in: 1...4096),
            codebookSize: try vq.int("num_embeddings", default: 8192, in: 1...(1 << 24)))
        let resolution = try vq.int("resolution", default: 512, in: 1...8192)
        config.attentionLevels = VQGANConfig.attentionLevels(
            resolution: resolution, attentionResolutions: try vq.ints("attn_resolutions", default: [], count: 0...16),
            levels: mult.count)
        if try vq.bool("double_latent", default: false) {
            throw vq.fail("double_latent", "false (a VQ encoder has one latent, not a KL posterior)")
        }
        if let type = vq.string("attn_type"), type != "vanilla" { throw vq.fail("attn_type", "\"vanilla\"") }
        return (config, resolution)
    }

    /// The original `vqgan.yaml`: `model.params.{embed_dim, n_embed, ddconfig}`.
    static func originalConfig(_ url: URL) throws -> (VQGANConfig, Int) {
        func fail(_ reason: String) -> ModelConfigError { ModelConfigError(path: url.path, reason: reason) }
        let tree: ConfigTree
        do {
            tree = try ConfigTree(parsingYAML: String(decoding: try Data(contentsOf: url), as: UTF8.self))
        } catch { throw fail("cannot read the VQGAN config (\(error))") }
        guard let params = tree["model"]?["params"], let dd = params["ddconfig"] else {
            throw fail("no model.params.ddconfig")
        }
        func int(_ t: ConfigTree, _ key: String, _ range: ClosedRange<Int>) throws -> Int {
            guard let v = t[key]?.int, range.contains(v) else { throw fail("'\(key)' must be an integer in \(range)") }
            return v
        }
        guard let mult = dd["ch_mult"]?.list?.compactMap(\.int), (1...8).contains(mult.count) else {
            throw fail("'ch_mult' must list 1 to 8 integers")
        }
        var config = VQGANConfig(
            baseChannels: try int(dd, "ch", 1...4096), channelMultipliers: mult,
            resBlocks: try int(dd, "num_res_blocks", 1...16), latentChannels: try int(dd, "z_channels", 1...4096),
            embedDim: try int(params, "embed_dim", 1...4096), codebookSize: try int(params, "n_embed", 1...(1 << 24)))
        let resolution = try int(dd, "resolution", 1...8192)
        config.attentionLevels = VQGANConfig.attentionLevels(
            resolution: resolution, attentionResolutions: dd["attn_resolutions"]?.list?.compactMap(\.int) ?? [],
            levels: mult.count)
        if dd["double_z"]?.bool == true { throw fail("'double_z' must be false for a VQ model") }
        return (config, resolution)
    }

    /// The image span of Chameleon's LM: codes are the `IMGIMG…Z` names (letters A–J are digits,
    /// the last character dropped), which must sit at consecutive ids; `<racm3:break>` before,
    /// `<eoss>` after.
    /// - Throws: ``ModelConfigError`` naming `path` when the vocabulary lacks them.
    static func lmVocabulary(_ names: [String: Any], codes: Int, size: Int?, path: String) throws -> VisualVocabulary {
        func fail(_ reason: String) -> ModelConfigError { ModelConfigError(path: path, reason: reason) }
        var idOfCode = [Int?](repeating: nil, count: codes)
        var suffixes = Set<Character>()  // the last character, which transformers drops
        for (name, value) in names where name.hasPrefix("IMGIMG") && name.count > 7 {
            let digits = name.dropFirst(6).dropLast().map { c -> Character in
                guard let a = c.asciiValue, a >= 65, a <= 74 else { return c }
                return Character(UnicodeScalar(a - 65 + 48))
            }
            guard let code = Int(String(digits)), let id = value as? Int, let last = name.last else { continue }
            guard (0..<codes).contains(code) else { throw fail("image token \(name) is code \(code), beyond \(codes)") }
            idOfCode[code] = id
            suffixes.insert(last)
        }
        guard let first = idOfCode[0] else { throw fail("no image tokens (IMGIMG… names) in the vocabulary") }
        for (code, id) in idOfCode.enumerated() where id != first + code {
            throw fail(
                id == nil
                    ? "image code \(code) has no IMGIMG token" : "image tokens are not consecutive ids (code \(code))")
        }
        guard let start = names["<racm3:break>"] as? Int, let end = names["<eoss>"] as? Int else {
            throw fail("the vocabulary has no <racm3:break> / <eoss> image delimiters")
        }
        // The text form is the tokens' own names, where they share one last character.
        let text =
            suffixes.count == 1 && !"ABCDEFGHIJ".contains(suffixes.first ?? "A")
            ? VisualVocabulary.TextForm(
                visual: "IMGIMG%A" + String(suffixes.first ?? "Z"), imageStart: "<racm3:break>", imageEnd: "<eoss>")
            : nil
        return VisualVocabulary(
            layout: "chameleon", offset: first, codebookSizes: [codes], lmVocabularySize: size,
            special: .init(imageStart: start, imageEnd: end), text: text)
    }
}
