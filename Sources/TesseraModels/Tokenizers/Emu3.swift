// Emu3's vision tokenizer (baaivision/Emu3; transformers' `Emu3VQVAE`): the taming conv encoder
// per frame (NN's `ConvEncoder` with Emu3's key names), then a causal temporal stack — two
// stride-2 Conv3d downsamples with SiLU and two BatchNorm3d ResNet blocks — and a causal (3, 1, 1)
// `quant_conv`, nearest of 32768 codewords. Images are repeated 4× in time (as upstream) and give
// `[H/8, W/8]` codes; clips of T frames give `[T', H/8, W/8]` with T' = ⌊(T + 2 − 4) / 2⌋ + 1, twice.
// Decoding mirrors it: codewords and a causal `post_quant_conv`, then — for both those latents and
// the codewords themselves — two temporal ResNet blocks and two nearest ×2 temporal upsamplings
// with a causal (3, 3, 3) convolution and SiLU, then per frame NN's `ConvDecoder` whose norms are
// SpatialNorms of the upsampled codewords. 4T' frames; an image is frame 0.
// Emu3Vocabulary.swift reads the LM's image span.
import Foundation
import TesseraCore
import TesseraMedia
import TesseraNN
import TesseraQuantizers
import TesseraStreams

/// A Conv3d with Emu3's causal padding: temporal (2 front, 0 back) zeros, spatial `k − s` split
/// (more before), applied as one 2D convolution per temporal tap over the frames.
struct CausalConv3d: Sendable {
    /// One 2D convolution per temporal tap (the bias on the first).
    let taps: [Conv2d]
    let temporalStride: Int

    /// Binds `w` (`weight` `[out, in, kt, kh, kw]`, `bias`) for stride `(temporalStride, 1, 1)`.
    init(_ w: WeightScope, in cin: Int, out cout: Int, kernel: (Int, Int, Int), temporalStride: Int) throws {
        let weight = try w.tensor("weight", shape: [cout, cin, kernel.0, kernel.1, kernel.2])
        let bias = try w.tensor("bias", shape: [cout])
        let (kh, kw) = (kernel.1, kernel.2)
        taps = (0..<kernel.0).map { t in
            // weight[:, :, t] as [out, in, kh, kw].
            var slice = [Float](repeating: 0, count: cout * cin * kh * kw)
            for oc in 0..<(cout * cin) {
                for k in 0..<(kh * kw) { slice[oc * kh * kw + k] = weight.scalars[(oc * kernel.0 + t) * kh * kw + k] }
            }
            return Conv2d(
                weight: Tensor(shape: [cout, cin, kh, kw], scalars: slice), bias: t == 0 ? bias : nil,
                padding: ((kh - 1) / 2 + (kh - 1) % 2, (kw - 1) / 2 + (kw - 1) % 2))
        }
        self.temporalStride = temporalStride
    }

    /// Frames `[T, C, h, w]` → `[T', O, h, w]`.
    func callAsFunction(_ frames: Tensor) -> Tensor {
        let t = frames.shape[0], k = taps.count
        let padded = Tensor.concatenate([Tensor.zeros([2] + Array(frames.shape.dropFirst())), frames], axis: 0)
        let outputs = (t + 2 - k) / temporalStride + 1
        func tap(_ i: Int) -> Tensor {
            taps[i](padded.indexSelect(axis: 0, (0..<outputs).map { $0 * temporalStride + i }))
        }
        var sum = tap(0)
        for i in 1..<k { sum.add(tap(i)) }
        return sum
    }
}

/// `BatchNorm3d` in eval mode over `[T, C, h, w]` (per channel: running statistics, eps 1e-5).
struct BatchNorm3d: Sendable {
    let scale: [Float], shift: [Float]

    init(_ w: WeightScope, channels c: Int) throws {
        let weight = try w.tensor("weight", shape: [c]), bias = try w.tensor("bias", shape: [c])
        let mean = try w.tensor("running_mean", shape: [c]), variance = try w.tensor("running_var", shape: [c])
        w.loader.skip(w.key("num_batches_tracked"))
        let scale = (0..<c).map { weight.scalars[$0] / (variance.scalars[$0] + 1e-5).squareRoot() }
        shift = (0..<c).map { bias.scalars[$0] - mean.scalars[$0] * scale[$0] }
        self.scale = scale
    }

    /// Normalises, then SiLU (the only way Emu3 uses it).
    func silu(_ x: Tensor) -> Tensor {
        let c = x.shape[1], plane = x.shape[2] * x.shape[3]
        var out = x.scalars
        for i in 0..<x.shape[0] {
            for ch in 0..<c {
                let base = (i * c + ch) * plane
                for j in base..<(base + plane) { out[j] = out[j] * scale[ch] + shift[ch] }
            }
        }
        return Tensor(shape: x.shape, scalars: out).activated(.silu)
    }
}

/// One temporal ResNet block: BN3d → SiLU → conv(3,3,3), twice, plus the input.
struct TemporalResBlock: Sendable {
    let norm1: BatchNorm3d, conv1: CausalConv3d, norm2: BatchNorm3d, conv2: CausalConv3d

    init(_ w: WeightScope, channels c: Int) throws {
        norm1 = try BatchNorm3d(w["norm1"], channels: c)
        conv1 = try CausalConv3d(w["conv1.conv"], in: c, out: c, kernel: (3, 3, 3), temporalStride: 1)
        norm2 = try BatchNorm3d(w["norm2"], channels: c)
        conv2 = try CausalConv3d(w["conv2.conv"], in: c, out: c, kernel: (3, 3, 3), temporalStride: 1)
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        var y = conv2(norm2.silu(conv1(norm1.silu(x))))
        y.add(x)
        return y
    }
}

/// The decoder's temporal part: ResNet blocks, then per step nearest ×2 in time, a causal
/// (3, 3, 3) convolution and SiLU. `[T', C, h, w]` → `[T' · 2^steps, C, h, w]`.
struct TemporalUpsampler: Sendable {
    let blocks: [TemporalResBlock]
    let convs: [CausalConv3d]

    init(_ w: WeightScope, channels c: Int, blocks count: Int, steps: Int) throws {
        blocks = try (0..<count).map { try TemporalResBlock(w["time_res_stack"][$0], channels: c) }
        convs = try (0..<steps).map {
            try CausalConv3d(w["time_conv"][$0]["conv.conv"], in: c, out: c, kernel: (3, 3, 3), temporalStride: 1)
        }
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        var h = x
        for block in blocks { h = block(h) }
        for conv in convs {
            h = conv(h.indexSelect(axis: 0, (0..<(2 * h.shape[0])).map { $0 / 2 })).activated(.silu)
        }
        return h
    }
}

/// Emu3's decoder: `post_quant_conv`, the temporal upsampler (run on the latents and, with the
/// same weights, on the codewords that condition the SpatialNorms), the conditioned conv decoder.
struct Emu3Decoder: Sendable {
    let postQuantConv: CausalConv3d
    let temporal: TemporalUpsampler
    let spatial: ConvDecoder

    /// Frames `[T, 3, H, W]` (not clamped) of codewords `[T', D, h, w]`; only frames `0..<frames`
    /// when given (an image needs frame 0 only: the temporal part is causal and cheap, the spatial
    /// part is per frame and is nearly all the work).
    func callAsFunction(_ quant: Tensor, frames: Int? = nil) -> Tensor {
        var h = temporal(postQuantConv(quant)), zq = temporal(quant)
        if let frames, frames < h.shape[0] {
            h = h.slice(axis: 0, 0..<frames)
            zq = zq.slice(axis: 0, 0..<frames)
        }
        // A few frames at a time: the top level's activations are large (256 channels at H × W).
        let t = h.shape[0], f = spatial.shape.factor, pixels = h.shape[2] * h.shape[3] * f * f
        let step = max(1, (1 << 17) / max(1, pixels))
        guard t > step else { return spatial(h, condition: zq) }
        return Tensor.concatenate(
            stride(from: 0, to: t, by: step).map {
                let part = $0..<min(t, $0 + step)
                return spatial(h.slice(axis: 0, part), condition: zq.slice(axis: 0, part))
            }, axis: 0)
    }
}

/// The Emu3 vision tokenizer: images and clips to codes, and back.
public struct Emu3: LanguageModelImageTokenizer, VideoClipTokenizer {
    /// The spatial part's shape (`base_channels · channel_multiplier`, `attn_resolutions` as level indices).
    public let coderShape: ConvCoderShape
    /// Frames folded into one code step (`temporal_downsample_factor`).
    public let temporalFactor: Int
    /// Codewords.
    public let codebookSize: Int
    /// Family `emu3`: `[H/8, W/8]` codes of 32768 for images (size varies with the image, nominal 512²).
    public let descriptor: TokenizerDescriptor
    /// The processor's: `smart_resize` to multiples of 8 within 512²…1024² pixels (or the
    /// `min_pixels` / `max_pixels` of `preprocessor_config.json`), PIL bicubic, `(x / 255 − 0.5) / 0.5`.
    public let preprocessing: Preprocessing
    let encoder: ConvEncoder
    let timeConvs: [CausalConv3d]
    let timeBlocks: [TemporalResBlock]
    let quantConv: CausalConv3d
    let quantizer: VectorQuantizer
    /// nil where the checkpoint has no decoder.
    let decoder: Emu3Decoder?
    /// Whether the checkpoint has the decoder.
    public var canDecode: Bool { decoder != nil }

    /// Floating-point operations (multiply and add counted apart, direct convolution) of encoding and of
    /// decoding `frames` frames of `height × width`: the per-frame conv encoder and decoder, which
    /// are nearly all the work (the temporal layers have 4 channels).
    public func flops(frames: Int, height: Int, width: Int) -> (encode: Double, decode: Double) {
        let f = coderShape.factor
        let decode = decoder.map { $0.spatial.flops(height: height / f, width: width / f) } ?? 0
        return (Double(frames) * encoder.flops(height: height, width: width), Double(frames) * decode)
    }
    /// The LM's image span, from the directory's `vocabulary_map` / `tokenizer.json` (nil for a bare VQ-VAE).
    public let lmVocabulary: VisualVocabulary?

    /// Loads Emu3's VQ-VAE: transformers' (`emu3_vqgan`, or `vq_config` of an Emu3 LM directory with the
    /// tokenizer under `model.vqmodel.` / `vqmodel.`) or the original release's (`Emu3VisionVQ`,
    /// BAAI/Emu3-VisionTokenizer: taming names, 1×1-conv attention).
    /// - Parameter behaviour: Whose tokenizer spells the resolution in the LM span: Emu3's own (digit
    ///   by digit) or transformers' converted one (digit runs kept together).
    /// - Throws: ``ModelConfigError`` for the config, `WeightLoadError` listing key problems.
    public init(directory: URL, behaviour: ReferenceBehaviour = .original) throws {
        let url = directory.appendingPathComponent("config.json")
        let root = JSONFields(object: try readJSONConfig(url), path: url.path)
        let type = root.string("model_type")
        // transformers' names (`emu3_vqgan`, `vq_config` of `emu3`), or the original release's
        // `Emu3VisionVQ` (ch, ch_mult, z_channels, double_z; taming key names).
        let original = type == "Emu3VisionVQ"
        guard
            let vq = type == "emu3" ? root.object("vq_config") : (type == "emu3_vqgan" || original ? root : nil)
        else {
            throw ModelConfigError(path: url.path, reason: "model_type \(type ?? "nil") is not Emu3's VQ-VAE")
        }
        let mult = try vq.ints(original ? "ch_mult" : "channel_multiplier", default: [1, 2, 2, 4])
        let base = try vq.int(original ? "ch" : "base_channels", default: 256, in: 1...4096)
        let z = try vq.int(original ? "z_channels" : "latent_channels", default: 4, in: 1...4096)
        let embed = try vq.int("embed_dim", default: 4, in: 1...4096)
        codebookSize = try vq.int("codebook_size", default: 32768, in: 1...(1 << 24))
        temporalFactor = try vq.int("temporal_downsample_factor", default: 4, in: 1...64)
        guard temporalFactor & (temporalFactor - 1) == 0 else {
            throw vq.fail("temporal_downsample_factor", "a power of 2")
        }
        if try vq.bool(original ? "double_z" : "double_latent", default: false) {
            throw vq.fail(original ? "double_z" : "double_latent", "false")
        }
        var shape = ConvCoderShape(
            channels: mult.map { $0 * base }, blocksPerLevel: try vq.int("num_res_blocks", default: 2, in: 1...16),
            latentChannels: z)
        shape.attentionLevels = Set(try vq.ints("attn_resolutions", default: [3], count: 0...16))
        if !original {
            shape.attentionHeads = try vq.int("num_attention_heads", default: 1, in: 1...64)
            let hidden = try vq.int("hidden_size", default: 1024, in: 1...65536)
            guard hidden == shape.channels[shape.channels.count - 1], hidden % shape.attentionHeads == 0 else {
                throw vq.fail("hidden_size", "base_channels × the last multiplier (\(shape.channels.last ?? 0))")
            }
        }
        try shape.validate(path: url.path)
        coderShape = shape
        let checkpoint = try Checkpoint(directory: directory)
        guard let found = vqPrefix(checkpoint, candidates: ["model.vqmodel", "vqmodel", ""]) else {
            throw ModelConfigError(path: directory.path, reason: "the checkpoint has no VQ encoder (encoder.conv_in)")
        }
        let prefix = found.isEmpty ? "" : found + "."
        let hasDecoder = checkpoint.contains(prefix + "decoder.conv_in.weight")
        let ignored =
            checkpoint.names.filter { !$0.hasPrefix(prefix) } + (hasDecoder ? [] : ["decoder.", "post_quant_conv."])
        let loader = try WeightLoader(checkpoint, renames: prefix.isEmpty ? [] : [(prefix, "")], ignored: ignored)
        let w = loader.root
        // The sizes against the tensors, before a model of those sizes exists.
        try shape.validate(path: url.path, encoder: w["encoder"], keys: original ? .taming : .emu3)
        try ConfigCheck(path: url.path).agrees(
            w["quantize.embedding"], "weight", [codebookSize, embed], fields: "codebook_size and embed_dim")
        encoder = try ConvEncoder(w["encoder"], shape: shape, keys: original ? .taming : .emu3)
        let steps = Int(log2(Double(temporalFactor)))
        timeConvs = try (0..<steps).map {
            try CausalConv3d(
                w["encoder.time_conv"][$0]["conv.conv"], in: z, out: z, kernel: (4, 3, 3), temporalStride: 2)
        }
        timeBlocks = try (0..<shape.blocksPerLevel).map {
            try TemporalResBlock(w["encoder.time_res_stack"][$0], channels: z)
        }
        quantConv = try CausalConv3d(w["quant_conv.conv"], in: z, out: embed, kernel: (3, 1, 1), temporalStride: 1)
        quantizer = VectorQuantizer(
            codebook: try w["quantize.embedding"].tensor("weight", shape: [codebookSize, embed]),
            metric: .euclidean(clampMin: nil))
        if hasDecoder {
            // The temporal part runs the latents and the codewords through the same weights.
            guard embed == z else {
                throw ModelConfigError(
                    path: url.path, reason: "decoding needs embed_dim (\(embed)) equal to the latent channels (\(z))")
            }
            var decoderShape = shape
            decoderShape.conditionChannels = embed
            decoder = Emu3Decoder(
                postQuantConv: try CausalConv3d(
                    w["post_quant_conv.conv"], in: embed, out: z, kernel: (3, 1, 1), temporalStride: 1),
                temporal: try TemporalUpsampler(w["decoder"], channels: z, blocks: shape.blocksPerLevel, steps: steps),
                spatial: try ConvDecoder(w["decoder"], shape: decoderShape, keys: original ? .taming : .emu3))
        } else {
            decoder = nil
        }
        try loader.finish()
        lmVocabulary = try Self.lmVocabulary(directory: directory, codes: codebookSize, behaviour: behaviour)
        let factor = shape.factor
        descriptor = TokenizerDescriptor(
            family: "emu3", modelID: directory.lastPathComponent, inputSize: PixelSize(512),
            tokenShape: [512 / factor, 512 / factor], vocabularySizes: [codebookSize], variableLength: false,
            outputRange: -1...1)
        // The processor's pixel bounds, from its preprocessor_config.json where the directory has one.
        var bounds = (min: 512 * 512, max: 1024 * 1024)
        let processorURL = directory.appendingPathComponent("preprocessor_config.json")
        if FileManager.default.fileExists(atPath: processorURL.path) {
            let processor = JSONFields(object: try readJSONConfig(processorURL), path: processorURL.path)
            bounds.min = try processor.int("min_pixels", default: bounds.min, in: 1...(1 << 28))
            bounds.max = try processor.int("max_pixels", default: bounds.max, in: bounds.min...(1 << 28))
        }
        preprocessing = Preprocessing(
            resize: .smart(factor: factor, minPixels: bounds.min, maxPixels: bounds.max), filter: .bicubic,
            normalization: .rescaled(factor: 1 / 255, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5]))
    }

    /// Images are encoded and decoded one at a time (each decoded record is `temporalFactor`
    /// frames), at the model's usual input size: a batch adds its inputs only.
    public func workingMemory(batch: Int, decoding: Bool) -> Int {
        let side = descriptor.inputSize.height
        let frame = coderShape.activationBytes(height: side, width: side)
        return batch * 4 * 3 * side * side + (decoding ? temporalFactor * frame : frame)
    }

    /// The spatial encoder runs on ``spatialLatents(_:)``'s four frames at a time.
    public func workingMemory(clipFrames frames: Int, height: Int, width: Int) -> Int {
        min(frames, 4) * coderShape.activationBytes(height: height, width: width)
    }

    /// The per-frame encoder output `[T, z, h, w]` of frames `[T, 3, H, W]`, a few frames at a time
    /// (the encoder's activations are large; its outputs are small).
    func spatialLatents(_ frames: Tensor) -> Tensor {
        let t = frames.shape[0], step = 4
        guard t > step else { return encoder(frames) }
        return Tensor.concatenate(
            stride(from: 0, to: t, by: step).map { encoder(frames.slice(axis: 0, $0..<min(t, $0 + step))) }, axis: 0)
    }

    /// Codes `[T'][h·w]` of one clip `[T, 3, H, W]` in [−1, 1] (H, W multiples of the spatial factor).
    public func clipCodes(_ frames: Tensor) -> [[Int]] { codes(latents: spatialLatents(frames)) }

    /// The encoder's output `[T', z, h, w]` (transformers' `last_hidden_state`) for per-frame latents.
    func temporal(_ latents: Tensor) -> Tensor {
        var h = latents
        for conv in timeConvs { h = conv(h).activated(.silu) }
        for block in timeBlocks { h = block(h) }
        return h
    }

    /// Codes `[T'][h·w]` of per-frame encoder outputs `[T, z, h, w]`: the temporal stack and the search.
    func codes(latents: Tensor) -> [[Int]] {
        let q = quantConv(temporal(latents))  // [T', D, h, w]
        let (t, d, cells) = (q.shape[0], q.shape[1], q.shape[2] * q.shape[3])
        let ids = quantizer.encode(q.reshaped([t, d, cells]).transposed(1, 2).reshaped([t * cells, d]))
        return (0..<t).map { Array(ids[($0 * cells)..<(($0 + 1) * cells)]) }
    }

    /// Codes of a video clip `[T, 3, H, W]`: tokens of shape `[T', H/f, W/f]`.
    /// - Throws: ``TokenizerError`` for a clip that is not `[T, 3, H, W]` with H, W multiples of the factor.
    public func encode(clip frames: Tensor) throws -> Tokens {
        let f = coderShape.factor
        guard frames.rank == 4, frames.shape[1] == 3, frames.shape[0] >= 1, frames.shape[2] % f == 0,
            frames.shape[3] % f == 0, frames.shape[2] > 0, frames.shape[3] > 0
        else { throw TokenizerError("\(descriptor.modelID) takes clips [T, 3, H, W] with H, W multiples of \(f)") }
        // Each stride-2 temporal convolution (kernel 4, causal pad 2) needs at least 2 steps in.
        var steps = frames.shape[0]
        for _ in timeConvs {
            guard steps >= 2 else {
                throw TokenizerError(
                    "\(descriptor.modelID) needs clips of at least \(temporalFactor) frames, got \(frames.shape[0])")
            }
            steps = (steps - 2) / 2 + 1
        }
        let codes = clipCodes(frames)
        return Tokens(
            ids: codes.flatMap { $0 }, shape: [codes.count, frames.shape[2] / f, frames.shape[3] / f],
            vocabularySizes: [codebookSize], model: descriptor.modelID)
    }

    /// Codes `[H/f, W/f]` of preprocessed images `[3, H, W]` (each repeated over the temporal factor).
    public func encode(preprocessed images: [Tensor], options: EncodeOptions) throws -> [Tokens] {
        guard options.tokenLimit == nil, options.seed == nil else {
            throw TokenizerError("\(descriptor.modelID) encodes a fixed grid deterministically")
        }
        let f = coderShape.factor
        return try images.map { image in
            guard image.rank == 3, image.shape[0] == 3, image.shape[1] % f == 0, image.shape[2] % f == 0,
                image.shape[1] > 0, image.shape[2] > 0
            else { throw TokenizerError("images must be [3, H, W] with H, W multiples of \(f), got \(image.shape)") }
            // The repeated frames are identical: encode one, repeat its latents.
            let latent = spatialLatents(image.reshaped([1] + image.shape))
            let codes = codes(latents: Tensor.concatenate([Tensor](repeating: latent, count: temporalFactor), axis: 0))
            return Tokens(
                ids: codes.flatMap { $0 }, shape: [image.shape[1] / f, image.shape[2] / f],
                vocabularySizes: [codebookSize], model: descriptor.modelID)
        }
    }

    /// The codewords `[T', D, h, w]` of a code grid `[T', h, w]` (or `[h, w]`: T' = 1).
    func codewords(_ tokens: Tokens, decoder: Emu3Decoder) throws -> Tensor {
        guard decoder.spatial.shape.factor == coderShape.factor, tokens.latents == nil,
            tokens.shape.count == 2 || tokens.shape.count == 3, tokens.shape.allSatisfy({ $0 > 0 }),
            tokens.ids.count == tokens.shape.reduce(1, *)
        else {
            throw TokenizerError("\(descriptor.modelID) decodes [h, w] or [T', h, w] code grids, got \(tokens.shape)")
        }
        let (h, w) = (tokens.shape[tokens.shape.count - 2], tokens.shape[tokens.shape.count - 1])
        let t = tokens.shape.count == 3 ? tokens.shape[0] : 1
        let rows: Tensor
        do { rows = try quantizer.decode(tokens.ids) } catch { throw TokenizerError("\(descriptor.modelID): \(error)") }
        let d = rows.shape[1]
        return rows.reshaped([t, h * w, d]).transposed(1, 2).reshaped([t, d, h, w])
    }

    func checkedDecoder(_ options: DecodeOptions) throws -> Emu3Decoder {
        guard options.seed == nil, options.steps == nil, options.guidanceScale == nil, options.guidanceMode == nil,
            options.noise == nil, options.conditioning == nil, options.tokenLimit == nil
        else { throw TokenizerError("\(descriptor.modelID) decodes its code grid in one deterministic pass") }
        guard let decoder else {
            throw TokenizerError("\(descriptor.modelID) has no decoder (the checkpoint holds only the encoder)")
        }
        return decoder
    }

    /// Images `[3, H, W]` (not clamped) of `[h, w]` code grids: frame 0 of the 4 frames they decode
    /// to, as upstream (only that frame is computed).
    /// - Throws: ``TokenizerError`` without a decoder, for clips (``decode(clip:)``), bad grids or codes.
    public func decode(_ tokens: [Tokens], options: DecodeOptions) throws -> [Tensor] {
        let decoder = try checkedDecoder(options)
        return try tokens.map { record in
            guard record.shape.count == 2 else {
                throw TokenizerError(
                    "\(descriptor.modelID): a \(record.shape) clip decodes to frames (decode(clip:)), not an image")
            }
            let frame = decoder(try codewords(record, decoder: decoder), frames: 1)
            return frame.reshaped(Array(frame.shape.dropFirst()))
        }
    }

    /// Frames `[4T', 3, H, W]` (not clamped) of a clip's codes `[T', h, w]`.
    /// - Throws: ``TokenizerError`` without a decoder, for bad grids or codes.
    public func decode(clip tokens: Tokens) throws -> Tensor {
        let decoder = try checkedDecoder(DecodeOptions())
        return decoder(try codewords(tokens, decoder: decoder))
    }
}
