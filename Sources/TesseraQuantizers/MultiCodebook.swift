import TesseraCore
import TesseraNN

/// `vector_quantize_pytorch.VectorQuantize` at inference: optional `project_in`/`project_out`,
/// `heads` slices of the projected channels, one shared codebook or one per head (multi-codebook
/// VQ, UniTok's layout), euclidean or cosine search. Ids are laid out `(position, head)`.
public struct MultiHeadVectorQuantizer: Sendable {
    /// Number of channel slices, each quantized to one id per position.
    public let heads: Int
    /// The codebook search of each head, or a single one shared by all heads.
    public let quantizers: [VectorQuantizer]  // one per head, or one shared
    /// `project_in`, from the input width to `heads × codebookDimension`; nil when the widths already match.
    public let projectIn: Linear?
    /// `project_out`, from `heads × codebookDimension` back to the input width; nil when the widths match.
    public let projectOut: Linear?

    /// The codebook width per head.
    public var codebookDimension: Int { quantizers[0].dimension }
    /// Codewords per codebook (the vocabulary of each id).
    public var codebookSize: Int { quantizers[0].size }

    /// A multi-head quantizer over codebooks held in memory.
    /// - Parameters:
    ///   - codebooks: `[C, K, d]` (`_codebook.embed`); C = heads when separate, else 1.
    ///   - cosine: cosine similarity (inputs l2-normalized with eps 1e-6, codebook as stored).
    public init(
        codebooks: Tensor, heads: Int, cosine: Bool, inputEps: Float = 1e-6, projectIn: Linear? = nil,
        projectOut: Linear? = nil
    ) throws {
        guard codebooks.rank == 3, codebooks.shape[0] == 1 || codebooks.shape[0] == heads else {
            throw QuantizerError("codebooks must be [1 or heads, K, d], got \(codebooks.shape) for \(heads) heads")
        }
        let (c, k, d) = (codebooks.shape[0], codebooks.shape[1], codebooks.shape[2])
        let metric: VectorQuantizer.Metric = cosine ? .cosine(inputEps: inputEps) : .euclidean(clampMin: 1e-8)
        quantizers = (0..<c).map { i in
            VectorQuantizer(codebook: codebooks.slice(axis: 0, i..<(i + 1)).reshaped([k, d]), metric: metric)
        }
        self.heads = heads
        self.projectIn = projectIn
        self.projectOut = projectOut
    }

    /// Reads a module's state dict (`_codebook.embed`, optional `project_in.*`, `project_out.*`).
    public init(
        _ w: WeightScope, dim: Int, codebookSize: Int, codebookDim: Int, heads: Int, separate: Bool, cosine: Bool
    ) throws {
        let projected = codebookDim * heads != dim
        let embed = try w.tensor("_codebook.embed", shape: [separate ? heads : 1, codebookSize, codebookDim])
        try self.init(
            codebooks: embed, heads: heads, cosine: cosine,
            projectIn: projected ? Linear(w["project_in"], in: dim, out: codebookDim * heads) : nil,
            projectOut: projected ? Linear(w["project_out"], in: codebookDim * heads, out: dim) : nil)
        for buffer in ["_codebook.embed_avg", "_codebook.cluster_size", "_codebook.initted"] {
            w.loader.skip(w.key(buffer))
        }
    }

    /// UniTok's multi-codebook quantizer (`quantizer.codebooks.{k}.codebook.weight`, stored
    /// un-normalized): the input's channel slices and the codewords are l2-normalized at use time
    /// (eps 1e-12) and matched by cosine similarity; ids `(position, codebook)`, each in its own
    /// vocabulary.
    public static func uniTok(_ w: WeightScope, codebooks: Int = 8, size: Int = 4096, dim: Int = 8) throws
        -> MultiHeadVectorQuantizer
    {
        let books = try (0..<codebooks).map { k -> Tensor in
            w.loader.skip(w["codebooks"][k].key("vocab_usage"))
            return try w["codebooks"][k].tensor("codebook.weight", shape: [size, dim]).l2Normalized(eps: 1e-12)
                .reshaped([
                    1, size, dim,
                ])
        }
        return try MultiHeadVectorQuantizer(
            codebooks: Tensor.concatenate(books, axis: 0), heads: codebooks, cosine: true, inputEps: 1e-12)
    }

    /// Ids `[M · heads]` and output codes `[M, dim]` for rows of `x`.
    public func encode(_ x: Tensor) throws -> (ids: [Int], codes: Tensor) {
        let z = projectIn.map { $0(x) } ?? x
        let d = codebookDimension, m = z.shape[0]
        guard z.rank == 2, z.shape[1] == d * heads else {
            throw QuantizerError("VQ input must be [M, \(d * heads)] after projection, got \(z.shape)")
        }
        var ids = [Int](repeating: 0, count: m * heads)
        for h in 0..<heads {
            let part = z.slice(axis: 1, (h * d)..<((h + 1) * d))
            for (r, id) in quantizers[quantizers.count == 1 ? 0 : h].encode(part).enumerated() {
                ids[r * heads + h] = id
            }
        }
        return (ids, try decode(ids))
    }

    /// Output codes `[ids.count / heads, dim]` (codes of each head concatenated, then `project_out`).
    public func decode(_ ids: [Int]) throws -> Tensor {
        guard ids.count % heads == 0 else {
            throw QuantizerError("\(ids.count) ids are not a multiple of \(heads) heads")
        }
        let m = ids.count / heads
        let parts = try (0..<heads).map { h in
            try quantizers[quantizers.count == 1 ? 0 : h].decode((0..<m).map { ids[$0 * heads + h] })
        }
        let z = Tensor.concatenate(parts, axis: 1)
        return projectOut.map { $0(z) } ?? z
    }
}

/// `vector_quantize_pytorch.ResidualVQ`: each layer quantizes what the previous ones left;
/// the output is the sum of the layers' codes. Ids are laid out `(position, layer)`; id −1
/// marks a dropped layer (zero code).
public struct ResidualVectorQuantizer: Sendable {
    /// The layers' codebook searches, first layer first.
    public let layers: [VectorQuantizer]
    /// `project_in`, from the input width to the codebook width; nil when they are equal.
    public let projectIn: Linear?
    /// `project_out`, from the codebook width back to the input width; nil when they are equal.
    public let projectOut: Linear?

    /// A residual quantizer from its layers (not validated: pass at least one layer, all of one width).
    /// - Parameters:
    ///   - layers: The codebook search of each layer, first layer first.
    ///   - projectIn: Projection applied to the input before the first layer.
    ///   - projectOut: Projection applied to the summed codes.
    public init(layers: [VectorQuantizer], projectIn: Linear? = nil, projectOut: Linear? = nil) {
        self.layers = layers
        self.projectIn = projectIn
        self.projectOut = projectOut
    }

    /// Reads a `ResidualVQ` state dict: `layers.{i}._codebook.embed` (+ projections).
    public init(
        _ w: WeightScope, dim: Int, codebookSize: Int, codebookDim: Int? = nil, quantizers: Int, cosine: Bool = false
    ) throws {
        let d = codebookDim ?? dim
        let metric: VectorQuantizer.Metric = cosine ? .cosine(inputEps: 1e-6) : .euclidean(clampMin: 1e-8)
        layers = try (0..<quantizers).map { i in
            for buffer in ["_codebook.embed_avg", "_codebook.cluster_size", "_codebook.initted"] {
                w.loader.skip(w["layers"][i].key(buffer))
            }
            return VectorQuantizer(
                codebook: try w["layers"][i].tensor("_codebook.embed", shape: [1, codebookSize, d]).reshaped([
                    codebookSize, d,
                ]), metric: metric)
        }
        projectIn = try d != dim ? Linear(w["project_in"], in: dim, out: d) : nil
        projectOut = try d != dim ? Linear(w["project_out"], in: d, out: dim) : nil
    }

    /// Quantizes rows residually: layer `l` encodes what layers `0..<l` left of the projected input.
    /// - Parameter x: Rows `[M, dim]`.
    /// - Returns: Ids `[M · layers.count]`, laid out `(position, layer)`, and output codes `[M, dim]`: the
    ///   sum of the layers' codewords, through `project_out`.
    /// - Precondition: `x` is `[M, D]` with `D` the width `project_in` (or, without it, the codebooks) takes.
    public func encode(_ x: Tensor) throws -> (ids: [Int], codes: Tensor) {
        var residual = projectIn.map { $0(x) } ?? x
        let m = residual.shape[0], q = layers.count
        var ids = [Int](repeating: 0, count: m * q)
        var total = Tensor.zeros(residual.shape)
        for (l, layer) in layers.enumerated() {
            let layerIDs = layer.encode(residual)
            let codes = try layer.decode(layerIDs)
            for r in 0..<m { ids[r * q + l] = layerIDs[r] }
            residual = residual - codes
            total.add(codes)
        }
        return (ids, projectOut.map { $0(total) } ?? total)
    }

    /// Output codes for ids laid out as ``encode(_:)`` returns them.
    /// - Parameter ids: `M · layers.count` ids, `(position, layer)`; −1 marks a dropped layer.
    /// - Returns: Codes `[M, dim]`: the sum of the kept layers' codewords, through `project_out`.
    /// - Throws: ``QuantizerError`` when the count is not a multiple of the layer count or an id is past the
    ///   end of its codebook.
    public func decode(_ ids: [Int]) throws -> Tensor {
        let q = layers.count
        guard ids.count % q == 0 else { throw QuantizerError("\(ids.count) ids are not a multiple of \(q) layers") }
        let m = ids.count / q
        var total = Tensor.zeros([m, layers[0].dimension])
        for (l, layer) in layers.enumerated() {
            let layerIDs = (0..<m).map { ids[$0 * q + l] }
            let kept = layerIDs.map { max($0, 0) }
            var codes = try layer.decode(kept)
            for (r, id) in layerIDs.enumerated() where id == -1 {
                for j in 0..<layer.dimension { codes.scalars[r * layer.dimension + j] = 0 }
            }
            total.add(codes)
        }
        return projectOut.map { $0(total) } ?? total
    }
}
