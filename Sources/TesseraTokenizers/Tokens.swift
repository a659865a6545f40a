import Foundation
import TesseraCore
import TesseraMedia

/// An image tokenizer: images in, tokens out, and back.
public protocol ImageTokenizer: Sendable {
    /// Identifies the model in token files.
    var modelID: String { get }
    /// Square input and output size in pixels.
    var imageSize: Int { get }
    /// Tokens per image at full length.
    var tokenCount: Int { get }
    /// Vocabulary size of each codebook (empty for continuous tokens).
    var vocabularySizes: [Int] { get }
    /// The model's own input pipeline.
    var preprocessing: Preprocessing { get }
    /// Whether `decode` accepts a prefix of the tokens (One-D-Piece style).
    var supportsVariableLength: Bool { get }

    func encode(_ images: [Image]) throws -> [Tokens]
    /// Tokens for images already run through ``preprocessing`` (`[3, H, W]` tensors each), so
    /// a pipeline can decode and preprocess on other threads while the model runs.
    func encode(preprocessed pixels: [Tensor]) throws -> [Tokens]
    func decode(_ tokens: [Tokens]) throws -> [Image]
}

/// Errors of tokenizers: bad model directories, token sets that do not fit the model.
public struct TokenizerError: Error, CustomStringConvertible, Sendable {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// Loading tokenizers from model directories.
public enum Tokenizer {
    /// Loads a tokenizer from a Hugging Face style directory (config.json + model.safetensors),
    /// picking the family from the config.
    public static func load(_ directory: URL) throws -> any ImageTokenizer {
        let configURL = directory.appendingPathComponent("config.json")
        guard let data = try? Data(contentsOf: configURL),
              let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ModelConfigError(path: configURL.path, reason: "missing or not a JSON object")
        }
        if let model = json["model"] as? [String: Any], model["vq_model"] != nil {
            return try TiTok(directory: directory)
        }
        throw ModelConfigError(path: configURL.path, reason: "not a tokenizer family Tessera knows (see `tessera models`)")
    }

    /// Families and published checkpoints that load (for `tessera models`).
    public static let knownModels: [(family: String, repositories: [String], notes: String)] = [
        ("TiTok (legacy, two-stage)", ["yucornetto/tokenizer_titok_l32_imagenet", "yucornetto/tokenizer_titok_b64_imagenet",
                                        "yucornetto/tokenizer_titok_s128_imagenet"], "VQ 4096, MaskGIT-VQGAN pixel decoder"),
        ("TiTok VQ-8k", ["yucornetto/tokenizer_titok_bl64_vq8k_imagenet", "yucornetto/tokenizer_titok_bl128_vq8k_imagenet",
                         "yucornetto/tokenizer_titok_sl256_vq8k_imagenet"], "VQ 8192, pixel head"),
        ("TiTok VAE", ["yucornetto/tokenizer_titok_ll32_vae_c16_imagenet", "yucornetto/tokenizer_titok_bl64_vae_c16_imagenet",
                       "yucornetto/tokenizer_titok_bl128_vae_c16_imagenet"], "continuous tokens (mean; --sample-seed to sample)"),
        ("TA-TiTok", ["turkeyju/tokenizer_tatitok_bl32_vq", "turkeyju/tokenizer_tatitok_bl64_vq", "turkeyju/tokenizer_tatitok_bl128_vq"],
         "decoder takes 77×768 text embeddings (--text)"),
        ("One-D-Piece", ["turing-motors/One-D-Piece-S-256", "turing-motors/One-D-Piece-B-256", "turing-motors/One-D-Piece-L-256"],
         "variable length: decode the first k ≤ 256 tokens"),
        ("Tessera demo", ["Assets/models/titok-demo (bundled)"], "small TiTok trained by Scripts/train_demo_tokenizer.py"),
    ]
}

extension Image {
    /// A `[3, H, W]` float tensor in [0, 1] converted to an 8-bit image: clamp, ×255, then
    /// truncate (as TiTok's `(x * 255).to(torch.uint8)`) or round.
    public init(tensor: Tensor, rounding: Bool = false) {
        precondition(tensor.rank == 3 && tensor.shape[0] == 3, "image tensor must be [3, H, W], got \(tensor.shape)")
        let h = tensor.shape[1], w = tensor.shape[2], plane = h * w
        var pixels = [UInt8](repeating: 0, count: plane * 3)
        tensor.scalars.withUnsafeBufferPointer { src in
            for i in 0..<plane {
                for c in 0..<3 {
                    let v = Swift.min(Swift.max(src[c * plane + i], 0), 1) * 255
                    pixels[i * 3 + c] = UInt8(rounding ? v.rounded(.toNearestOrEven) : v.rounded(.towardZero))
                }
            }
        }
        self.init(width: w, height: h, layout: .rgb, pixels: pixels)
    }
}
