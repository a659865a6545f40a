// Janus-Pro's image-generation tokenizer, LlamaGen's VQ-16 (deepseek-ai/Janus, FoundationVision/
// LlamaGen): a VQGAN from 384² images to 24×24 codes of a 16384 × 8 codebook searched on
// L2-normalised vectors, with attention in its last level. Loads transformers' conversions
// (`deepseek-community/Janus-Pro-1B|7B`: `vq_config` in config.json, `model.vqmodel.*`; or a
// standalone `janus_vqgan`) and the original checkpoints (Janus' `gen_vision_model.*`, LlamaGen's
// `vq_ds16_c2i.pt`), whose `conv_blocks` / `res` / `mid.{0,1,2}` names are rewritten at load.
import Foundation
import TesseraCore
import TesseraMedia
import TesseraNN
import TesseraStreams

/// A Janus-Pro / LlamaGen VQ-16 tokenizer.
public struct Janus: LanguageModelImageTokenizer {
    /// Which code search to reproduce.
    public enum Search: String, Sendable, CaseIterable {
        /// deepseek-ai/Janus and LlamaGen: features and codewords L2-normalised (what the LM saw).
        case original
        /// transformers' `JanusVQVAE.encode`: the raw codebook (decoding normalises in both).
        case transformers
    }

    /// The VQGAN's shape.
    public var config: VQGANConfig { grid.model.config }
    /// Family `janus`: `[24, 24]` codes of 16384 for the published models, output in `-1...1`.
    public let descriptor: TokenizerDescriptor
    /// `VLMImageProcessor`'s: longer side to the input size (`round()`, at least 14, PIL bicubic),
    /// padded to a centred square with grey 127, `(x / 255 − 0.5) / 0.5`.
    public let preprocessing: Preprocessing
    /// Which code search this tokenizer reproduces.
    public let search: Search
    /// The generation stream: `<begin_of_image>` then the codes in the generation vocabulary (Janus
    /// embeds them with `gen_embed`, not the text embedding), when the directory has a tokenizer.
    public let lmVocabulary: VisualVocabulary?
    let grid: VQGANGrid

    /// Loads a Janus or LlamaGen VQ-16 directory (or a LlamaGen `.pt` file).
    /// - Throws: ``ModelConfigError`` for the config, `WeightLoadError` listing key problems.
    public init(directory: URL, search: Search = .original) throws {
        self.search = search
        let configURL = directory.appendingPathComponent("config.json")
        let root =
            FileManager.default.fileExists(atPath: configURL.path)
            ? JSONFields(object: try readJSONConfig(configURL), path: configURL.path) : nil
        let checkpoint = try Checkpoint(
            directory: directory, files: Checkpoint.conventionalFiles + ["vq_ds16_c2i.pt", "vq_ds16_t2i.pt"])
        let candidates = ["model.vqmodel", "gen_vision_model", "model", "ema", "state_dict", ""]
        guard let found = vqPrefix(checkpoint, candidates: candidates) else {
            throw ModelConfigError(path: directory.path, reason: "the checkpoint has no VQ encoder (encoder.conv_in)")
        }
        let prefix = found.isEmpty ? "" : found + "."
        let original = checkpoint.contains(prefix + "encoder.conv_blocks.0.res.0.conv1.weight")
        var config: VQGANConfig
        var size: Int
        switch root?.string("model_type") {
        case "janus":
            guard let vq = root?.object("vq_config") else {
                throw ModelConfigError(path: configURL.path, reason: "no 'vq_config': not a Janus checkpoint")
            }
            (config, size) = try Self.transformersConfig(vq)
        case "janus_vqgan" where root != nil:
            (config, size) = try Self.transformersConfig(root ?? JSONFields(object: [:], path: configURL.path))
        default:
            // Janus' own config (model_type multi_modality) and LlamaGen's checkpoints state no
            // sizes (their code names a preset, VQ-16 or VQ-8): read them off the tensors.
            config = try Self.inferredConfig(checkpoint, prefix: prefix, path: directory.path)
            size = 384
        }
        grid = try VQGANGrid(
            checkpoint: checkpoint, prefix: prefix, config: config, keys: .tamingExecutionOrder,
            normalizedSearch: search == .original, normalizedLookup: true, size: size,
            modelID: directory.lastPathComponent, path: directory.path,
            ignoring: ["quantize.codebook_used"],  // LlamaGen's usage counter (training only)
            rewrite: original ? Self.transformersName : { $0 })
        descriptor = grid.descriptor(family: "janus")
        var p = Preprocessing(
            resize: .longerSide(size, minimum: 14), filter: .bicubic,
            normalization: .rescaled(factor: 1 / 255, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5]))
        p.padToSquare = 127
        preprocessing = p
        lmVocabulary = try Self.lmVocabulary(directory, codes: config.codebookSize)
    }

    /// Codes `[h, w]` (row-major) of preprocessed images `[3, S, S]`.
    public func encode(preprocessed images: [Tensor], options: EncodeOptions) throws -> [Tokens] {
        try grid.encode(images, options: options)
    }

    /// Reconstructions `[3, S, S]` in about [−1, 1].
    public func decode(_ tokens: [Tokens], options: DecodeOptions) throws -> [Tensor] {
        try grid.decode(tokens, options: options)
    }

    /// The VQGAN's activations at the input size, per image of the batch.
    public func workingMemory(batch: Int, decoding: Bool) -> Int {
        grid.workingMemory(batch: batch, decoding: decoding)
    }

    /// Floating-point operations of encoding and decoding one image (``VQGAN/flops(height:width:)``).
    public var flopsPerImage: (encode: Double, decode: Double) {
        grid.flops
    }

    // MARK: loading

    /// transformers' `JanusVQVAEConfig` fields; the input side is `num_patches` × the factor.
    static func transformersConfig(_ vq: JSONFields) throws -> (VQGANConfig, Int) {
        let mult = try vq.ints("channel_multiplier", default: [1, 1, 2, 2, 4])
        var config = VQGANConfig(
            baseChannels: try vq.int("base_channels", default: 128, in: 1...4096), channelMultipliers: mult,
            resBlocks: try vq.int("num_res_blocks", default: 2, in: 1...16),
            latentChannels: try vq.int("latent_channels", default: 256, in: 1...4096),
            embedDim: try vq.int("embed_dim", default: 8, in: 1...4096),
            codebookSize: try vq.int("num_embeddings", default: 16384, in: 1...(1 << 24)))
        config.attentionLevels = [mult.count - 1]
        if try vq.bool("double_latent", default: false) {
            throw vq.fail("double_latent", "false (a VQ encoder has one latent, not a KL posterior)")
        }
        let patches = try vq.int("num_patches", default: 24, in: 1...512)
        return (config, patches * config.factor)
    }

    /// The shape of a VQ stored under `prefix`, read off its tensors (LlamaGen's / Janus' names, or
    /// the taming names): levels and channels from the encoder's ResNet blocks, attention where a
    /// level has it, latent and codeword widths from `quant_conv` and the codebook.
    static func inferredConfig(_ checkpoint: Checkpoint, prefix: String, path: String) throws -> VQGANConfig {
        func shape(_ key: String) -> [Int]? { checkpoint.entry(prefix + key)?.shape }
        let original = checkpoint.contains(prefix + "encoder.conv_blocks.0.res.0.conv1.weight")
        let (levels, blocks) = original ? ("encoder.conv_blocks", "res") : ("encoder.down", "block")
        var channels: [Int] = [], perLevel = 0
        while perLevel < 16, checkpoint.contains(prefix + "\(levels).0.\(blocks).\(perLevel).conv1.weight") {
            perLevel += 1
        }
        while channels.count < 8, let s = shape("\(levels).\(channels.count).\(blocks).0.conv2.weight"), s.count == 4 {
            channels.append(s[0])
        }
        guard let book = shape("quantize.embedding.weight"), book.count == 2,
            let convIn = shape("encoder.conv_in.weight"),
            convIn.count == 4, convIn[0] > 0, let quant = shape("quant_conv.weight"), quant.count == 4,
            !channels.isEmpty, perLevel > 0, channels.allSatisfy({ $0 % convIn[0] == 0 })
        else {
            throw ModelConfigError(
                path: path,
                reason: "cannot read the VQ's sizes off its tensors (\(levels).*, quant_conv, quantize.embedding)")
        }
        var config = VQGANConfig(
            baseChannels: convIn[0], channelMultipliers: channels.map { $0 / convIn[0] }, resBlocks: perLevel,
            latentChannels: quant[1], embedDim: book[1], codebookSize: book[0])
        config.attentionLevels = Set(
            channels.indices.filter { checkpoint.contains(prefix + "\(levels).\($0).attn.0.q.weight") })
        return config
    }

    /// LlamaGen / Janus names → the taming names the conv blocks bind: `conv_blocks` → `down` /
    /// `up`, `res` → `block`, `mid.{0,1,2}` → `mid.{block_1, attn_1, block_2}` (transformers' converter).
    static func transformersName(_ key: String) -> String {
        var parts = key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count > 2 else { return key }
        if parts[1] == "conv_blocks" { parts[1] = parts[0] == "encoder" ? "down" : "up" }
        if parts.count > 3, parts[1] == "down" || parts[1] == "up", parts[3] == "res" { parts[3] = "block" }
        if parts[1] == "mid", let i = ["0", "1", "2"].firstIndex(of: parts[2]) {
            parts[2] = ["block_1", "attn_1", "block_2"][i]
        }
        return parts.joined(separator: ".")
    }

    /// `<begin_of_image>` from the directory's `tokenizer.json`, if it has one.
    static func lmVocabulary(_ directory: URL, codes: Int) throws -> VisualVocabulary? {
        let url = directory.appendingPathComponent("tokenizer.json")
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        let tokens = (try readJSONConfig(url, limit: 256 << 20)["added_tokens"] as? [[String: Any]]) ?? []
        guard let start = tokens.first(where: { $0["content"] as? String == "<begin_of_image>" })?["id"] as? Int
        else {
            throw ModelConfigError(path: url.path, reason: "no <begin_of_image> among the added tokens")
        }
        return VisualVocabulary(layout: "janus", offset: 0, codebookSizes: [codes], special: .init(imageStart: start))
    }
}
