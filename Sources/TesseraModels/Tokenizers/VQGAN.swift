// The taming-transformers VQGAN the LM image tokenizers share (Chameleon, Janus-Pro / LlamaGen
// VQ-16): NN's conv encoder → 1×1 `quant_conv` → nearest codeword; codeword → 1×1
// `post_quant_conv` → NN's conv decoder. Each family file declares its key layout, config
// reader, preprocessing and codebook rule, and uses ``VQGAN`` and ``VQGANGrid`` for the rest.
import Foundation
import TesseraCore
import TesseraMedia
import TesseraNN
import TesseraQuantizers

/// The shape of a VQGAN, from its family's config.
public struct VQGANConfig: Sendable, Equatable {
    /// Base channel count (`base_channels`, `ch`).
    public var baseChannels: Int
    /// Channel multiplier per level, highest resolution first (`channel_multiplier`, `ch_mult`).
    public var channelMultipliers: [Int]
    /// ResNet blocks per encoder level (`num_res_blocks`).
    public var resBlocks: Int
    /// Channels of the encoder output (`latent_channels`, `z_channels`).
    public var latentChannels: Int
    /// Codeword width (`embed_dim`).
    public var embedDim: Int
    /// Codewords (`num_embeddings`, `n_embed`).
    public var codebookSize: Int
    /// Levels with attention after each ResNet block (from `attn_resolutions`, or the last level).
    public var attentionLevels: Set<Int> = []

    /// - Parameters:
    ///   - baseChannels: base channels.
    ///   - channelMultipliers: multiplier per level.
    ///   - resBlocks: ResNet blocks per encoder level.
    ///   - latentChannels: encoder output channels.
    ///   - embedDim: codeword width.
    ///   - codebookSize: codewords.
    public init(
        baseChannels: Int, channelMultipliers: [Int], resBlocks: Int, latentChannels: Int, embedDim: Int,
        codebookSize: Int
    ) {
        self.baseChannels = baseChannels
        self.channelMultipliers = channelMultipliers
        self.resBlocks = resBlocks
        self.latentChannels = latentChannels
        self.embedDim = embedDim
        self.codebookSize = codebookSize
    }

    /// The levels whose resolution (`resolution / 2^level`) is listed in taming's `attn_resolutions`.
    public static func attentionLevels(resolution: Int, attentionResolutions: [Int], levels: Int) -> Set<Int> {
        Set((0..<levels).filter { attentionResolutions.contains(resolution >> $0) })
    }

    /// Spatial downsampling: 2 per level after the first.
    public var factor: Int { 1 << max(0, channelMultipliers.count - 1) }

    /// The encoder / decoder shape (decoder input: `latentChannels`).
    public var coderShape: ConvCoderShape {
        var shape = ConvCoderShape(
            channels: channelMultipliers.map { $0 * baseChannels }, blocksPerLevel: resBlocks,
            latentChannels: latentChannels)
        shape.attentionLevels = attentionLevels
        return shape
    }

    /// Fails unless the sizes are ones the blocks support.
    /// - Throws: ``ModelConfigError`` naming `path`.
    public func validate(path: String) throws {
        try coderShape.validate(path: path)
        guard (1...4096).contains(embedDim), (1...(1 << 24)).contains(codebookSize) else {
            throw ModelConfigError(
                path: path, reason: "codebook of \(codebookSize) × \(embedDim) is out of range")
        }
    }
}

/// A VQGAN: images `[B, 3, H, W]` in [−1, 1] → `[B][h·w]` codes (row-major), and back.
public struct VQGAN: Sendable {
    /// The shape.
    public let config: VQGANConfig
    let encoder: ConvEncoder
    let quantConv: Conv2d
    let quantizer: VectorQuantizer
    /// `[K, D]` codewords as decoding looks them up.
    let lookup: Tensor
    let postQuantConv: Conv2d?
    let decoder: ConvDecoder?

    /// Binds the model under `w` (`encoder.*`, `quant_conv`, `quantize.embedding.weight`, and with
    /// `decoder`, `post_quant_conv` and `decoder.*`).
    /// - Parameters:
    ///   - keys: the checkpoint's layout.
    ///   - normalizedSearch: L2-normalise features and codewords before the nearest-codeword search
    ///     (LlamaGen / Janus); plain squared L2 otherwise.
    ///   - normalizedLookup: decoding looks up L2-normalised codewords (LlamaGen / Janus).
    ///   - decoder: bind the decoder (absent from transformers' Chameleon conversion).
    public init(
        _ w: WeightScope, config c: VQGANConfig, keys: ConvCoderKeys, normalizedSearch: Bool, normalizedLookup: Bool,
        decoder hasDecoder: Bool
    ) throws {
        config = c
        let shape = c.coderShape
        encoder = try ConvEncoder(w["encoder"], shape: shape, keys: keys)
        quantConv = try Conv2d(w["quant_conv"], in: c.latentChannels, out: c.embedDim, kernel: (1, 1))
        let codebook = try w["quantize.embedding"].tensor("weight", shape: [c.codebookSize, c.embedDim])
        quantizer = VectorQuantizer(
            codebook: codebook, metric: .euclidean(clampMin: nil), normalizeInputs: normalizedSearch,
            normalizeCodebook: normalizedSearch)
        lookup = normalizedLookup ? codebook.l2Normalized() : codebook
        if hasDecoder {
            postQuantConv = try Conv2d(w["post_quant_conv"], in: c.embedDim, out: c.latentChannels, kernel: (1, 1))
            decoder = try ConvDecoder(w["decoder"], shape: shape, keys: keys)
        } else {
            postQuantConv = nil
            decoder = nil
        }
    }

    /// Whether the checkpoint had a decoder.
    public var canDecode: Bool { decoder != nil }

    /// The encoder's output `[B, z, h, w]` (before `quant_conv`).
    public func encoderOutput(_ pixels: Tensor) -> Tensor { encoder(pixels) }

    /// Codes `[B][h·w]`, row-major, of images `[B, 3, H, W]` (H and W multiples of the factor).
    public func codes(_ pixels: Tensor) -> [[Int]] {
        let z = quantConv(encoder(pixels))
        let (b, d, cells) = (z.shape[0], z.shape[1], z.shape[2] * z.shape[3])
        let ids = quantizer.encode(z.reshaped([b, d, cells]).transposed(1, 2).reshaped([b * cells, d]))
        return (0..<b).map { Array(ids[($0 * cells)..<(($0 + 1) * cells)]) }
    }

    /// Images `[B, 3, h·f, w·f]` (not clamped) for code grids `[B][h·w]`.
    /// - Throws: ``TokenizerError`` without a decoder or for codes outside the codebook.
    public func decode(_ codes: [[Int]], height h: Int, width w: Int) throws -> Tensor {
        guard let decoder, let postQuantConv else { throw TokenizerError("this checkpoint has no decoder") }
        let k = config.codebookSize, d = config.embedDim
        var flat: [Int] = []
        for grid in codes {
            guard grid.count == h * w else { throw TokenizerError("a grid of \(grid.count) codes is not \(h)×\(w)") }
            if let bad = grid.first(where: { !(0..<k).contains($0) }) {
                throw TokenizerError("code \(bad) is outside the codebook [0, \(k))")
            }
            flat += grid
        }
        let rows = lookup.indexSelect(axis: 0, flat)  // [B·h·w, D]
        let latents = rows.reshaped([codes.count, h * w, d]).transposed(1, 2).reshaped([codes.count, d, h, w])
        return decoder(postQuantConv(latents))
    }

    /// About the peak activation bytes of encoding and of decoding one `height × width` image.
    public func activationBytes(height: Int, width: Int) -> (encode: Int, decode: Int) {
        let shape = config.coderShape
        return (
            shape.activationBytes(height: height, width: width), shape.activationBytes(height: height, width: width)
        )
    }

    /// Floating-point operations (multiply and add counted apart) of encoding and of decoding one
    /// `height × width` image: convolutions and attention (the codebook search is not counted).
    public func flops(height: Int, width: Int) -> (encode: Double, decode: Double) {
        let f = config.factor, cells = (height / f) * (width / f)
        let encode = encoder.flops(height: height, width: width) + Double(2 * quantConv.weight.count * cells)
        let decode =
            (postQuantConv.map { Double(2 * $0.weight.count * cells) } ?? 0)
            + (decoder?.flops(height: height / f, width: width / f) ?? 0)
        return (encode, decode)
    }
}

/// Encode and decode of square fixed-size images as `[h, w]` code grids, in batches: the part
/// of ``ImageTokenizer`` every VQGAN family shares.
struct VQGANGrid: Sendable {
    let model: VQGAN
    let modelID: String
    /// Input side in pixels.
    let size: Int

    var grid: Int { size / model.config.factor }

    /// ``ImageTokenizer/workingMemory(batch:decoding:)`` of the families built on the grid.
    func workingMemory(batch: Int, decoding: Bool) -> Int {
        let bytes = model.activationBytes(height: size, width: size)
        return batch * (4 * 3 * size * size + (decoding ? bytes.decode : bytes.encode))
    }

    /// Binds the VQGAN stored under `prefix` (`"model.vqmodel."`, or empty) in `checkpoint`, with or
    /// without its decoder as the checkpoint has it; every tensor outside the prefix may stay unused.
    /// - Parameters:
    ///   - ignoring: further keys (after the prefix is removed) that may stay unused.
    ///   - rewrite: maps the checkpoint's names to `keys`' (``WeightLoader``).
    /// - Throws: ``ModelConfigError`` for an unsupported shape, `WeightLoadError` listing key problems.
    init(
        checkpoint: Checkpoint, prefix: String, config: VQGANConfig, keys: ConvCoderKeys, normalizedSearch: Bool,
        normalizedLookup: Bool, size: Int, modelID: String, path: String, ignoring: [String] = [],
        rewrite: (String) -> String = { $0 }
    ) throws {
        try config.validate(path: path)
        let hasDecoder = checkpoint.contains(prefix + "decoder.conv_in.weight")
        // Conversions without a decoder keep `post_quant_conv`, which only decoding uses.
        let ignored =
            checkpoint.names.filter { !$0.hasPrefix(prefix) } + ignoring + (hasDecoder ? [] : ["post_quant_conv."])
        let loader = try WeightLoader(
            checkpoint, renames: prefix.isEmpty ? [] : [(prefix, "")], ignored: ignored, rewrite: rewrite)
        // The sizes against the tensors, before a model of those sizes exists.
        try config.coderShape.validate(path: path, encoder: loader.root["encoder"], keys: keys)
        try ConfigCheck(path: path).agrees(
            loader.root["quantize.embedding"], "weight", [config.codebookSize, config.embedDim],
            fields: "the codebook size and embedding width")
        model = try VQGAN(
            loader.root, config: config, keys: keys, normalizedSearch: normalizedSearch,
            normalizedLookup: normalizedLookup, decoder: hasDecoder)
        try loader.finish()
        self.modelID = modelID
        self.size = size
    }

    /// Floating-point operations of encoding and decoding one image.
    var flops: (encode: Double, decode: Double) { model.flops(height: size, width: size) }

    /// The descriptor of family `family`.
    func descriptor(family: String) -> TokenizerDescriptor {
        TokenizerDescriptor(
            family: family, modelID: modelID, inputSize: PixelSize(size), tokenShape: [grid, grid],
            vocabularySizes: [model.config.codebookSize], variableLength: false, outputRange: -1...1)
    }

    func encode(_ images: [Tensor], options: EncodeOptions) throws -> [Tokens] {
        if let bad = images.first(where: { $0.shape != [3, size, size] }) {
            throw TokenizerError(
                "\(modelID) takes preprocessed images of shape [3, \(size), \(size)], got \(bad.shape)")
        }
        guard options.tokenLimit == nil else { throw TokenizerError("\(modelID) has a fixed \(grid)×\(grid) grid") }
        guard options.seed == nil else { throw TokenizerError("\(modelID) encodes deterministically (no seed)") }
        var out: [Tokens] = []
        let batch = max(1, options.batchSize), k = model.config.codebookSize
        for start in stride(from: 0, to: images.count, by: batch) {
            let part = images[start..<min(images.count, start + batch)]
            let pixels = Tensor.concatenate(part.map { $0.reshaped([1] + $0.shape) }, axis: 0)
            for ids in model.codes(pixels) {
                out.append(Tokens(ids: ids, shape: [grid, grid], vocabularySizes: [k], model: modelID))
            }
        }
        return out
    }

    func decode(_ tokens: [Tokens], options: DecodeOptions) throws -> [Tensor] {
        guard options.seed == nil, options.steps == nil, options.guidanceScale == nil, options.guidanceMode == nil,
            options.noise == nil, options.conditioning == nil, options.tokenLimit == nil
        else { throw TokenizerError("\(modelID) decodes its code grid in one deterministic pass") }
        guard model.canDecode else {
            throw TokenizerError("\(modelID) has no decoder (transformers' conversion keeps only the encoder)")
        }
        var out: [Tensor] = []
        let batch = max(1, options.batchSize)
        for start in stride(from: 0, to: tokens.count, by: batch) {
            let part = tokens[start..<min(tokens.count, start + batch)]
            let grids = try part.map { t -> [Int] in
                guard t.shape == [grid, grid], t.latents == nil else {
                    throw TokenizerError("\(modelID) decodes [\(grid), \(grid)] code grids, got \(t.shape)")
                }
                return t.ids
            }
            let images = try model.decode(grids, height: grid, width: grid)
            for i in 0..<part.count { out.append(images.slice(axis: 0, i..<(i + 1)).reshaped([3, size, size])) }
        }
        return out
    }
}

/// `config.json` of a transformers model as a JSON object (Chameleon's carries the 65,536-name
/// `vocabulary_map`, so the limit is generous).
func readJSONConfig(_ url: URL, limit: Int = 64 << 20) throws -> [String: Any] {
    func fail(_ reason: String) -> ModelConfigError { ModelConfigError(path: url.path, reason: reason) }
    let data: Data
    do {
        let size = try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int ?? 0
        guard size <= limit else { throw fail("\(size) bytes, above the \(limit)-byte limit for a config") }
        data = try Data(contentsOf: url)
    } catch let error as ModelConfigError {
        throw error
    } catch {
        throw fail("cannot read the file (\(error.localizedDescription))")
    }
    let parsed: Any
    do { parsed = try JSONSerialization.jsonObject(with: data) } catch {
        throw fail("not valid JSON (\(error.localizedDescription))")
    }
    guard let object = parsed as? [String: Any] else { throw fail("not a JSON object") }
    return object
}

/// Typed reads from a JSON config object, failing with the file and the field.
struct JSONFields {
    let object: [String: Any]
    let path: String

    func fail(_ field: String, _ expected: String) -> ModelConfigError {
        ModelConfigError(path: path, reason: "'\(field)' must be \(expected)")
    }

    func int(_ key: String, default value: Int? = nil, in range: ClosedRange<Int> = 0...(1 << 30)) throws -> Int {
        guard let raw = object[key] else {
            if let value { return value }
            throw fail(key, "an integer in \(range)")
        }
        guard let n = Self.integer(raw), range.contains(n) else { throw fail(key, "an integer in \(range)") }
        return n
    }

    func ints(_ key: String, default value: [Int]? = nil, count: ClosedRange<Int> = 1...16) throws -> [Int] {
        guard let raw = object[key], !(raw is NSNull) else {
            if let value { return value }
            throw fail(key, "a list of integers")
        }
        guard let list = raw as? [Any], count.contains(list.count) || (list.isEmpty && count.lowerBound == 0) else {
            throw fail(key, "a list of \(count) integers")
        }
        return try list.map {
            guard let n = Self.integer($0), n >= 0, n <= 1 << 20 else { throw fail(key, "a list of integers") }
            return n
        }
    }

    /// A JSON integer (not a boolean, not a fraction).
    static func integer(_ raw: Any) -> Int? {
        guard let number = raw as? NSNumber, !(raw is String) else { return nil }
        let type = String(cString: number.objCType)
        guard type != "c", type != "B", number.doubleValue == number.doubleValue.rounded() else { return nil }
        return number.intValue
    }

    func bool(_ key: String, default value: Bool) throws -> Bool {
        guard let raw = object[key] else { return value }
        guard let b = raw as? Bool else { throw fail(key, "true or false") }
        return b
    }

    func string(_ key: String) -> String? { object[key] as? String }

    func object(_ key: String) -> JSONFields? {
        (object[key] as? [String: Any]).map { JSONFields(object: $0, path: path + " (\(key))") }
    }
}

/// The prefix under which a checkpoint keeps its VQ model: `model.vqmodel` (transformers' LM
/// conversions), `vqmodel` (Emu3's hub files), `gen_vision_model` (Janus' original) or none
/// (a standalone VQ model), found by its `encoder.conv_in.weight`.
func vqPrefix(_ checkpoint: Checkpoint, candidates: [String]) -> String? {
    candidates.first { checkpoint.contains(($0.isEmpty ? "" : $0 + ".") + "encoder.conv_in.weight") }
}
