// A diffusers `AutoencoderKL` directory (`config.json` + `diffusion_pytorch_model.safetensors`)
// as a continuous tokenizer: images → latent grids `[H/f, W/f]` of C channels, and back. The
// FlexTok VAEs (EPFL-VILAB/flextok_vae_c4|c8|c16) load this way; so do Stable Diffusion's.
import Foundation
import TesseraCore
import TesseraMedia
import TesseraNN
import TesseraQuantizers

/// A KL autoencoder as a tokenizer of continuous latents (no scaling: the latents are the
/// posterior's, as `vae.encode(x).latent_dist` gives them).
public struct DiffusersVAE: ImageTokenizer {
    /// The autoencoder's shape, from `config.json`.
    public let config: AutoencoderKLConfig
    /// Square input side (256, or the Tessera extension `tessera_image_size` of `config.json`).
    public let imageSize: Int
    /// Family `vae`: `[H/f, W/f]` latents of C channels, output in `-1...1`.
    public let descriptor: TokenizerDescriptor
    let vae: AutoencoderKL

    /// Loads `config.json` and the weights of a diffusers AutoencoderKL directory.
    /// - Throws: ``ModelConfigError`` for the config, `WeightLoadError` listing every key problem.
    public init(directory: URL) throws {
        let configURL = directory.appendingPathComponent("config.json")
        let tree = try AutoencoderKLConfig.readTree(configURL)
        config = try AutoencoderKLConfig(tree: tree, path: configURL.path)
        let side = tree["tessera_image_size"]?.int ?? 256
        guard side > 0, side <= 4096, side % config.downsampleFactor == 0 else {
            throw ModelConfigError(
                path: configURL.path, reason: "image size \(side) is not a multiple of \(config.downsampleFactor)")
        }
        imageSize = side
        let loader = try WeightLoader(try Checkpoint(directory: directory))
        try config.validate(path: configURL.path, weights: loader.root)
        vae = try AutoencoderKL(loader.root, config: config)
        try loader.finish()
        let grid = side / config.downsampleFactor
        descriptor = TokenizerDescriptor(
            family: "vae", modelID: directory.lastPathComponent, inputSize: PixelSize(side), tokenShape: [grid, grid],
            vocabularySizes: [], latentChannels: config.latentChannels, variableLength: false, outputRange: -1...1)
    }

    /// The encoder's or decoder's activations at the image size, per image of the batch.
    public func workingMemory(batch: Int, decoding: Bool) -> Int {
        let bytes = vae.activationBytes(height: imageSize, width: imageSize)
        return batch * (4 * 3 * imageSize * imageSize + (decoding ? bytes.decode : bytes.encode))
    }

    /// Shorter side to the image size (bilinear, antialiased), centre crop, [−1, 1].
    public var preprocessing: Preprocessing {
        Preprocessing(
            resize: .shorterSide(imageSize), filter: .bilinear, centerCrop: PixelSize(imageSize),
            normalization: .symmetric)
    }

    /// The posterior for images `[B, 3, S, S]` in [−1, 1].
    public func posterior(_ pixels: Tensor) -> DiagonalGaussian {
        DiagonalGaussian(parameters: vae.encode(pixels), axis: 1)
    }

    /// Images `[B, 3, S, S]` (not clamped) for latents `[B, C, h, w]`.
    public func decodeLatents(_ latents: Tensor) -> Tensor { vae.decode(latents) }

    /// The posterior's mean, or a sample with `options.seed` (one stream per image, keyed by its pixels).
    public func encode(preprocessed images: [Tensor], options: EncodeOptions) throws -> [Tokens] {
        let s = imageSize, c = config.latentChannels, grid = s / config.downsampleFactor
        if let bad = images.first(where: { $0.shape != [3, s, s] }) {
            throw TokenizerError("\(modelID) takes preprocessed images of shape [3, \(s), \(s)], got \(bad.shape)")
        }
        guard options.tokenLimit == nil else { throw TokenizerError("\(modelID) has a fixed latent grid") }
        try options.checkSampleKeys(images: images.count)
        var out: [Tokens] = []
        let batchSize = max(1, options.batchSize)
        for start in stride(from: 0, to: images.count, by: batchSize) {
            let range = start..<min(images.count, start + batchSize)
            let posterior = posterior(Tensor.concatenate(images[range].map { $0.reshaped([1] + $0.shape) }, axis: 0))
            let z =
                options.draw(posterior, images: images, range: range)
            for i in 0..<range.count {
                let latents = z.slice(axis: 0, i..<(i + 1)).reshaped([c, grid * grid]).transposed(0, 1)
                out.append(
                    Tokens(ids: [], shape: [grid, grid], vocabularySizes: [], model: modelID, latents: latents))
            }
        }
        return out
    }

    /// Reconstructions `[3, S, S]` in about [−1, 1].
    public func decode(_ tokens: [Tokens], options: DecodeOptions) throws -> [Tensor] {
        guard options.seed == nil, options.steps == nil, options.guidanceScale == nil, options.guidanceMode == nil,
            options.noise == nil, options.conditioning == nil, options.tokenLimit == nil
        else { throw TokenizerError("\(modelID) decodes its latent grid in one deterministic pass") }
        let c = config.latentChannels, grid = imageSize / config.downsampleFactor
        var out: [Tensor] = []
        let batchSize = max(1, options.batchSize)
        for start in stride(from: 0, to: tokens.count, by: batchSize) {
            let group = tokens[start..<min(tokens.count, start + batchSize)]
            let latents = try group.map { t -> Tensor in
                guard t.shape == [grid, grid], let l = t.latents, l.shape == [grid * grid, c] else {
                    throw TokenizerError("\(modelID) decodes [\(grid), \(grid)] grids of \(c) channels, got \(t.shape)")
                }
                return l.transposed(0, 1).reshaped([1, c, grid, grid])
            }
            let images = decodeLatents(Tensor.concatenate(latents, axis: 0))
            for i in 0..<group.count {
                out.append(images.slice(axis: 0, i..<(i + 1)).reshaped([3, imageSize, imageSize]))
            }
        }
        return out
    }
}
