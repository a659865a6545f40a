import Foundation
import TesseraCore
import TesseraMedia
import TesseraNN

/// The vision part of a Hugging Face CLIP or SigLIP config.json: either a vision-only config
/// (`model_type` "clip_vision_model" / "siglip_vision_model") or a full model's
/// `vision_config` (`model_type` "clip" / "siglip").
public struct HFVisionConfig: Sendable, Equatable {
    /// The two families that share this config layout.
    public enum Family: String, Sendable, Equatable {
        case clip, siglip

        /// The family of a `model_type`, accepting the full model and the vision-only names.
        public init?(modelType: String) {
            switch modelType.lowercased() {
            case "clip", "clip_vision_model": self = .clip
            case "siglip", "siglip_vision_model": self = .siglip
            default: return nil
            }
        }
    }

    /// CLIP or SigLIP.
    public var family: Family
    /// Token width (`hidden_size`).
    public var hiddenSize: Int
    /// MLP width (`intermediate_size`).
    public var intermediateSize: Int
    /// Encoder layers (`num_hidden_layers`).
    public var layers: Int
    /// Attention heads (`num_attention_heads`).
    public var heads: Int
    /// Square input side in pixels (`image_size`).
    public var imageSize: Int
    /// Patch side in pixels (`patch_size`).
    public var patchSize: Int
    /// The MLP activation (`hidden_act`; QuickGELU for OpenAI CLIP, tanh GELU for SigLIP).
    public var activation: Activation
    /// LayerNorm epsilon (`layer_norm_eps`).
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

    /// Reads `config.json` of a CLIP or SigLIP (vision) directory.
    /// - Throws: ``ModelConfigError`` naming the file and the field.
    public init(directory: URL) throws {
        let raw = try loadModelConfig(Raw.self, directory: directory)
        let path = directory.appendingPathComponent("config.json").path
        let v = raw.vision_config?.value ?? raw
        let type = raw.model_type ?? v.model_type ?? ""
        guard let family = Family(modelType: type) else {
            throw ModelConfigError(path: path, reason: "model_type '\(type)' is not a CLIP or SigLIP vision model")
        }
        let siglip = family == .siglip
        func need(_ value: Int?, _ name: String) throws -> Int {
            guard let value, value > 0 else {
                throw ModelConfigError(path: path, reason: "missing or invalid '\(name)'")
            }
            return value
        }
        self.family = family
        hiddenSize = try need(v.hidden_size, "hidden_size")
        intermediateSize = try need(v.intermediate_size, "intermediate_size")
        layers = try need(v.num_hidden_layers, "num_hidden_layers")
        heads = try need(v.num_attention_heads, "num_attention_heads")
        imageSize = try need(v.image_size, "image_size")
        patchSize = try need(v.patch_size, "patch_size")
        let act = v.hidden_act ?? (siglip ? "gelu_pytorch_tanh" : "quick_gelu")
        guard let a = Activation(configName: act) else {
            throw ModelConfigError(path: path, reason: "unknown hidden_act '\(act)'")
        }
        activation = a
        layerNormEps = v.layer_norm_eps ?? (siglip ? 1e-6 : 1e-5)
        useHead = siglip && (v.vision_use_head ?? true)
        isFullModel = raw.vision_config != nil
        let check = ConfigCheck(path: path)
        try check.size("hidden_size", hiddenSize, in: 1...65536)
        try check.size("intermediate_size", intermediateSize, in: 1...262_144)
        try check.size("num_hidden_layers", layers, in: 1...1024)
        try check.size("num_attention_heads", heads, in: 1...hiddenSize)
        try check.size("image_size", imageSize, in: 1...8192)
        // The patch convolution floors: 384 / 14 gives SigLIP so400m's 27 × 27 patches.
        guard hiddenSize % heads == 0, patchSize <= imageSize else {
            throw ModelConfigError(
                path: path,
                reason: "hidden_size \(hiddenSize) / heads \(heads) do not divide, "
                    + "or patch \(patchSize) exceeds image \(imageSize)")
        }
    }

    /// Patches per side (the patch convolution's floor).
    public var grid: Int { PatchEmbedding.grid(imageSize, patchSize: patchSize) }

    /// The encoder stack `encoder.layers.{i}`.
    func encoderStack(_ w: WeightScope) throws -> TransformerStack {
        try TransformerStack(
            w, count: layers, keys: .huggingFaceVision,
            shape: BlockShape(
                dim: hiddenSize, heads: heads, mlpHidden: intermediateSize,
                activation: activation, eps: layerNormEps))
    }

    /// The descriptor of an encoder with this config.
    func descriptor(modelID: String) -> EncoderDescriptor {
        EncoderDescriptor(
            family: family.rawValue, modelID: modelID, width: hiddenSize, depth: layers, heads: heads,
            inputSize: PixelSize(imageSize), patchSize: patchSize,
            prefixTokens: family == .clip ? 1 : 0, hasClassToken: family == .clip)
    }
}

extension BlockKeys {
    /// Hugging Face CLIP/SigLIP encoder layer: `layer_norm1`, `self_attn.{q,k,v,out}_proj`,
    /// `layer_norm2`, `mlp.fc1`, `mlp.fc2`.
    public static let huggingFaceVision = BlockKeys(
        norm1: "layer_norm1", attention: "self_attn",
        attentionKeys: AttentionKeys(
            projections: .separate(query: "q_proj", key: "k_proj", value: "v_proj"),
            output: "out_proj"),
        norm2: "layer_norm2", mlp: "mlp", mlpLayers: ("fc1", "fc2"))
}

extension Preprocessing {
    /// The image processor of a Hugging Face vision model (preprocessor_config.json), as
    /// transformers 5's CLIPImageProcessor / SiglipImageProcessor apply it: resize (shortest edge,
    /// or exact size) with PyTorch's uint8 antialiased kernel (Pillow's filters, horizontal pass
    /// first), centre crop with floor offsets, then `(x − 255·mean) / (255·std)` in Float32.
    /// Fields the file omits (or a missing file) take the family's published defaults.
    public init(huggingFace directory: URL, config: HFVisionConfig) throws {
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
        let file = "preprocessor_config.json"
        let raw =
            FileManager.default.fileExists(atPath: directory.appendingPathComponent(file).path)
            ? try loadModelConfig(Raw.self, directory: directory, file: file) : nil
        let siglip = config.family == .siglip
        let pillowFilters: [Int: ResizeFilter] = [
            0: .nearest, 1: .lanczos, 2: .bilinear, 3: .bicubic, 4: .box, 5: .hamming,
        ]
        let resize: Resize
        if raw?.do_resize == false {
            resize = .none
        } else if let edge = raw?.size?.shortest_edge {
            resize = .shorterSide(edge)
        } else if let h = raw?.size?.height, let w = raw?.size?.width {
            resize = .exact(width: w, height: h)
        } else {
            resize = siglip ? .exact(width: config.imageSize, height: config.imageSize) : .shorterSide(config.imageSize)
        }
        let crop =
            (raw?.do_center_crop ?? !siglip)
            ? PixelSize(
                width: raw?.crop_size?.width ?? config.imageSize, height: raw?.crop_size?.height ?? config.imageSize)
            : nil
        let check = ConfigCheck(path: directory.appendingPathComponent(file).path)
        for (field, value) in [
            ("size.shortest_edge", raw?.size?.shortest_edge), ("size.height", raw?.size?.height),
            ("size.width", raw?.size?.width), ("crop_size.height", crop?.height), ("crop_size.width", crop?.width),
        ] {
            if let value { try check.size(field, value, in: 1...8192) }
        }
        let mean = raw?.image_mean ?? (siglip ? [0.5, 0.5, 0.5] : [0.48145466, 0.4578275, 0.40821073])
        let std = raw?.image_std ?? (siglip ? [0.5, 0.5, 0.5] : [0.26862954, 0.26130258, 0.27577711])
        guard mean.count == 3, std.count == 3 else {
            throw ModelConfigError(
                path: directory.appendingPathComponent(file).path, reason: "image_mean and image_std need 3 values")
        }
        self.init(
            resize: resize, filter: pillowFilters[raw?.resample ?? 3] ?? .bicubic, engine: .pytorch,
            centerCrop: crop, cropRule: .transformers, normalization: .scaledMeanStd(mean: mean, std: std))
    }
}

/// What every Hugging Face vision tower opens first: its config (checked to be of `family`),
/// descriptor, image processor and a loader over the vision weights.
struct HFVisionDirectory {
    let config: HFVisionConfig
    let descriptor: EncoderDescriptor
    let preprocessing: Preprocessing
    let loader: WeightLoader

    /// - Parameter ignoring: key prefixes of a full model's other parts (text tower, projections).
    init(_ directory: URL, family: HFVisionConfig.Family, ignoring: [String]) throws {
        config = try HFVisionConfig(directory: directory)
        guard config.family == family else {
            throw ModelConfigError(
                path: directory.path, reason: "not a \(family) model (model_type is \(config.family.rawValue))")
        }
        descriptor = config.descriptor(modelID: directory.lastPathComponent)
        preprocessing = try Preprocessing(huggingFace: directory, config: config)
        let checkpoint = try Checkpoint(directory: directory)
        // transformers 5 saves vision-only models without the `vision_model.` prefix that published
        // checkpoints carry; both load.
        let renames: [(from: String, to: String)] =
            checkpoint.contains("vision_model.embeddings.patch_embedding.weight") ? [] : [("", "vision_model.")]
        loader = try WeightLoader(
            checkpoint, renames: renames, ignored: ignoring + ["vision_model.embeddings.position_ids"])
        // The sizes against the tensors, before a tower of those sizes exists.
        let c = config, check = ConfigCheck(path: directory.appendingPathComponent("config.json").path)
        let w = loader.root["vision_model"]
        try check.agrees(
            w["embeddings.patch_embedding"], "weight", [c.hiddenSize, 3, c.patchSize, c.patchSize],
            fields: "hidden_size and patch_size")
        try check.agrees(
            w["embeddings.position_embedding"], "weight", [c.grid * c.grid + (family == .clip ? 1 : 0), c.hiddenSize],
            fields: "image_size, patch_size and hidden_size")
        try check.agrees(
            w["encoder.layers"][c.layers - 1]["mlp.fc1"], "weight", [c.intermediateSize, c.hiddenSize],
            fields: "num_hidden_layers, intermediate_size and hidden_size")
    }
}
