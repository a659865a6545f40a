// FlexTok (apple/ml-flextok; Bachmann et al., "FlexTok: Resampling Images into 1D Token Sequences
// of Flexible Length"): a VAE, a register encoder with FSQ, and a rectified-flow decoder that
// reconstructs from any prefix of the 256 tokens. Loaded from the published `model.safetensors`
// (its hydra config in `__metadata__`, see FlexTokConfig.swift) with the original key names.
// Upstream packs all images into one FlexAttention sequence; here each image attends densely to
// its own tokens, the same function without the block mask.
import Foundation
import TesseraCore
import TesseraMedia
import TesseraNN
import TesseraQuantizers

// MARK: - Blocks

/// `FlexBlock` / `FlexBlockAdaLN`: pre-norm (LayerNorm without affine), attention with per-head
/// QK-norm and scale `8 / head_dim`, SwiGLU `fc2(silu(fc1 x) · fc3 x)`, no biases; the adaLN form
/// modulates both halves per token group (patches, registers).
struct FlexBlock: Sendable {
    let qkv: Linear
    let proj: Linear
    /// `fc1` and `fc3` stacked `[2H, D]`: the gate and the value in one GEMM.
    let fc13: Linear
    let fc2: Linear
    let modulation: Linear?
    let trunk: FlexTokConfig.Trunk

    init(_ w: WeightScope, trunk t: FlexTokConfig.Trunk) throws {
        trunk = t
        let d = t.dim
        let parts = try ["wq", "wk", "wv"].map { try Linear(w["attn"][$0], in: d, out: d, bias: false) }
        qkv = Linear(weight: Tensor.concatenate(parts.map(\.weight), axis: 0), bias: nil)
        proj = try Linear(w["attn.proj"], in: d, out: d, bias: false)
        let halves = try ["mlp.fc1", "mlp.fc3"].map { try Linear(w[$0], in: d, out: t.mlpHidden, bias: false) }
        fc13 = Linear(weight: Tensor.concatenate(halves.map(\.weight), axis: 0), bias: nil)
        fc2 = try Linear(w["mlp.fc2"], in: t.mlpHidden, out: d, bias: false)
        modulation =
            t.adaLNExpansion > 0 ? try Linear(w["adaLN_modulation.1"], in: d, out: t.adaLNExpansion * 6 * d) : nil
    }

    /// The `[B, E, 6D]` modulation rows for a time embedding `[B, D]` (`adaLN_modulation(e)`).
    func modulationRows(_ embedding: Tensor) -> Tensor? {
        modulation.map {
            $0(embedding.activated(.silu)).reshaped([embedding.shape[0], trunk.adaLNExpansion, 6 * trunk.dim])
        }
    }

    /// `[B, L, D]` → `[B, L, D]`, or `[B, |kept|, D]` for the token rows `kept` only (a last block
    /// whose other rows are never read: they are still keys and values). Tokens before `split`
    /// take modulation row 0, the rest the last row; `bias` is added to the attention scores.
    func callAsFunction(
        _ x: Tensor, mask: [Bool]?, bias: Tensor? = nil, modulation rows: Tensor?, split: Int,
        kept: Range<Int>? = nil
    ) -> Tensor {
        self([FlexSequence(x, mask: mask, bias: bias, split: split, kept: kept)], modulation: rows)[0]
    }

    /// Several sequences through the block at once, sharing the modulation rows: every linear
    /// layer runs once on all their token rows (one GEMM, its weights packed once), attention
    /// runs per sequence. The guided decode passes its conditional and unconditional sequences.
    func callAsFunction(_ sequences: [FlexSequence], modulation rows: Tensor?) -> [Tensor] {
        let t = trunk
        let normed = sequences.map { s -> Tensor in
            var h = s.x.layerNorm(weight: nil, bias: nil, eps: t.eps)
            if let rows { modulate(&h, rows, chunk: 2, split: s.split) }
            return h
        }
        var projections = qkv(stackedRows(normed))
        normalizeHeads(&projections, heads: t.heads, headDim: t.headDim, eps: t.eps)
        let attended = zip(sequences, unstackedRows(projections, like: normed)).map { s, packed in
            packedSelfAttention(
                packed, heads: t.heads, bias: s.bias, mask: s.mask, scale: 8 / Float(t.headDim), queries: s.kept
            ).output
        }
        var outs = [Tensor](), splits = [Int]()
        for (s, projected) in zip(sequences, unstackedRows(proj(stackedRows(attended)), like: attended)) {
            var out = s.x, split = s.split
            if let kept = s.kept {
                out = s.x.slice(axis: 1, kept)
                split = min(max(0, split - kept.lowerBound), kept.count)
            }
            addGated(&out, projected, rows, chunk: 0, split: split)
            outs.append(out)
            splits.append(split)
        }
        let hidden = zip(outs, splits).map { out, split -> Tensor in
            var h = out.layerNorm(weight: nil, bias: nil, eps: t.eps)
            if let rows { modulate(&h, rows, chunk: 4, split: split) }
            return h
        }
        let gated = fc13(stackedRows(hidden)).gatedLinearUnit(.silu)
        for (i, down) in unstackedRows(fc2(gated), like: outs).enumerated() {
            addGated(&outs[i], down, rows, chunk: 1, split: splits[i])
        }
        return outs
    }

    /// `h · (1 + scale) + shift` with (shift, scale) the chunks `chunk`, `chunk + 1` of the 6D row.
    private func modulate(_ h: inout Tensor, _ rows: Tensor, chunk: Int, split: Int) {
        let (b, l, d) = (h.shape[0], h.shape[1], h.shape[2]), e = rows.shape[1]
        rows.scalars.withUnsafeBufferPointer { m in
            h.scalars.withUnsafeMutableBufferPointer { p in
                let ptrs = UncheckedSendable((m.baseAddress!, p.baseAddress!))
                parallelChunks(b * l, minChunk: 64) { tokens in
                    let (m, p) = ptrs.value
                    for token in tokens {
                        let (bi, li) = (token / l, token % l)
                        let row = (bi * e + (li < split ? 0 : e - 1)) * 6 * d
                        let shift = m + row + chunk * d, scale = m + row + (chunk + 1) * d, x = p + token * d
                        for j in 0..<d { x[j] = x[j] * (1 + scale[j]) + shift[j] }
                    }
                }
            }
        }
    }

    /// `x += gate ⊙ y` (plain `x += y` without modulation); the gate is chunk `chunk` of the row.
    private func addGated(_ x: inout Tensor, _ y: Tensor, _ rows: Tensor?, chunk: Int, split: Int) {
        guard let rows else {
            x.add(y)
            return
        }
        let (b, l, d) = (x.shape[0], x.shape[1], x.shape[2]), e = rows.shape[1]
        rows.scalars.withUnsafeBufferPointer { m in
            y.scalars.withUnsafeBufferPointer { yp in
                x.scalars.withUnsafeMutableBufferPointer { p in
                    let ptrs = UncheckedSendable((m.baseAddress!, yp.baseAddress!, p.baseAddress!))
                    parallelChunks(b * l, minChunk: 64) { tokens in
                        let (m, yp, p) = ptrs.value
                        for token in tokens {
                            let (bi, li) = (token / l, token % l)
                            let gate = m + (bi * e + (li < split ? 0 : e - 1)) * 6 * d + chunk * d
                            let out = p + token * d, add = yp + token * d
                            for j in 0..<d { out[j] += gate[j] * add[j] }
                        }
                    }
                }
            }
        }
    }
}

/// One token sequence of a ``FlexBlock`` call: `[B, L, D]` with its mask or bias, the first token
/// of its second modulation group, and the rows to compute (nil: all).
struct FlexSequence {
    let x: Tensor
    let mask: [Bool]?
    let bias: Tensor?
    let split: Int
    let kept: Range<Int>?

    init(_ x: Tensor, mask: [Bool]? = nil, bias: Tensor? = nil, split: Int, kept: Range<Int>? = nil) {
        (self.x, self.mask, self.bias, self.split, self.kept) = (x, mask, bias, split, kept)
    }
}

/// The token rows of `[B, L, D]` tensors stacked into one `[ΣB·L, D]` (a lone tensor is reshaped only).
private func stackedRows(_ parts: [Tensor]) -> Tensor {
    let flat = parts.map { $0.reshaped([$0.count / $0.shape[$0.rank - 1], $0.shape[$0.rank - 1]]) }
    return flat.count == 1 ? flat[0] : Tensor.concatenate(flat, axis: 0)
}

/// ``stackedRows(_:)`` undone for `[ΣB·L, E]`: one `[B, L, E]` per part of `like`.
private func unstackedRows(_ stacked: Tensor, like parts: [Tensor]) -> [Tensor] {
    let e = stacked.shape[stacked.rank - 1]
    var start = 0
    return parts.map { part in
        let shape = Array(part.shape.dropLast()) + [e], rows = part.count / part.shape[part.rank - 1]
        defer { start += rows }
        let piece = parts.count == 1 ? stacked : stacked.slice(axis: 0, start..<(start + rows))
        return piece.reshaped(shape)
    }
}

/// Per-head LayerNorm (no affine) of the queries and keys inside packed `[B, L, 3D]` projections.
private func normalizeHeads(_ qkv: inout Tensor, heads: Int, headDim: Int, eps: Float) {
    let d = heads * headDim, rows = qkv.count / (3 * d)
    qkv.scalars.withUnsafeMutableBufferPointer { buffer in
        let base = UncheckedSendable(buffer.baseAddress!)
        parallelChunks(rows, minChunk: 32) { range in
            let p = base.value
            for r in range {
                for segment in 0..<(2 * heads) {
                    let x = p + r * 3 * d + segment * headDim
                    var mean: Float = 0
                    for j in 0..<headDim { mean += x[j] }
                    mean /= Float(headDim)
                    var variance: Float = 0
                    for j in 0..<headDim {
                        let c = x[j] - mean
                        variance += c * c
                    }
                    let inv = 1 / (variance / Float(headDim) + eps).squareRoot()
                    for j in 0..<headDim { x[j] = (x[j] - mean) * inv }
                }
            }
        }
    }
}

/// 2×2 (p×p) patches of channels-first latents `[B, C, H, W]` as tokens `[B, (H/p)·(W/p), p·p·C]`,
/// each laid out `(p0 p1 c)` (upstream's channels-last `patchify`).
func latentPatches(_ z: Tensor, patch p: Int) -> Tensor {
    let (b, c, h, w) = (z.shape[0], z.shape[1], z.shape[2], z.shape[3])
    let gh = h / p, gw = w / p, width = p * p * c
    var out = [Float](repeating: 0, count: b * gh * gw * width)
    z.scalars.withUnsafeBufferPointer { src in
        out.withUnsafeMutableBufferPointer { dst in
            for bi in 0..<b {
                for y in 0..<gh {
                    for x in 0..<gw {
                        let token = ((bi * gh + y) * gw + x) * width
                        for p0 in 0..<p {
                            for p1 in 0..<p {
                                for ch in 0..<c {
                                    dst[token + (p0 * p + p1) * c + ch] =
                                        src[((bi * c + ch) * h + y * p + p0) * w + x * p + p1]
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    return Tensor(shape: [b, gh * gw, width], scalars: out)
}

/// The `[g·g, D]` table a `PositionalEmbeddingAdder` adds to a `g × g` patch grid (token y·g + x).
private func patchPositions(_ w: WeightScope, kind: FlexTokConfig.PatchPositions, dim d: Int, grid g: Int) throws
    -> Tensor
{
    switch kind {
    case .sincos:
        // [1, D, g, g] → [g·g, D]
        return try w.tensor("posembs", shape: [1, d, g, g]).reshaped([d, g * g]).transposed(0, 1)
    case .learnableSum:
        // [2, 1, D, g]: rows (y) + columns (x).
        let table = try w.tensor("posembs", shape: [2, 1, d, g])
        var out = [Float](repeating: 0, count: g * g * d)
        for y in 0..<g {
            for x in 0..<g {
                for j in 0..<d {
                    out[(y * g + x) * d + j] = table.scalars[j * g + y] + table.scalars[(d + j) * g + x]
                }
            }
        }
        return Tensor(shape: [g * g, d], scalars: out)
    }
}

// MARK: - Encoder

/// The register encoder: VAE latent patches + positions, then the registers, through the trunk
/// with the `causal_last` mask (patches see patches; register j sees every patch and registers
/// ≤ j); the registers' outputs, normalized and projected to the FSQ channels.
struct FlexTokEncoder: Sendable {
    let config: FlexTokConfig
    let patchEmbed: Linear
    let positions: Tensor  // [N, D]
    let registers: Tensor  // [R, D]
    let blocks: [FlexBlock]
    let head: Linear
    let mask: [Bool]

    init(_ root: WeightScope, config c: FlexTokConfig) throws {
        config = c
        let w = root["encoder.module_dict"], d = c.encoder.dim, m = c.modules
        patchEmbed = try Linear(
            w[m.encoderPatches]["patch_proj"], in: c.patchSize * c.patchSize * c.latentChannels, out: d)
        positions = try patchPositions(w[m.encoderPositions], kind: c.encoderPositions, dim: d, grid: c.grid)
        registers = try w[m.registers].tensor("registers", shape: [c.registers, d])
        blocks = try (0..<c.encoder.depth).map { try FlexBlock(w[c.encoder.module]["blocks"][$0], trunk: c.encoder) }
        head = try Linear(w[m.encoderHead]["proj"], in: d, out: c.levels.count)
        let n = c.patches, l = c.patches + c.registers
        mask = (0..<(l * l)).map { i in
            let (q, k) = (i / l, i % l)
            return k < n || k <= q
        }
    }

    /// Scaled VAE latents `[B, C, h, w]` → register latents `[B, R, levels]` (before FSQ).
    func callAsFunction(_ latents: Tensor) -> Tensor {
        let b = latents.shape[0], d = config.encoder.dim
        let patches = patchEmbed(latentPatches(latents, patch: config.patchSize)) + positions
        var x = Tensor.concatenate(
            [patches, registers.reshaped([1, config.registers, d]).expanded(batch: b)], axis: 1)
        // Only the registers are read: the last block computes their rows alone.
        let registerRows = config.patches..<(config.patches + config.registers)
        for (i, block) in blocks.enumerated() {
            x = block(
                x, mask: mask, modulation: nil, split: config.patches, kept: i == blocks.count - 1 ? registerRows : nil)
        }
        return head(x.layerNorm(weight: nil, bias: nil, eps: config.encoder.eps))
    }
}

// MARK: - Decoder

/// The flow decoder `F(x_t, t, registers)`: noised latent patches + positions and the register
/// conditioning, one adaLN trunk with full attention per image, the patches back to a velocity.
struct FlexTokDecoder: Sendable {
    let config: FlexTokConfig
    let fromLatents: Linear
    let registerPositions: Tensor  // [R, D]
    let maskToken: Tensor  // [D]
    let nullToken: Tensor  // [D] (zeros for ZeroNullCond)
    let patchEmbed: Linear
    let positions: Tensor  // [N, D]
    let time1: Linear, time2: Linear
    let blocks: [FlexBlock]
    let headModulation: Linear?
    let head: Linear

    init(_ root: WeightScope, config c: FlexTokConfig) throws {
        config = c
        let w = root["decoder.module_dict"], d = c.decoder.dim, m = c.modules
        fromLatents = try Linear(w[m.fromLatents]["proj"], in: c.levels.count, out: d)
        registerPositions = try w[m.registerPositions].tensor("posembs", shape: [1, 1, d, c.registers])
            .reshaped([d, c.registers]).transposed(0, 1)
        maskToken = try w[m.nestedDropout].tensor("dropout_mask_token", shape: [d])
        if case .learned = c.nullCondition {
            nullToken = try w[m.nullCondition].tensor("nullcond", shape: [d])
        } else {
            nullToken = Tensor.zeros([d])
        }
        patchEmbed = try Linear(
            w[m.decoderPatches]["patch_proj"], in: c.patchSize * c.patchSize * c.latentChannels, out: d)
        positions = try patchPositions(w[m.decoderPositions], kind: c.decoderPositions, dim: d, grid: c.grid)
        time1 = try Linear(w[m.time]["mlp.0"], in: c.frequencyEmbedding, out: d)
        time2 = try Linear(w[m.time]["mlp.2"], in: d, out: d)
        blocks = try (0..<c.decoder.depth).map { try FlexBlock(w[c.decoder.module]["blocks"][$0], trunk: c.decoder) }
        let headScope = w[m.head]
        headModulation = try c.headAdaLN ? Linear(headScope["adaLN_modulation.1"], in: d, out: 2 * d) : nil
        head = try Linear(headScope["proj"], in: d, out: c.patchSize * c.patchSize * c.latentChannels)
    }

    /// The conditioning registers `[B, R, D]` for FSQ codes `[B, R, levels]` of which the first
    /// `keep[i]` are real: projected, plus positions, the rest replaced by the mask token.
    func conditioning(_ codes: Tensor, keep: [Int]) -> Tensor {
        var r = fromLatents(codes) + registerPositions
        let d = config.decoder.dim, n = config.registers
        for (i, k) in keep.enumerated() where k < n {
            for slot in k..<n {
                r.scalars.replaceSubrange(((i * n + slot) * d)..<((i * n + slot + 1) * d), with: maskToken.scalars)
            }
        }
        return r
    }

    /// The unconditional pass's registers for `b` images, compressed: every slot holds the same
    /// vector (zeros, or the learned one), and identical tokens stay identical through the trunk,
    /// so one token standing for `multiplicity` slots (its key weighted by log(multiplicity)) is the
    /// same function at about half the cost. The single-token null condition is one token anyway.
    func nullConditioning(batch b: Int) -> (registers: Tensor, multiplicity: Int) {
        let d = config.decoder.dim
        switch config.nullCondition {
        case .zero: return (Tensor.zeros([b, 1, d]), config.registers)
        case .learned(let single):
            return (nullToken.reshaped([1, 1, d]).expanded(batch: b), single ? 1 : config.registers)
        }
    }

    /// `TimestepEmbedder`: `[cos(t·f), sin(t·f)]`, f_k = (1000 / max_t)·exp(−ln 256 · k / half), then
    /// Linear → SiLU → Linear.
    func timeEmbedding(_ t: [Float]) -> Tensor {
        let half = config.frequencyEmbedding / 2
        let scale = Float(1000 / config.maxTimestep), logPeriod = Float(-Foundation.log(256.0))
        let freqs = (0..<half).map { scale * Foundation.exp(logPeriod * Float($0) / Float(half)) }
        var e = [Float](repeating: 0, count: t.count * 2 * half)
        for (i, ti) in t.enumerated() {
            for k in 0..<half {
                let arg = ti * freqs[k]
                e[i * 2 * half + k] = Foundation.cos(arg)
                e[i * 2 * half + half + k] = Foundation.sin(arg)
            }
        }
        var h = time1(Tensor(shape: [t.count, 2 * half], scalars: e))
        h.activate(.silu)
        return time2(h)
    }

    /// The velocity `[B, C, h, w]` for noised latents `[B, C, h, w]`, times `[B]` and registers
    /// `[B, r, D]`, each register token standing for `multiplicity` identical slots.
    func callAsFunction(_ noised: Tensor, time t: [Float], registers: Tensor, multiplicity: Int = 1) -> Tensor {
        velocities(noised, time: t, registerSets: [(registers, multiplicity)])[0]
    }

    /// One velocity per register set, for the same noised latents and times: the guided decode's
    /// conditional and unconditional passes go through the trunk together (see
    /// ``FlexBlock/callAsFunction(_:modulation:)``), the patch embedding and time embedding once.
    func velocities(_ noised: Tensor, time t: [Float], registerSets: [(registers: Tensor, multiplicity: Int)])
        -> [Tensor]
    {
        let n = config.patches
        let patches = patchEmbed(latentPatches(noised, patch: config.patchSize)) + positions
        let embedding = timeEmbedding(t)
        var xs = registerSets.map { Tensor.concatenate([patches, $0.registers], axis: 1) }
        // m identical keys = one key with log(m) added to its score (softmax weights sum the copies).
        let biases = registerSets.map { set -> Tensor? in
            let l = n + set.registers.shape[1], weight = Float(Foundation.log(Double(max(1, set.multiplicity))))
            return set.multiplicity > 1
                ? Tensor(shape: [1, 1, 1, l], scalars: (0..<l).map { $0 < n ? 0 : weight }) : nil
        }
        // Only the patches are read: the last block computes their rows alone.
        for (i, block) in blocks.enumerated() {
            let kept = i == blocks.count - 1 ? 0..<n : nil
            xs = block(
                zip(xs, biases).map { FlexSequence($0, bias: $1, split: n, kept: kept) },
                modulation: block.modulationRows(embedding))
        }
        return xs.map { velocity(patchRows: $0, embedding: embedding) }
    }

    /// The final layer: the trunk's patch rows `[B, N, D]` → velocity `[B, C, h, w]`.
    private func velocity(patchRows x: Tensor, embedding: Tensor) -> Tensor {
        let n = config.patches, g = config.grid, p = config.patchSize
        var h = x.layerNorm(weight: nil, bias: nil, eps: config.decoder.eps)
        if let headModulation {
            // (shift, scale), shift first, one embedding per image.
            let rows = headModulation(embedding.activated(.silu))
            let d = config.decoder.dim
            for bi in 0..<h.shape[0] {
                for li in 0..<n {
                    let base = (bi * n + li) * d
                    for j in 0..<d {
                        h.scalars[base + j] =
                            h.scalars[base + j] * (1 + rows.scalars[bi * 2 * d + d + j])
                            + rows.scalars[bi * 2 * d + j]
                    }
                }
            }
        }
        let out = head(h)  // [B, N, p·p·C], (p0 p1 c)
        return out.unpatchified(patchSize: p, gridHeight: g, gridWidth: g, channels: config.latentChannels)
    }
}

// MARK: - Model

/// A FlexTok tokenizer: images → 1…256 FSQ ids (any prefix decodes) → images by rectified-flow
/// sampling with guidance, as upstream's `tokenize` / `detokenize`.
public struct FlexTok: ImageTokenizer {
    /// Sizes and variants as the checkpoint's config and tensors state them.
    public let config: FlexTokConfig
    /// Family `flextok`: `[R]` tokens of `∏ levels` ids, variable length, output in `-1...1`.
    public let descriptor: TokenizerDescriptor
    let vae: AutoencoderKL
    let encoder: FlexTokEncoder
    let decoder: FlexTokDecoder
    let fsq: FSQ

    /// Upstream's README decoding settings.
    public static let defaultSteps = 20
    /// Upstream's README guidance scale (with APG).
    public static let defaultGuidance: Float = 7.5

    /// Loads `model.safetensors` (config in its `__metadata__`, or `config.json` beside it).
    /// - Throws: ``ModelConfigError`` for the config, `WeightLoadError` listing every key problem.
    public init(directory: URL) throws {
        let checkpoint = try Checkpoint(directory: directory)
        // Activation-checkpointed blocks saved without torch's unwrapping carry an extra segment.
        let wrapped = Set(
            checkpoint.names.compactMap { name in
                name.range(of: "._checkpoint_wrapped_module.").map { String(name[..<$0.upperBound]) }
            })
        let loader = try WeightLoader(
            checkpoint,
            renames: wrapped.map { ($0, String($0.dropLast("_checkpoint_wrapped_module.".count))) })
        let (tree, path) = try FlexTokConfig.tree(directory: directory, metadata: checkpoint.metadata)
        let vaeConfig = directory.appendingPathComponent("vae/config.json")
        let hubScale =
            FileManager.default.fileExists(atPath: vaeConfig.path)
            ? try AutoencoderKLConfig(configFile: vaeConfig).scalingFactor.map(Double.init) : nil
        let config = try FlexTokConfig(tree: tree, path: path, weights: loader.root, vaeScalingFactor: hubScale)
        try self.init(config: config, loader: loader, modelID: directory.lastPathComponent)
    }

    /// Binds a loader's tensors (the original key names) to `config`; `.random` weights for benchmarks.
    public init(config: FlexTokConfig, loader: WeightLoader, modelID: String) throws {
        self.config = config
        descriptor = TokenizerDescriptor(
            family: "flextok", modelID: modelID, inputSize: PixelSize(config.imageSize),
            tokenShape: [config.registers], vocabularySizes: [config.levels.reduce(1, *)], variableLength: true,
            outputRange: -1...1, noiseShape: [config.latentChannels, config.latentSize, config.latentSize])
        let w = loader.root
        try config.vae.validate(path: loader.checkpoint?.path ?? modelID, weights: w["vae.vae"])
        vae = try AutoencoderKL(w["vae.vae"], config: config.vae)
        encoder = try FlexTokEncoder(w, config: config)
        decoder = try FlexTokDecoder(w, config: config)
        fsq = try FSQ(levels: config.levels)
        try loader.finish()
    }

    /// Upstream's demo transform: shorter side to the image size (PIL bilinear, antialiased),
    /// centre crop, [−1, 1].
    public var preprocessing: Preprocessing {
        Preprocessing(
            resize: .shorterSide(config.imageSize), filter: .bilinear, centerCrop: PixelSize(config.imageSize),
            normalization: .symmetric)
    }

    // MARK: stages

    /// The VAE posterior's parameters `[B, 2C, h, w]` for images `[B, 3, S, S]` in [−1, 1].
    public func posterior(_ pixels: Tensor) -> DiagonalGaussian {
        DiagonalGaussian(parameters: vae.encode(pixels), axis: 1)
    }

    /// Register latents `[B, R, levels]` (before FSQ) for scaled VAE latents `[B, C, h, w]`.
    public func registerLatents(_ latents: Tensor) -> Tensor { encoder(latents) }

    /// FSQ ids `[B][R]` of register latents `[B, R, levels]`.
    public func quantize(_ registers: Tensor) throws -> [[Int]] {
        let (b, r) = (registers.shape[0], registers.shape[1])
        let ids = try fsq.encode(registers.reshaped([b * r, config.levels.count])).ids
        return (0..<b).map { Array(ids[($0 * r)..<(($0 + 1) * r)]) }
    }

    /// The decoder's conditioning `[B, R, D]` for id prefixes (padded with id 0, then masked).
    public func conditioning(_ ids: [[Int]]) throws -> Tensor {
        let r = config.registers
        let padded = ids.flatMap { $0 + [Int](repeating: 0, count: r - $0.count) }
        let codes = try fsq.decode(padded).reshaped([ids.count, r, config.levels.count])
        return decoder.conditioning(codes, keep: ids.map(\.count))
    }

    /// The unconditional pass's registers for `count` token sets: one token per set, standing for
    /// `multiplicity` identical slots (pass both to ``velocity(_:time:registers:multiplicity:)``).
    public func nullConditioning(count: Int) -> (registers: Tensor, multiplicity: Int) {
        decoder.nullConditioning(batch: count)
    }

    /// One decoder evaluation: the velocity `[B, C, h, w]` at noised latents, times `[B]`, registers
    /// `[B, r, D]` (each token standing for `multiplicity` identical slots).
    public func velocity(_ noised: Tensor, time: [Float], registers: Tensor, multiplicity: Int = 1) -> Tensor {
        decoder(noised, time: time, registers: registers, multiplicity: multiplicity)
    }

    /// Euler rectified-flow sampling from `noise` `[B, C, h, w]` (t = 1 → 0 in `steps` uniform steps)
    /// with guidance; returns the clean scaled latents. `progress` is called after each step.
    public func sample(
        noise: Tensor, conditioning: Tensor, steps: Int, guidance: Float, mode: GuidanceMode,
        progress: ((Int) -> Void)? = nil
    ) -> Tensor {
        let b = noise.shape[0], per = noise.count / max(1, b)
        let guided = guidance != 1
        let null = decoder.nullConditioning(batch: b)
        var x = noise
        var momentum = [Float](repeating: 0, count: guided && mode == .apg ? noise.count : 0)
        let dt = Float(1.0 / Double(steps))
        for i in stride(from: steps, through: 1, by: -1) {
            let t = Float(Double(i) / Double(steps))
            var v: Tensor
            if !guided {
                v = decoder(x, time: [Float](repeating: t, count: b), registers: conditioning)
            } else {
                // The unconditional pass runs on its one compressed register token (patches + 1).
                // Both passes through the trunk together: each linear layer runs once per step.
                let pair = decoder.velocities(
                    x, time: [Float](repeating: t, count: b),
                    registerSets: [(conditioning, 1), (null.registers, null.multiplicity)])
                let (vc, vu) = (pair[0], pair[1])
                v = vc
                switch mode {
                case .cfg:
                    for j in 0..<v.count { v.scalars[j] = vu.scalars[j] + guidance * (vc.scalars[j] - vu.scalars[j]) }
                case .apg:
                    for item in 0..<b {
                        Self.adaptiveProjectedGuidance(
                            &v.scalars, cond: vc.scalars, uncond: vu.scalars, momentum: &momentum,
                            range: (item * per)..<((item + 1) * per), guidance: guidance)
                    }
                }
            }
            for j in 0..<x.count { x.scalars[j] = x.scalars[j] - dt * v.scalars[j] }
            progress?(steps - i + 1)
        }
        return x
    }

    /// `normalized_guidance` of upstream's `cfg_utils.py` for one image: momentum −0.5 on the
    /// difference (the buffer keeps the unclamped average), norm clamp 2.5, projection in float64,
    /// the orthogonal part only (eta 0).
    static func adaptiveProjectedGuidance(
        _ out: inout [Float], cond: [Float], uncond: [Float], momentum: inout [Float], range: Range<Int>,
        guidance: Float
    ) {
        var diff = [Float](repeating: 0, count: range.count)
        var squares: Double = 0
        for (k, j) in range.enumerated() {
            let average = (cond[j] - uncond[j]) + -0.5 * momentum[j]
            momentum[j] = average
            diff[k] = average
            squares += Double(average) * Double(average)
        }
        let scale = Swift.min(1, 2.5 / Float(squares.squareRoot()))
        var condNorm: Double = 0
        for j in range { condNorm += Double(cond[j]) * Double(cond[j]) }
        condNorm = Swift.max(condNorm.squareRoot(), 1e-12)
        var dot: Double = 0
        for (k, j) in range.enumerated() {
            diff[k] *= scale
            dot += Double(diff[k]) * (Double(cond[j]) / condNorm)
        }
        for (k, j) in range.enumerated() {
            let parallel = dot * (Double(cond[j]) / condNorm)
            let update = Float(Double(diff[k]) - parallel) + 0 * Float(parallel)
            out[j] = cond[j] + (guidance - 1) * update
        }
    }

    /// Images `[B, 3, S, S]` (not clamped) for clean scaled latents.
    public func decodeLatents(_ latents: Tensor) -> Tensor {
        vae.decode(latents * (1 / config.scalingFactor))
    }

    // MARK: ImageTokenizer

    /// FSQ ids, `options.batchSize` images per pass; the VAE posterior's mode, or a sample with
    /// `options.seed` (one stream per image, keyed by its pixels).
    public func encode(preprocessed images: [Tensor], options: EncodeOptions) throws -> [Tokens] {
        let s = config.imageSize
        if let bad = images.first(where: { $0.shape != [3, s, s] }) {
            throw TokenizerError("\(modelID) takes preprocessed images of shape [3, \(s), \(s)], got \(bad.shape)")
        }
        try options.checkSampleKeys(images: images.count)
        if let k = options.tokenLimit, !(1...config.registers).contains(k) {
            throw TokenizerError("token limit \(k) is outside 1...\(config.registers) for \(modelID)")
        }
        let batchSize = max(1, options.batchSize), vocabulary = config.levels.reduce(1, *)
        var out: [Tokens] = []
        for start in stride(from: 0, to: images.count, by: batchSize) {
            let range = start..<min(images.count, start + batchSize)
            // The VAE encodes one image at a time (as in decoding: its 256² convolutions are wide
            // GEMMs already, and a batch's activations set the peak); the trunk takes the batch.
            let z = Tensor.concatenate(
                range.map { i in
                    let one = posterior(images[i].reshaped([1] + images[i].shape))
                    return options.draw(one, images: images, range: i..<(i + 1))
                }, axis: 0)
            for ids in try quantize(registerLatents(z * config.scalingFactor)) {
                let kept = Array(ids.prefix(options.tokenLimit ?? ids.count))
                out.append(Tokens(ids: kept, shape: [kept.count], vocabularySizes: [vocabulary], model: modelID))
            }
        }
        return out
    }

    /// Reconstructions `[3, S, S]` in about [−1, 1] (not clamped). Each token set decodes its own
    /// prefix; `options.steps` (20), `guidanceScale` (7.5) and `guidanceMode` (APG) default to
    /// upstream's README settings; the initial noise is `options.noise[i]` or drawn from
    /// `options.seed` (0) and the token set itself.
    public func decode(_ tokens: [Tokens], options: DecodeOptions) throws -> [Tensor] {
        guard options.conditioning == nil else { throw TokenizerError("\(modelID) takes no conditioning") }
        let steps = options.steps ?? Self.defaultSteps, guidance = options.guidanceScale ?? Self.defaultGuidance
        guard (1...1000).contains(steps) else { throw TokenizerError("steps must be in 1...1000, got \(steps)") }
        guard guidance.isFinite else { throw TokenizerError("guidance scale must be finite") }
        if let k = options.tokenLimit, !(1...config.registers).contains(k) {
            throw TokenizerError("token limit \(k) is outside 1...\(config.registers) for \(modelID)")
        }
        let c = config.latentChannels, h = config.latentSize
        if let noise = options.noise {
            guard noise.count == tokens.count else {
                throw TokenizerError("\(noise.count) noise tensors for \(tokens.count) token sets")
            }
            if let bad = noise.first(where: { $0.count != c * h * h }) {
                throw TokenizerError("noise must be [\(c), \(h), \(h)] per token set, got \(bad.shape)")
            }
        }
        let ids = try tokens.map { try validate($0, limit: options.tokenLimit) }
        let batchSize = max(1, options.batchSize)
        var out: [Tensor] = []
        for start in stride(from: 0, to: tokens.count, by: batchSize) {
            let range = start..<min(tokens.count, start + batchSize)
            let noise = Tensor.concatenate(
                range.map { i in
                    if let given = options.noise?[i] { return given.reshaped([1, c, h, h]) }
                    var random = SeededRandom(
                        seed: options.seed ?? 0, sample: SampleKey.of(ids: ids[i], shape: [ids[i].count]))
                    return Tensor(shape: [1, c, h, h], scalars: random.normals(c * h * h))
                }, axis: 0)
            let latents = sample(
                noise: noise, conditioning: try conditioning(Array(ids[range])), steps: steps, guidance: guidance,
                mode: options.guidanceMode ?? .apg)
            // The VAE decodes one image at a time: at 256² its convolutions are wide GEMMs already,
            // and a batch's VAE activations would set the whole decode's peak memory.
            for i in 0..<range.count {
                let image = decodeLatents(latents.slice(axis: 0, i..<(i + 1)))
                out.append(image.reshaped([3, config.imageSize, config.imageSize]))
            }
        }
        return out
    }

    /// The ids of a token set to decode (its first `limit`), checked against the model.
    private func validate(_ t: Tokens, limit: Int?) throws -> [Int] {
        let vocabulary = config.levels.reduce(1, *)
        guard t.shape.count == 1, (1...config.registers).contains(t.positions), t.ids.count == t.positions else {
            throw TokenizerError(
                "token set has shape \(t.shape); \(modelID) decodes [k] ids with 1 ≤ k ≤ \(config.registers)")
        }
        if let bad = t.ids.first(where: { $0 < 0 || $0 >= vocabulary }) {
            throw TokenizerError("token id \(bad) is outside \(modelID)'s codebook (0..<\(vocabulary))")
        }
        return Array(t.ids.prefix(limit ?? t.ids.count))
    }
}

extension FlexTok {
    /// The VAE's activations and the trunk's (the decoder's twice: both guidance passes run
    /// together), per image of the batch; the VAE runs on one image at a time.
    public func workingMemory(batch: Int, decoding: Bool) -> Int {
        let vae = self.vae.activationBytes(height: config.imageSize, width: config.imageSize)
        func trunk(_ t: FlexTokConfig.Trunk) -> Int {
            TransformerStack.activationBytes(
                tokens: config.patches + config.registers, width: t.dim, mlpHidden: t.mlpHidden)
        }
        let input = 4 * 3 * config.imageSize * config.imageSize
        if decoding { return batch * input + max(vae.decode, batch * 2 * trunk(config.decoder)) }
        return batch * input + max(vae.encode, batch * trunk(config.encoder))
    }

    /// Floating-point operations per image of ``encode(preprocessed:options:)`` and of one
    /// ``decode(_:options:)`` at `steps` steps with guidance (a conditional pass and the compressed
    /// unconditional one per step) or without: linear layers, attention and the VAE.
    public func flops(steps: Int, guided: Bool) -> (encode: Double, decode: Double) {
        func trunk(_ t: FlexTokConfig.Trunk, tokens l: Int) -> Double {
            let d = Double(t.dim), n = Double(l), h = Double(t.mlpHidden)
            let adaLN = t.adaLNExpansion > 0 ? 2 * d * Double(t.adaLNExpansion * 6) * d : 0
            return Double(t.depth) * (2 * n * (4 * d * d + 3 * d * h) + 4 * n * n * d + adaLN)
        }
        let vae = self.vae.flops(height: config.imageSize, width: config.imageSize)
        let encode = vae.encode + trunk(config.encoder, tokens: config.patches + config.registers)
        let conditional = trunk(config.decoder, tokens: config.patches + config.registers)
        let unconditional = guided ? trunk(config.decoder, tokens: config.patches + 1) : 0
        return (encode, vae.decode + Double(steps) * (conditional + unconditional))
    }
}
