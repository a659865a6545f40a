import Foundation
import TesseraCore
import TesseraMedia
import TesseraNN

/// The vision part of a Hugging Face CLIP or SigLIP config.json: either a vision-only config
/// (`model_type` "clip_vision_model" / "siglip_vision_model") or a full model's
/// `vision_config` (`model_type` "clip" / "siglip").
public struct HFVisionConfig: Sendable, Equatable {
    public var modelType: String
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var layers: Int
    public var heads: Int
    public var imageSize: Int
    public var patchSize: Int
    public var activation: Activation
    public var layerNormEps: Float
    /// SigLIP: attention-pooling head present.
    public var useHead: Bool
    /// Whether the checkpoint is a full CLIP/SigLIP model (text tower keys to ignore).
    public var isFullModel: Bool

    struct Raw: Decodable {
        var model_type: String?
        var hidden_size: Int?
        var intermediate_size: Int?
        var num_hidden_layers: Int?
        var num_attention_heads: Int?
        var image_size: Int?
        var patch_size: Int?
        var hidden_act: String?
        var layer_norm_eps: Float?
        var vision_use_head: Bool?
        var vision_config: Box?
        final class Box: Decodable { let value: Raw; init(from d: Decoder) throws { value = try Raw(from: d) } }
    }

    public init(directory: URL) throws {
        let raw = try loadModelConfig(Raw.self, directory: directory)
        let path = directory.appendingPathComponent("config.json").path
        let v = raw.vision_config?.value ?? raw
        let type = (raw.model_type ?? v.model_type ?? "").lowercased()
        guard type.hasPrefix("clip") || type.hasPrefix("siglip") else {
            throw ModelConfigError(path: path, reason: "model_type '\(type)' is not a CLIP or SigLIP vision model")
        }
        let siglip = type.hasPrefix("siglip")
        func need(_ value: Int?, _ name: String) throws -> Int {
            guard let value, value > 0 else { throw ModelConfigError(path: path, reason: "missing or invalid '\(name)'") }
            return value
        }
        modelType = siglip ? "siglip" : "clip"
        hiddenSize = try need(v.hidden_size, "hidden_size")
        intermediateSize = try need(v.intermediate_size, "intermediate_size")
        layers = try need(v.num_hidden_layers, "num_hidden_layers")
        heads = try need(v.num_attention_heads, "num_attention_heads")
        imageSize = try need(v.image_size, "image_size")
        patchSize = try need(v.patch_size, "patch_size")
        let act = v.hidden_act ?? (siglip ? "gelu_pytorch_tanh" : "quick_gelu")
        guard let a = Activation(configName: act) else { throw ModelConfigError(path: path, reason: "unknown hidden_act '\(act)'") }
        activation = a
        layerNormEps = v.layer_norm_eps ?? (siglip ? 1e-6 : 1e-5)
        useHead = siglip && (v.vision_use_head ?? true)
        isFullModel = raw.vision_config != nil
        guard hiddenSize % heads == 0, imageSize % patchSize == 0 else {
            throw ModelConfigError(path: path, reason: "hidden_size \(hiddenSize) / heads \(heads) or image \(imageSize) / patch \(patchSize) do not divide")
        }
    }

    public var grid: Int { imageSize / patchSize }

    /// The encoder stack `encoder.layers.{i}` (HF CLIP/SigLIP layer layout).
    func encoderLayers(_ w: WeightScope) -> [TransformerBlock] {
        (0..<layers).map {
            TransformerBlock(w[$0], family: .huggingFace, dim: hiddenSize, heads: heads,
                             mlpHidden: intermediateSize, activation: activation, eps: layerNormEps)
        }
    }
}

/// Runs the first `layerCount` layers: `hidden_states` (the input, then every layer's output)
/// and the requested attention maps of each layer.
func runEncoder(_ layers: [TransformerBlock], _ input: Tensor, layerCount: Int?,
                statistics: AttentionStatistics) -> (hidden: [Tensor], attentions: [Tensor]) {
    var x = input, hidden = [input], attentions: [Tensor] = []
    for layer in layers.prefix(layerCount ?? layers.count) {
        let (h, probs) = layer(x, statistics: statistics)
        x = h
        hidden.append(x)
        if let probs { attentions.append(probs) }
    }
    return (hidden, attentions)
}

/// The image processor of a Hugging Face vision model (preprocessor_config.json), as
/// transformers 5's CLIPImageProcessor / SiglipImageProcessor apply it: resize (shortest edge,
/// or exact size) with PyTorch's uint8 antialiased kernel (Pillow's filters, horizontal pass
/// first), centre crop with floor offsets, then `(x − 255·mean) / (255·std)` in Float32.
public struct HFImageProcessor: Sendable {
    public var resize: Preprocessing.Resize
    public var filter: ResizeFilter
    public var crop: PixelSize?
    public var mean: [Float]
    public var std: [Float]

    struct Raw: Decodable {
        struct Size: Decodable { var shortest_edge: Int?; var height: Int?; var width: Int? }
        var size: Size?
        var crop_size: Size?
        var do_center_crop: Bool?
        var do_resize: Bool?
        var resample: Int?
        var image_mean: [Float]?
        var image_std: [Float]?
    }

    /// Reads preprocessor_config.json, falling back to the family's published defaults.
    public init(directory: URL, config: HFVisionConfig) throws {
        let url = directory.appendingPathComponent("preprocessor_config.json")
        let raw = FileManager.default.fileExists(atPath: url.path)
            ? try loadModelConfig(Raw.self, directory: directory, file: "preprocessor_config.json") : nil
        let siglip = config.modelType == "siglip"
        let pillowFilters: [Int: ResizeFilter] = [0: .nearest, 1: .lanczos, 2: .bilinear, 3: .bicubic, 4: .box, 5: .hamming]
        filter = pillowFilters[raw?.resample ?? 3] ?? .bicubic
        if let edge = raw?.size?.shortest_edge {
            resize = .shorterSide(edge)
        } else if let h = raw?.size?.height, let w = raw?.size?.width {
            resize = .exact(width: w, height: h)
        } else {
            resize = siglip ? .exact(width: config.imageSize, height: config.imageSize) : .shorterSide(config.imageSize)
        }
        if raw?.do_resize == false { resize = .none }
        let doCrop = raw?.do_center_crop ?? !siglip
        crop = doCrop ? PixelSize(width: raw?.crop_size?.width ?? config.imageSize, height: raw?.crop_size?.height ?? config.imageSize) : nil
        mean = raw?.image_mean ?? (siglip ? [0.5, 0.5, 0.5] : [0.48145466, 0.4578275, 0.40821073])
        std = raw?.image_std ?? (siglip ? [0.5, 0.5, 0.5] : [0.26862954, 0.26130258, 0.27577711])
    }

    /// `[3, H, W]` model input.
    public func tensor(_ image: Image) -> Tensor {
        let rgb = prepared(image), plane = rgb.width * rgb.height
        var values = [Float](repeating: 0, count: 3 * plane)
        for c in 0..<3 {
            let m = mean[c] * 255, s = std[c] * 255
            for i in 0..<plane { values[c * plane + i] = (Float(rgb.pixels[i * 3 + c]) - m) / s }
        }
        return Tensor(shape: [3, rgb.height, rgb.width], scalars: values)
    }

    /// The resized and cropped RGB image the model sees, before normalization.
    public func prepared(_ image: Image) -> Image {
        var out = image
        switch resize {
        case .none: break
        case .shorterSide(let s): out = out.resizedShorterSide(to: s, filter: filter, engine: .pytorch)
        case .exact(let w, let h): out = out.resized(width: w, height: h, filter: filter, engine: .pytorch)
        }
        if let crop {
            // transformers' center_crop: floor((size − crop) / 2), padding when smaller
            if out.width >= crop.width && out.height >= crop.height {
                out = out.cropped(x: (out.width - crop.width) / 2, y: (out.height - crop.height) / 2, width: crop.width, height: crop.height)
            } else {
                out = out.centerCropped(width: crop.width, height: crop.height)
            }
        }
        return out.rgb()
    }
}

/// transformers 5 saves vision-only models without the `vision_model.` prefix that published
/// checkpoints carry; both load.
func visionPrefixRenames(_ checkpoint: Checkpoint) -> [(from: String, to: String)] {
    checkpoint.contains("vision_model.embeddings.patch_embedding.weight") ? [] : [("", "vision_model.")]
}
