import Foundation
import TesseraCore
import TesseraMedia
import TesseraQuantizers
import TesseraStreams

/// What a tokenizer is, in numbers: enough for the pipelines, the token files and the command
/// line to use any tokenizer without knowing its family.
public struct TokenizerDescriptor: Sendable, Equatable {
    /// The family (`titok`, …).
    public var family: String
    /// Identifies the model in token files (the directory name).
    public var modelID: String
    /// The model input (after ``ImageTokenizer/preprocessing``); not necessarily square.
    public var inputSize: PixelSize
    /// Token positions per image: `[N]` (TiTok, FlexTok), `[H, W]` (VQGANs), `[T, H, W]` (video);
    /// multi-codebook tokens add a trailing axis of the codebook count.
    public var tokenShape: [Int]
    /// Vocabulary size of each codebook (empty for continuous tokens).
    public var vocabularySizes: [Int]
    /// Channels of each continuous token (nil for discrete tokens).
    public var latentChannels: Int?
    /// Whether the decoder accepts the first `k` of the token positions (One-D-Piece, FlexTok).
    public var variableLength: Bool
    /// The value range ``ImageTokenizer/decode(_:options:)`` reconstructs into (`0...1` for
    /// TiTok, `-1...1` for FlexTok and the VQGANs).
    public var outputRange: ClosedRange<Float>
    /// The shape of the conditioning the decoder needs (TA-TiTok: text embeddings `[77, 768]`), if any.
    public var conditioning: [Int]?
    /// The initial noise of a sampling decoder, per token set (FlexTok: `[C, H/8, W/8]`); nil for
    /// decoders that do not sample (then steps, guidance, seeds and noise do not apply).
    public var noiseShape: [Int]?

    /// - Parameters:
    ///   - family: the family (`titok`).
    ///   - modelID: the model id written into token files.
    ///   - inputSize: the preprocessed input size.
    ///   - tokenShape: token positions per image (plus a codebook axis for multi-codebook tokens).
    ///   - vocabularySizes: codebook sizes (empty for continuous tokens).
    ///   - latentChannels: channels of continuous tokens.
    ///   - variableLength: whether any prefix of the tokens decodes.
    ///   - outputRange: the value range of reconstructions.
    ///   - conditioning: the shape of conditioning the decoder needs, if any.
    ///   - noiseShape: the initial noise per token set of a sampling decoder.
    public init(
        family: String, modelID: String, inputSize: PixelSize, tokenShape: [Int], vocabularySizes: [Int],
        latentChannels: Int? = nil, variableLength: Bool, outputRange: ClosedRange<Float>,
        conditioning: [Int]? = nil, noiseShape: [Int]? = nil
    ) {
        self.family = family
        self.modelID = modelID
        self.inputSize = inputSize
        self.tokenShape = tokenShape
        self.vocabularySizes = vocabularySizes
        self.latentChannels = latentChannels
        self.variableLength = variableLength
        self.outputRange = outputRange
        self.conditioning = conditioning
        self.noiseShape = noiseShape
    }

    /// Whether the tokens are continuous latents rather than ids.
    public var isContinuous: Bool { vocabularySizes.isEmpty }
    /// Token positions per image: the product of the non-codebook axes of ``tokenShape``.
    public var positions: Int {
        (vocabularySizes.count > 1 ? tokenShape.dropLast() : tokenShape[...]).reduce(1, *)
    }

    /// Fails unless the model takes a budget of `k` token positions (variable-length models, 1…positions).
    public func checkTokenBudget(_ k: Int) throws {
        guard variableLength else {
            throw TokenizerError("tokens: \(modelID) decodes whole token sets only (it is not variable-length)")
        }
        guard (1...positions).contains(k) else {
            throw TokenizerError("tokens must be in 1...\(positions) for \(modelID)")
        }
    }

    /// Fails when sampling options (`given`: their names as the caller spells them) are set for a
    /// decoder that does not sample.
    public func checkSamplingOptions(given: [String]) throws {
        guard noiseShape == nil, !given.isEmpty else { return }
        throw TokenizerError(
            "\(given.joined(separator: ", ")): \(modelID) decodes in one deterministic pass (no sampling)")
    }
}

/// How the 8-bit conversion of a reconstruction rounds.
public enum ImageRounding: String, Sendable, Equatable, CaseIterable {
    /// `(x * 255).to(torch.uint8)`: truncation, as TiTok's reference code.
    case truncate
    /// Round half to even.
    case nearest
}

/// Options of one encode call: values, never state on the model.
public struct EncodeOptions: Sendable, Equatable {
    /// Keep only the first `k` token positions (variable-length models).
    public var tokenLimit: Int?
    /// Images per forward pass.
    public var batchSize: Int
    /// Sample stochastic encoders (a VAE posterior) with this seed; nil takes the posterior's mode.
    public var seed: UInt64?
    /// The identity of each image for seeded sampling (default: ``SampleKey/of(_:)-(Tensor)`` of its
    /// preprocessed pixels, so the same image gets the same sample in any batch, at any position).
    public var sampleKeys: [UInt64]?

    /// - Parameters:
    ///   - tokenLimit: keep the first `k` token positions.
    ///   - batchSize: images per forward pass.
    ///   - seed: sample stochastic encoders with this seed (nil: the mode).
    ///   - sampleKeys: identities of the images for seeded sampling (default: their pixels).
    public init(tokenLimit: Int? = nil, batchSize: Int = 8, seed: UInt64? = nil, sampleKeys: [UInt64]? = nil) {
        self.tokenLimit = tokenLimit
        self.batchSize = batchSize
        self.seed = seed
        self.sampleKeys = sampleKeys
    }
}

extension EncodeOptions {
    /// Fails unless ``sampleKeys`` (when given) has one key per image.
    func checkSampleKeys(images: Int) throws {
        if let keys = sampleKeys, keys.count != images {
            throw TokenizerError("\(keys.count) sample keys for \(images) images")
        }
    }

    /// The posterior's mean, or (with ``seed``) a sample drawn per image of `range`, keyed by
    /// ``sampleKeys`` or the image's pixels, so an image gets the same sample in any batch.
    func draw(_ posterior: DiagonalGaussian, images: [Tensor], range: Range<Int>) -> Tensor {
        guard let seed else { return posterior.mean }
        return posterior.sample(
            seed: seed, keys: sampleKeys.map { Array($0[range]) } ?? images[range].map(SampleKey.of))
    }
}

/// How iterative decoders combine their conditional and unconditional predictions.
public enum GuidanceMode: String, Sendable, Equatable, CaseIterable {
    /// Adaptive projected guidance (Sadat et al. 2024; FlexTok's `perform_norm_guidance`).
    case apg
    /// Classifier-free guidance: `v_u + g·(v_c − v_u)`.
    case cfg
}

/// Options of one decode call: values, never state on the model. Families read what applies to
/// them and reject what contradicts them (``TokenizerError``).
public struct DecodeOptions: Sendable, Equatable {
    /// Decode only the first `k` token positions (variable-length models).
    public var tokenLimit: Int?
    /// Token sets per forward pass.
    public var batchSize: Int
    /// Seed of stochastic decoders (flow noise); each token set's randomness depends on the seed
    /// and the set itself, not on its batch.
    public var seed: UInt64?
    /// Sampling steps of iterative decoders.
    public var steps: Int?
    /// Classifier-free guidance scale of iterative decoders (1: no unconditional pass).
    public var guidanceScale: Float?
    /// How guidance combines the two predictions (the model's default when nil).
    public var guidanceMode: GuidanceMode?
    /// Conditioning the decoder needs (TA-TiTok: text embeddings `[L, D]` shared by every token
    /// set, or `[N, L, D]` one per token set).
    public var conditioning: Tensor?
    /// Initial noise of stochastic decoders, one tensor per token set (reproduces a reference run).
    public var noise: [Tensor]?
    /// The 8-bit conversion of ``ImageTokenizer/decodeImages(_:options:)``.
    public var rounding: ImageRounding

    /// - Parameters:
    ///   - tokenLimit: decode the first `k` token positions.
    ///   - batchSize: token sets per forward pass.
    ///   - seed: seed of stochastic decoders.
    ///   - steps: sampling steps of iterative decoders.
    ///   - guidanceScale: classifier-free guidance scale.
    ///   - guidanceMode: APG or plain CFG.
    ///   - conditioning: conditioning the decoder needs (TA-TiTok's text embeddings).
    ///   - noise: initial noise per token set.
    ///   - rounding: the 8-bit conversion of images.
    public init(
        tokenLimit: Int? = nil, batchSize: Int = 8, seed: UInt64? = nil, steps: Int? = nil,
        guidanceScale: Float? = nil, guidanceMode: GuidanceMode? = nil, conditioning: Tensor? = nil,
        noise: [Tensor]? = nil, rounding: ImageRounding = .truncate
    ) {
        self.tokenLimit = tokenLimit
        self.batchSize = batchSize
        self.seed = seed
        self.steps = steps
        self.guidanceScale = guidanceScale
        self.guidanceMode = guidanceMode
        self.conditioning = conditioning
        self.noise = noise
        self.rounding = rounding
    }
}

/// An image tokenizer: preprocessed images in, tokens out, and back. Conformers are one file each
/// under `Tokenizers/` plus one line in ``TokenizerRegistry``; the command line, the batch
/// encoder and the token files then work with them unchanged.
public protocol ImageTokenizer: Sendable {
    /// Family, sizes, token shape and vocabulary.
    var descriptor: TokenizerDescriptor { get }
    /// The model's own input pipeline (its output is what ``encode(preprocessed:options:)`` takes).
    var preprocessing: Preprocessing { get }
    /// Tokens for images already run through ``preprocessing`` (`[3, H, W]` tensors each), so a
    /// pipeline can decode and preprocess on other threads while the model runs.
    func encode(preprocessed pixels: [Tensor], options: EncodeOptions) throws -> [Tokens]
    /// Reconstructions as `[3, H, W]` tensors in ``TokenizerDescriptor/outputRange`` (not clamped).
    func decode(_ tokens: [Tokens], options: DecodeOptions) throws -> [Tensor]
    /// About the peak bytes, beyond the weights, of encoding (or decoding) `batch` images with
    /// `options.batchSize = batch`: activations and inputs (``checkBatchMemory(_:decoding:path:)``).
    func workingMemory(batch: Int, decoding: Bool) -> Int
}

extension ImageTokenizer {
    /// The model id written into token files.
    public var modelID: String { descriptor.modelID }

    /// Throws ``MemoryLimitError`` when forward passes of `batch` images would need more than the
    /// ``MemoryLimit``, naming the largest batch that fits.
    /// - Parameter path: the file the work is for (default: the model id).
    public func checkBatchMemory(_ batch: Int, decoding: Bool, path: String? = nil) throws {
        let limit = MemoryLimit.bytes, batch = max(1, batch)
        let bytes = workingMemory(batch: batch, decoding: decoding)
        guard bytes > limit else { return }
        // The largest batch that fits, by bisection (the need grows with the batch).
        var (fits, above) = (0, batch)
        while above - fits > 1 {
            let mid = (fits + above) / 2
            if workingMemory(batch: mid, decoding: decoding) <= limit { fits = mid } else { above = mid }
        }
        try MemoryLimit.check(
            bytes, for: "\(decoding ? "decoding" : "encoding") a batch of \(batch) with \(modelID)",
            path: path ?? modelID,
            hint: fits < 1 ? "even one image does not fit" : "a batch of \(fits) fits (--batch)")
    }

    /// Tokens for decoded images (preprocessed here).
    public func encode(_ images: [Image], options: EncodeOptions = EncodeOptions()) throws -> [Tokens] {
        try encode(preprocessed: images.map(preprocessing.tensor), options: options)
    }

    /// Reconstructions as 8-bit RGB images.
    public func decodeImages(_ tokens: [Tokens], options: DecodeOptions = DecodeOptions()) throws -> [Image] {
        try decode(tokens, options: options).map {
            Image(tensor: $0, range: descriptor.outputRange, rounding: options.rounding == .nearest)
        }
    }
}

/// A tokenizer whose codes feed a particular language model: it knows that model's image span
/// (the ids around and of the codes), read from the model's own files.
public protocol LanguageModelImageTokenizer: ImageTokenizer {
    /// The image span in the LM's vocabulary, when the directory has the vocabulary.
    var lmVocabulary: VisualVocabulary? { get }
}

/// A tokenizer that encodes a video clip as a whole (`[T', H, W]` codes), not frame by frame.
public protocol VideoClipTokenizer: ImageTokenizer {
    /// Frames folded into one temporal code step; a clip needs at least this many.
    var temporalFactor: Int { get }
    /// Codes `[T', h, w]` of preprocessed frames `[T, 3, H, W]`.
    func encode(clip frames: Tensor) throws -> Tokens
    /// Frames `[T, 3, H, W]` in ``TokenizerDescriptor/outputRange`` (not clamped) of a clip's codes `[T', h, w]`.
    func decode(clip tokens: Tokens) throws -> Tensor
    /// About the peak bytes of activations, beyond the weights, of encoding a clip of `frames`
    /// frames of `height × width`.
    func workingMemory(clipFrames frames: Int, height: Int, width: Int) -> Int
}

extension VideoClipTokenizer {
    /// A clip's frames as 8-bit RGB images.
    public func decodeFrames(_ tokens: Tokens, rounding: ImageRounding = .truncate) throws -> [Image] {
        let frames = try decode(clip: tokens)
        return (0..<frames.shape[0]).map {
            Image(
                tensor: frames.slice(axis: 0, $0..<($0 + 1)).reshaped(Array(frames.shape.dropFirst())),
                range: descriptor.outputRange, rounding: rounding == .nearest)
        }
    }
}

/// Whose behaviour an LM tokenizer reproduces where the original repository and the transformers
/// port differ (Chameleon's preprocessing, Janus' code search).
public enum ReferenceBehaviour: String, Sendable, CaseIterable {
    /// The original repository (what the LM was trained with).
    case original
    /// transformers' port.
    case transformers
}

/// Errors of tokenizers: token sets that do not fit the model, options it cannot honour.
public struct TokenizerError: Error, CustomStringConvertible, Sendable {
    /// What is wrong.
    public var reason: String
    /// An error with its reason.
    public init(_ reason: String) { self.reason = reason }
    /// The reason.
    public var description: String { reason }
}
