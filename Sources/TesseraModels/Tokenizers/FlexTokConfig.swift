// FlexTok's configuration (apple/ml-flextok), read as data from the hydra tree its checkpoints
// carry: the safetensors `__metadata__` (one Python-literal repr per top-level key) or a
// `config.json` with the same tree. Every `_target_` must be on the allowlist; nothing is
// instantiated or evaluated. Modules are found by class, not by name or order, so the JSON form
// (whose key order is not the execution order) reads the same as the metadata.
import Foundation
import TesseraCore
import TesseraNN

/// A FlexTok model's sizes and variants, each read from the config or the checkpoint's shapes.
public struct FlexTokConfig: Sendable, Equatable {
    /// One of the two transformer trunks (`FlexTransformer`).
    public struct Trunk: Sendable, Equatable {
        /// Model width.
        public var dim: Int
        /// Blocks.
        public var depth: Int
        /// Attention heads (`dim / head_dim`).
        public var heads: Int
        /// The SwiGLU hidden width, `int(2·int(dim·mlp_ratio)/3)`.
        public var mlpHidden: Int
        /// LayerNorm epsilon (no affine parameters).
        public var eps: Float
        /// adaLN rows per image (decoder: 2, one for patches and one for registers; encoder: 0).
        public var adaLNExpansion: Int
        /// The module's name in the `module_dict` (the checkpoint's key prefix).
        public var module: String
        /// Head width.
        public var headDim: Int { dim / heads }
    }

    /// Positional embedding of the patch grid.
    public enum PatchPositions: String, Sendable, Equatable {
        /// A fixed 2-D sin-cos table `[1, D, g, g]` (stored in the checkpoint).
        case sincos
        /// Learned rows and columns `[2, 1, D, g]`, summed.
        case learnableSum = "learnable_sum"
    }

    /// What replaces the registers in the unconditional guidance pass.
    public enum NullCondition: Sendable, Equatable {
        /// `ZeroNullCond`: zeros.
        case zero
        /// `LearnedNullCond`: a learned vector in every slot, or (`singleToken`) one token instead of them.
        case learned(singleToken: Bool)
    }

    /// The VAE (diffusers `AutoencoderKL`), its shape read off the checkpoint.
    public var vae: AutoencoderKLConfig
    /// `vae.scaling_factor`: latents are multiplied by it after encoding, divided before decoding.
    public var scalingFactor: Float
    /// `vae.sample_posterior` of the checkpoint (Tessera takes the mode unless a seed is given).
    public var samplePosterior: Bool
    /// VAE latent channels.
    public var latentChannels: Int
    /// Patch side on the latent grid (`patch_sizes`, 2 in the released models).
    public var patchSize: Int
    /// Patches per side (`max_sizes` of the patch positional embeddings, 16 released).
    public var grid: Int
    /// Registers, and so tokens, per image (`n_max` = `n_eval`, 256 released).
    public var registers: Int
    /// FSQ levels (`[8, 8, 8, 5, 5, 5]` released).
    public var levels: [Int]
    /// The encoder trunk.
    public var encoder: Trunk
    /// The decoder trunk (adaLN-modulated).
    public var decoder: Trunk
    /// The encoder's patch positional embedding.
    public var encoderPositions: PatchPositions
    /// The decoder's patch positional embedding.
    public var decoderPositions: PatchPositions
    /// The unconditional pass's registers.
    public var nullCondition: NullCondition
    /// Whether the decoder's output head is adaLN-modulated.
    public var headAdaLN: Bool
    /// `TimestepEmbedder.max_timestep` (frequencies are scaled by 1000 / max_timestep).
    public var maxTimestep: Double
    /// `TimestepEmbedder.frequency_embedding_size`.
    public var frequencyEmbedding: Int
    /// The `module_dict` keys of the modules with weights (the checkpoint's key prefixes).
    public var modules: Modules

    /// Where each module with weights sits in the `module_dict`s.
    public struct Modules: Sendable, Equatable {
        var encoderPatches: String, encoderPositions: String, registers: String, encoderHead: String
        var fromLatents: String, registerPositions: String, nestedDropout: String, nullCondition: String
        var decoderPatches: String, decoderPositions: String, time: String, head: String
    }

    /// Input image side: patches × patch size × VAE downsampling (256 for the released models).
    public var imageSize: Int { grid * patchSize * vae.downsampleFactor }
    /// Latent grid side.
    public var latentSize: Int { grid * patchSize }
    /// Patch tokens per image.
    public var patches: Int { grid * grid }
}

/// The classes a FlexTok config may name (upstream's sanitizer allowlist, by full path).
enum FlexTokTargets {
    static let model = "flextok.model."
    static let allowed: Set<String> = [
        "flextok.flextok_wrapper.FlexTok", "flextok.flextok_wrapper.FlexTokFromHub",
        "flextok.vae_wrapper.StableDiffusionVAE",
        "flextok.flow_matching.pipelines.MinRFPipeline", "flextok.flow_matching.noise_modules.MinRFNoiseModule",
        "flextok.flow_matching.cfg_utils.MomentumBuffer", "flextok.regularizers.quantize_fsq.FSQ",
        model + "utils.wrappers.SequentialModuleDictWrapper", model + "utils.posembs.PositionalEmbedding",
        model + "utils.posembs.PositionalEmbeddingAdder", model + "utils.dict_ops.DictKeyFilter",
        model + "utils.dict_ops.PerSampleOp", model + "utils.dict_ops.PerSampleReducer",
        model + "utils.dict_ops.channels_first_to_last", model + "utils.dict_ops.channels_last_to_first",
        model + "trunks.transformers.FlexTransformer", model + "trunks.transformers.FlexTransformerDecoder",
        model + "preprocessors.token_dropout.MaskedNestedDropout",
        model + "preprocessors.time_embedding.TimestepEmbedder", model + "preprocessors.registers.Registers1D",
        model + "preprocessors.patching.PatchEmbedder", model + "preprocessors.nullcond.ZeroNullCond",
        model + "preprocessors.nullcond.LearnedNullCond", model + "preprocessors.mask_tokens.MaskTokenModule",
        model + "preprocessors.linear.LinearLayer", model + "preprocessors.flex_seq_packing.BlockWiseSequencePacker",
        model + "postprocessors.seq_unpacking.SequenceUnpacker", model + "postprocessors.heads.LinearHead",
        model + "postprocessors.heads.ToPatchesLinearHead", model + "postprocessors.heads.MLPHead",
        model + "layers.norm.Fp32LayerNorm", model + "layers.mup_readout.MuReadoutFSDP",
        model + "layers.attention.FlexAttention", model + "layers.attention.FlexSelfAttention",
        model + "layers.transformer_blocks.FlexBlock", model + "layers.transformer_blocks.FlexBlockAdaLN",
        model + "layers.mlp.Mlp", model + "layers.mlp.GatedMlp",
        "torch.nn.SiLU", "torch.nn.modules.activation.SiLU", "torch.nn.LayerNorm",
    ]
}

extension FlexTokConfig {
    /// The hydra tree of a model directory: `model.safetensors`'s `__metadata__` (preferred: it is
    /// what upstream's loader instantiates), else `config.json`.
    /// - Throws: ``ModelConfigError`` naming the file when neither holds a FlexTok config.
    static func tree(directory: URL, metadata: [String: String]) throws -> (tree: ConfigTree, path: String) {
        let weights = directory.appendingPathComponent("model.safetensors").path
        if metadata["encoder"] != nil || metadata["decoder"] != nil {
            var entries: [ConfigTree.Entry] = []
            for key in [
                "_target_", "vae", "encoder", "decoder", "regularizer", "flow_matching_noise_module", "pipeline",
            ] {
                guard let text = metadata[key] else { continue }
                // `_target_` is stored as a bare string; the module entries as dict reprs.
                if key == "_target_" && !text.hasPrefix("'") && !text.hasPrefix("\"") {
                    entries.append(.init(key, .string(text)))
                    continue
                }
                do {
                    entries.append(.init(key, try ConfigTree(parsing: text)))
                } catch {
                    throw ModelConfigError(path: weights, reason: "metadata entry '\(key)' is not a literal: \(error)")
                }
            }
            return (.dict(entries), weights)
        }
        let json = directory.appendingPathComponent("config.json")
        guard FileManager.default.fileExists(atPath: json.path) else {
            throw ModelConfigError(
                path: weights, reason: "no FlexTok config: neither the safetensors metadata nor config.json holds one")
        }
        do {
            return (try ConfigTree(parsing: String(decoding: try Data(contentsOf: json), as: UTF8.self)), json.path)
        } catch {
            throw ModelConfigError(path: json.path, reason: "not a readable FlexTok config (\(error))")
        }
    }

    /// Reads the config tree, checking every `_target_` against the allowlist and every size
    /// against the checkpoint's tensors under `weights`.
    /// - Throws: ``ModelConfigError`` naming `path` and the field.
    init(tree: ConfigTree, path: String, weights: WeightScope, vaeScalingFactor: Double? = nil) throws {
        func fail(_ reason: String) -> ModelConfigError { ModelConfigError(path: path, reason: reason) }
        try Self.checkTargets(tree, path: path, at: "")
        guard let encoderTree = tree["encoder"], let decoderTree = tree["decoder"], let vaeTree = tree["vae"],
            let regularizer = tree["regularizer"]
        else { throw fail("a FlexTok config needs 'vae', 'encoder', 'decoder' and 'regularizer'") }
        let enc = try ModuleDict(encoderTree, name: "encoder", fail: fail)
        let dec = try ModuleDict(decoderTree, name: "decoder", fail: fail)

        // VAE: the shape from the tensors (released configs name a hub path or the base config).
        guard let vae = AutoencoderKLConfig.inferred(from: weights["vae.vae"]) else {
            throw fail("the checkpoint has no diffusers AutoencoderKL under 'vae.vae'")
        }
        self.vae = vae
        latentChannels = vae.latentChannels
        if let c = vaeTree["latent_channels"]?.int, c != latentChannels, vaeTree["hf_hub_path"]?.isNone ?? true {
            throw fail("vae.latent_channels is \(c) but the VAE's tensors have \(latentChannels)")
        }
        // Upstream: `scaling_factor or vae.config.scaling_factor` (the hub VAE's config.json).
        guard let scale = vaeTree["scaling_factor"]?.double ?? vaeScalingFactor, scale.isFinite, scale > 0 else {
            throw fail(
                "vae.scaling_factor is not set: give it in the config, or put the VAE's config.json (its "
                    + "hf_hub_path, e.g. EPFL-VILAB/flextok_vae_c16) in a 'vae' folder beside the weights")
        }
        scalingFactor = Float(scale)
        samplePosterior = vaeTree["sample_posterior"]?.bool ?? true

        // FSQ.
        guard regularizer["_target_"]?.string?.hasSuffix(".FSQ") == true,
            let levels = regularizer["levels"]?.list?.compactMap(\.int), !levels.isEmpty, levels.count <= 16,
            levels.allSatisfy({ (2...1024).contains($0) }), levels.reduce(1, { $0 * $1 }) <= 1 << 31
        else { throw fail("regularizer must be an FSQ with levels of 2…1024 (product below 2³¹)") }
        self.levels = levels

        // Encoder modules.
        let encPatch = try enc.one("preprocessors.patching.PatchEmbedder")
        let encPosemb = try enc.one("utils.posembs.PositionalEmbeddingAdder")
        let registersNode = try enc.one("preprocessors.registers.Registers1D")
        let encPacker = try enc.one("preprocessors.flex_seq_packing.BlockWiseSequencePacker")
        let encTrunk = try enc.one("trunks.transformers.FlexTransformer")
        let encHead = try enc.one("postprocessors.heads.LinearHead")
        guard let patch = encPatch.value["patch_sizes"]?.list?.compactMap(\.int), patch.count == 2,
            patch[0] == patch[1],
            (1...16).contains(patch[0])
        else { throw fail("encoder \(encPatch.key).patch_sizes must be a square [p, p]") }
        patchSize = patch[0]
        guard encPatch.value["channels_in"]?.int == latentChannels else {
            throw fail("encoder \(encPatch.key).channels_in differs from the VAE's \(latentChannels) latent channels")
        }
        guard let sizes = encPosemb.value["max_sizes"]?.list?.compactMap(\.int), sizes.count == 2, sizes[0] == sizes[1],
            (1...128).contains(sizes[0])
        else { throw fail("encoder \(encPosemb.key).max_sizes must be a square [g, g] grid") }
        grid = sizes[0]
        encoderPositions = try Self.positions(encPosemb, fail: fail)
        guard let n = registersNode.value["n_max"]?.int, (1...4096).contains(n),
            (registersNode.value["n_eval"]?.int ?? n) == n,
            (registersNode.value["ordering_mode"]?.string ?? "nested") == "nested"
        else { throw fail("encoder \(registersNode.key): registers need n_max = n_eval (1…4096), nested ordering") }
        registers = n
        guard encPacker.value["mask_mode"]?.string == "causal_last" else {
            throw fail("encoder \(encPacker.key).mask_mode must be causal_last (registers read patches causally)")
        }
        try Self.checkPackerOrder(encPacker, patchesKey: encPosemb.value["write_key"], fail: fail)
        encoder = try Self.trunk(encTrunk, fail: fail)
        try Self.checkTensors(encoder, under: weights["encoder.module_dict"], fail: fail)
        guard weights["encoder.module_dict"][registersNode.key].shape(of: "registers") == [n, encoder.dim] else {
            throw fail("encoder \(registersNode.key): the checkpoint's registers are not [\(n), \(encoder.dim)]")
        }
        guard encHead.value["dim_out"]?.int == levels.count,
            !(encHead.value["use_mup_readout"]?.bool ?? false), encHead.value["adaLN_emb_read_key"]?.isNone ?? true
        else { throw fail("encoder \(encHead.key) must project to the \(levels.count) FSQ channels (no muP readout)") }

        // Decoder modules.
        let fromLatents = try dec.one("preprocessors.linear.LinearLayer")
        let posembs = dec.all("utils.posembs.PositionalEmbeddingAdder")
        guard posembs.count == 2,
            let registerPosemb = posembs.first(where: { $0.value["max_sizes"]?.list?.count == 1 }),
            let patchPosemb = posembs.first(where: { $0.value["max_sizes"]?.list?.count == 2 })
        else { throw fail("decoder needs one 1-D (registers) and one 2-D (patches) PositionalEmbeddingAdder") }
        let dropout = try dec.one("preprocessors.token_dropout.MaskedNestedDropout")
        let decPatch = try dec.one("preprocessors.patching.PatchEmbedder")
        let decPacker = try dec.one("preprocessors.flex_seq_packing.BlockWiseSequencePacker")
        let timeNode = try dec.one("preprocessors.time_embedding.TimestepEmbedder")
        let decTrunk = try dec.one("trunks.transformers.FlexTransformer")
        let head = try dec.one("postprocessors.heads.ToPatchesLinearHead")
        guard fromLatents.value["dim_in"]?.int == levels.count else {
            throw fail("decoder \(fromLatents.key).dim_in must be the \(levels.count) FSQ channels")
        }
        guard registerPosemb.value["posemb_type"]?.string == "learnable_sum",
            registerPosemb.value["max_sizes"]?.list?.first?.int == registers
        else { throw fail("decoder \(registerPosemb.key) must be a learnable 1-D table of \(registers) registers") }
        guard patchPosemb.value["max_sizes"]?.list?.compactMap(\.int) == [grid, grid],
            decPatch.value["patch_sizes"]?.list?.compactMap(\.int) == [patchSize, patchSize],
            decPatch.value["channels_in"]?.int == latentChannels
        else { throw fail("decoder patch embedding and positions must match the encoder's grid and patch size") }
        decoderPositions = try Self.positions(patchPosemb, fail: fail)
        guard decPacker.value["mask_mode"]?.string == "full" else {
            throw fail("decoder \(decPacker.key).mask_mode must be full")
        }
        try Self.checkPackerOrder(decPacker, patchesKey: patchPosemb.value["write_key"], fail: fail)
        decoder = try Self.trunk(decTrunk, fail: fail)
        try Self.checkTensors(decoder, under: weights["decoder.module_dict"], fail: fail)
        guard decoder.adaLNExpansion >= 1, decoder.adaLNExpansion <= 2 else {
            throw fail("decoder \(decTrunk.key) must be adaLN-modulated (adaLN_expansion 1 or 2)")
        }
        if decoder.adaLNExpansion == 2 && !(decPacker.value["per_subseq_embs"]?.bool ?? false) {
            throw fail("decoder adaLN_expansion 2 needs the packer's per_subseq_embs")
        }
        let nulls = dec.all("preprocessors.nullcond.ZeroNullCond") + dec.all("preprocessors.nullcond.LearnedNullCond")
        guard nulls.count == 1, let null = nulls.first else {
            throw fail("decoder needs exactly one null condition (ZeroNullCond or LearnedNullCond)")
        }
        nullCondition =
            null.value["_target_"]?.string?.hasSuffix("ZeroNullCond") == true
            ? .zero : .learned(singleToken: null.value["replace_with_single_token"]?.bool ?? false)
        maxTimestep = timeNode.value["max_timestep"]?.double ?? 1000
        frequencyEmbedding = timeNode.value["frequency_embedding_size"]?.int ?? 256
        guard maxTimestep >= 1, maxTimestep.isFinite, frequencyEmbedding >= 2, frequencyEmbedding % 2 == 0,
            frequencyEmbedding <= 4096
        else { throw fail("decoder \(timeNode.key): max_timestep must be ≥ 1 (t reaches 1) and the size even") }
        headAdaLN = !(head.value["adaLN_emb_read_key"]?.isNone ?? true)
        guard head.value["channels_out"]?.int == latentChannels, !(head.value["use_mup_readout"]?.bool ?? false) else {
            throw fail("decoder \(head.key) must predict \(latentChannels) latent channels per patch pixel")
        }
        modules = Modules(
            encoderPatches: encPatch.key, encoderPositions: encPosemb.key, registers: registersNode.key,
            encoderHead: encHead.key, fromLatents: fromLatents.key, registerPositions: registerPosemb.key,
            nestedDropout: dropout.key, nullCondition: null.key, decoderPatches: decPatch.key,
            decoderPositions: patchPosemb.key, time: timeNode.key, head: head.key)
        for (name, dim) in [(encPatch, encoder.dim), (registersNode, encoder.dim), (encPosemb, encoder.dim)]
        where name.value["dim"]?.int != dim {
            throw fail("encoder \(name.key).dim differs from the trunk's \(dim)")
        }
    }

    /// The trunk's sizes against the checkpoint's tensors, before anything is allocated: the first
    /// block's projections, the last block present and no block after it.
    static func checkTensors(_ t: Trunk, under w: WeightScope, fail: (String) -> ModelConfigError) throws {
        let blocks = w[t.module]["blocks"]
        guard blocks[0].shape(of: "attn.wq.weight") == [t.dim, t.dim],
            blocks[0].shape(of: "mlp.fc1.weight") == [t.mlpHidden, t.dim],
            blocks[t.depth - 1].shape(of: "attn.wq.weight") != nil,
            blocks[t.depth].shape(of: "attn.wq.weight") == nil
        else {
            let found = blocks[0].shape(of: "attn.wq.weight").map { "\($0)" } ?? "none"
            throw fail(
                "\(t.module): the config says dim \(t.dim), depth \(t.depth), MLP \(t.mlpHidden); the checkpoint's "
                    + "blocks do not match (blocks.0.attn.wq.weight: \(found))")
        }
    }

    /// Fails on any `_target_` outside the allowlist, naming where it sits.
    static func checkTargets(_ tree: ConfigTree, path: String, at location: String) throws {
        switch tree {
        case .dict(let entries):
            for e in entries {
                if e.key == "_target_" {
                    guard let target = e.value.string, FlexTokTargets.allowed.contains(target) else {
                        let name = e.value.string ?? "\(e.value)", place = location.isEmpty ? "" : location + ": "
                        throw ModelConfigError(
                            path: path,
                            reason: "\(place)_target_ '\(name)' is not a FlexTok class (only the allowlisted flextok "
                                + "classes are read; nothing is instantiated)")
                    }
                } else {
                    try checkTargets(e.value, path: path, at: location.isEmpty ? e.key : location + "." + e.key)
                }
            }
        case .list(let items):
            for (i, item) in items.enumerated() { try checkTargets(item, path: path, at: "\(location)[\(i)]") }
        default: break
        }
    }

    static func positions(_ node: ConfigTree.Entry, fail: (String) -> ModelConfigError) throws -> PatchPositions {
        let type = node.value["posemb_type"]?.string ?? "sincos"
        guard let positions = PatchPositions(rawValue: type),
            (node.value["posemb_scaling"]?.string ?? "absolute") == "absolute"
        else { throw fail("\(node.key): posemb_type '\(type)' is not supported (sincos, learnable_sum; absolute)") }
        return positions
    }

    /// The packer must put the patches first and the registers last (the masks assume it).
    static func checkPackerOrder(
        _ packer: ConfigTree.Entry, patchesKey: ConfigTree?, fail: (String) -> ModelConfigError
    ) throws {
        guard let inputs = packer.value["input_list_read_keys"]?.list, inputs.count == 2,
            let patches = patchesKey?.string, inputs[0].string == patches
        else { throw fail("\(packer.key) must pack [patches, registers] in that order") }
    }

    static func trunk(_ node: ConfigTree.Entry, fail: (String) -> ModelConfigError) throws -> Trunk {
        let v = node.value
        guard let dim = v["dim"]?.int, let depth = v["depth"]?.int, (1...8192).contains(dim), (1...256).contains(depth)
        else { throw fail("\(node.key): dim and depth must be positive (dim ≤ 8192, depth ≤ 256)") }
        let headDim = v["head_dim"]?.int ?? 64
        guard headDim > 0, dim % headDim == 0 else { throw fail("\(node.key): head_dim must divide dim \(dim)") }
        let ratio = v["mlp_ratio"]?.double ?? 4
        guard ratio > 0, ratio <= 16 else { throw fail("\(node.key): mlp_ratio out of range") }
        for flag in ["qkv_bias", "proj_bias", "mlp_bias"] where v[flag]?.bool == true {
            throw fail("\(node.key): \(flag) true is not supported (the released models have no biases)")
        }
        guard v["gated_mlp"]?.bool ?? true, v["qk_norm"]?.bool ?? true else {
            throw fail("\(node.key): only the gated-MLP, QK-norm trunk of the released models is supported")
        }
        if let act = v["act_layer"], act["_target_"]?.string?.hasSuffix("SiLU") != true {
            throw fail("\(node.key): act_layer must be SiLU")
        }
        var eps: Float = 1e-5
        if let norm = v["norm_layer"], !norm.isNone {
            guard norm["elementwise_affine"]?.bool == false else {
                throw fail("\(node.key): affine norm layers are not supported (the released norms have no weights)")
            }
            eps = Float(norm["eps"]?.double ?? 1e-5)
        }
        let hidden = Int(2 * Double(Int(Double(dim) * ratio)) / 3)
        let expansion = v["adaLN_emb_read_key"]?.isNone ?? true ? 0 : (v["adaLN_expansion"]?.int ?? 1)
        return Trunk(
            dim: dim, depth: depth, heads: dim / headDim, mlpHidden: hidden, eps: eps, adaLNExpansion: expansion,
            module: node.key)
    }
}

/// A `SequentialModuleDictWrapper`'s modules, found by class.
private struct ModuleDict {
    let entries: [ConfigTree.Entry]
    let name: String
    let fail: (String) -> ModelConfigError

    init(_ tree: ConfigTree, name: String, fail: @escaping (String) -> ModelConfigError) throws {
        guard tree["_target_"]?.string?.hasSuffix("SequentialModuleDictWrapper") == true,
            case .dict(let modules)? = tree["module_dict"]
        else { throw fail("'\(name)' must be a SequentialModuleDictWrapper with a module_dict") }
        entries = modules
        self.name = name
        self.fail = fail
    }

    func all(_ target: String) -> [ConfigTree.Entry] {
        entries.filter { $0.value["_target_"]?.string == FlexTokTargets.model + target }
    }

    func one(_ target: String) throws -> ConfigTree.Entry {
        let found = all(target)
        guard found.count == 1, let entry = found.first else {
            let short = target.split(separator: ".").last.map(String.init) ?? target
            throw fail("\(name) must have exactly one \(short) module (found \(found.count))")
        }
        return entry
    }
}
