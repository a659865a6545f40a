import Foundation
import TesseraCore
import TesseraNN

/// A quantizer that maps rows `[M, D]` to `idsPerRow` ids each and back.
public protocol RowQuantizer: Sendable {
    /// Input channels per row.
    var inputDimension: Int { get }
    /// Ids each input row becomes.
    var idsPerRow: Int { get }
    /// Vocabulary size of each id.
    var vocabularySize: Int { get }
    /// Ids `[M · idsPerRow]`, row-major.
    func quantizeRows(_ x: Tensor) throws -> [Int]
    /// Codes `[M, D]` for row-major ids.
    func dequantizeRows(_ ids: [Int]) throws -> Tensor
}

extension MultiHeadVectorQuantizer: RowQuantizer {
    /// The input width: `project_in`'s, else `heads × codebookDimension`.
    public var inputDimension: Int { projectIn?.inFeatures ?? codebookDimension * heads }
    /// One id per head.
    public var idsPerRow: Int { heads }
    /// Codewords per codebook.
    public var vocabularySize: Int { codebookSize }
    /// Ids laid out `(position, head)`, as ``encode(_:)`` returns them.
    public func quantizeRows(_ x: Tensor) throws -> [Int] { try encode(x).ids }
    /// Output codes for ids laid out `(position, head)`; see ``decode(_:)``.
    public func dequantizeRows(_ ids: [Int]) throws -> Tensor { try decode(ids) }
}

extension ResidualVectorQuantizer: RowQuantizer {
    /// The input width: `project_in`'s, else the codebooks'.
    public var inputDimension: Int { projectIn?.inFeatures ?? layers[0].dimension }
    /// One id per layer.
    public var idsPerRow: Int { layers.count }
    /// Codewords in the first layer's codebook.
    public var vocabularySize: Int { layers[0].size }
    /// Ids laid out `(position, layer)`, as ``encode(_:)`` returns them.
    public func quantizeRows(_ x: Tensor) throws -> [Int] { try encode(x).ids }
    /// Output codes for ids laid out `(position, layer)`; see ``decode(_:)``.
    public func dequantizeRows(_ ids: [Int]) throws -> Tensor { try decode(ids) }
}

extension GroupedResidualVectorQuantizer: RowQuantizer {
    /// The input width: the sum of the groups' widths.
    public var inputDimension: Int { groups.reduce(0) { $0 + $1.inputDimension } }
    /// One id per layer of every group: `groups × layers`.
    public var idsPerRow: Int { groups.count * groups[0].layers.count }
    /// Codewords in the first group's first codebook.
    public var vocabularySize: Int { groups[0].layers[0].size }
    /// Row-major `(position, group, layer)` (the package returns `(group, position, layer)`).
    public func quantizeRows(_ x: Tensor) throws -> [Int] {
        let ids = try encode(x).ids, g = groups.count, q = groups[0].layers.count, m = x.shape[0]
        var out = [Int](repeating: 0, count: ids.count)
        for gi in 0..<g { for r in 0..<m { for l in 0..<q { out[(r * g + gi) * q + l] = ids[(gi * m + r) * q + l] } } }
        return out
    }
    /// Output codes `[M, dim]` for row-major `(position, group, layer)` ids.
    /// - Throws: ``QuantizerError`` when the count is not a multiple of ``idsPerRow`` or an id is out of range.
    public func dequantizeRows(_ ids: [Int]) throws -> Tensor {
        let g = groups.count, q = groups[0].layers.count
        guard ids.count % (g * q) == 0 else {
            throw QuantizerError("\(ids.count) ids do not split into rows of \(g * q)")
        }
        let m = ids.count / (g * q)
        var packed = [Int](repeating: 0, count: ids.count)
        for gi in 0..<g {
            for r in 0..<m { for l in 0..<q { packed[(gi * m + r) * q + l] = ids[(r * g + gi) * q + l] } }
        }
        return try decode(packed)
    }
}

extension ResidualFSQ: RowQuantizer {
    /// Channels per row: the number of levels.
    public var inputDimension: Int { layer.dimension }
    /// One id per layer.
    public var idsPerRow: Int { quantizers }
    /// Ids per layer: the product of the levels.
    public var vocabularySize: Int { layer.codebookSize }
    /// Ids laid out `(position, layer)`, as ``encode(_:)`` returns them.
    public func quantizeRows(_ x: Tensor) throws -> [Int] { try encode(x).ids }
    /// Summed codes for ids laid out `(position, layer)`; see ``decode(_:)``.
    public func dequantizeRows(_ ids: [Int]) throws -> Tensor { try decode(ids) }
}

extension ResidualLFQ: RowQuantizer {
    /// Channels per row.
    public var inputDimension: Int { layers[0].dimension }
    /// One id per layer.
    public var idsPerRow: Int { layers.count }
    /// Ids per layer: 2^dimension.
    public var vocabularySize: Int { layers[0].codebookSize }
    /// Ids laid out `(position, layer)`, as ``encode(_:)`` returns them.
    public func quantizeRows(_ x: Tensor) throws -> [Int] { try encode(x).ids }
    /// Summed codes for ids laid out `(position, layer)`; see ``decode(_:)``.
    public func dequantizeRows(_ ids: [Int]) throws -> Tensor { try decode(ids) }
}

extension BinaryQuantizer: RowQuantizer {
    /// Logits per row: one per bit.
    public var inputDimension: Int { bits }
    /// One id per row, packing all its bits.
    public var idsPerRow: Int { 1 }
    /// 2^bits.
    public var vocabularySize: Int { 1 << bits }
    /// Ids for logits `[M, bits]`; see ``encode(_:)``.
    public func quantizeRows(_ x: Tensor) throws -> [Int] { try encode(x) }
    /// Embeddings `[M, dim]` (not bits) for ids; see ``decode(_:)``.
    public func dequantizeRows(_ ids: [Int]) throws -> Tensor { try decode(ids) }
}

/// A quantizer described by a small JSON file next to its weights:
///
/// ```json
/// {"type": "residual_vq", "weights": "rvq.safetensors", "prefix": "", "dim": 16,
///  "codebook_size": 32, "num_quantizers": 3}
/// ```
///
/// Types and their fields: `vq` (dim, codebook_size, codebook_dim, heads,
/// separate_codebook_per_head, use_cosine_sim), `residual_vq` (dim, codebook_size,
/// num_quantizers), `grouped_residual_vq` (+ groups), `residual_fsq` (levels, num_quantizers),
/// `residual_lfq` (dim, num_quantizers), `binary` (weights hold `embed` [bits, dim]),
/// `unitok` (codebooks, codebook_size, codebook_dim). Weights are bound strictly by the
/// vector-quantize-pytorch / UniTok key names under `prefix`.
public enum QuantizerFile {
    struct Description: Decodable {
        var type: String
        var weights: String?
        var prefix: String?
        var dim: Int?
        var codebook_size: Int?
        var codebook_dim: Int?
        var heads: Int?
        var separate_codebook_per_head: Bool?
        var use_cosine_sim: Bool?
        var num_quantizers: Int?
        var groups: Int?
        var levels: [Int]?
        var codebooks: Int?
    }

    /// Builds the quantizer a JSON description names, binding its weights strictly.
    /// - Parameter url: The description; `weights` is resolved relative to its folder.
    /// - Returns: The quantizer, as a ``RowQuantizer``.
    /// - Throws: ``QuantizerError`` when the file is not a valid description, lacks a field its type needs,
    ///   names an unknown type, describes an invalid quantizer, or its weights do not bind exactly (missing,
    ///   unused or mis-shaped keys); the checkpoint's own error when the weights cannot be opened.
    public static func load(_ url: URL) throws -> any RowQuantizer {
        let spec: Description
        do {
            spec = try JSONDecoder().decode(Description.self, from: Data(contentsOf: url))
        } catch {
            throw QuantizerError("\(url.path): not a quantizer description (\(error))")
        }
        func need<T>(_ v: T?, _ name: String) throws -> T {
            guard let v else { throw QuantizerError("\(url.path): '\(spec.type)' needs '\(name)'") }
            return v
        }
        // Every size is checked before it sizes anything: the file may say anything.
        let check = ConfigCheck(path: url.path)
        do {
            for (field, value, range) in [
                ("dim", spec.dim, 1...65536), ("codebook_size", spec.codebook_size, 1...(1 << 24)),
                ("codebook_dim", spec.codebook_dim, 1...65536), ("heads", spec.heads, 1...1024),
                ("num_quantizers", spec.num_quantizers, 1...ResidualFSQ.maxQuantizers),
                ("groups", spec.groups, 1...1024), ("codebooks", spec.codebooks, 1...1024),
            ] {
                if let value { try check.size(field, value, in: range) }
            }
        } catch let e as ModelConfigError {
            throw QuantizerError(e.description)
        }
        do {
            switch spec.type {
            case "residual_fsq":
                return try ResidualFSQ(
                    levels: try need(spec.levels, "levels"), quantizers: try need(spec.num_quantizers, "num_quantizers")
                )
            case "residual_lfq":
                return try ResidualLFQ(
                    dimension: try need(spec.dim, "dim"), quantizers: try need(spec.num_quantizers, "num_quantizers"))
            default: break
            }
        } catch let e as QuantizerError where !e.description.hasPrefix(url.path) {
            throw QuantizerError("\(url.path): \(e)")
        }
        let weights = url.deletingLastPathComponent().appendingPathComponent(try need(spec.weights, "weights"))
        let checkpoint = try Checkpoint(directory: weights)
        // The codebooks the description implies must be in the weights before any is allocated.
        let codewords = Double(spec.codebook_size ?? (spec.type == "unitok" ? 4096 : 0))
        // (a grouped residual VQ splits `dim` across its groups)
        let width = Double(spec.codebook_dim ?? spec.dim ?? (spec.type == "unitok" ? 8 : 0))
        let books = Double(
            spec.type == "unitok"
                ? spec.codebooks ?? 8
                : (spec.separate_codebook_per_head ?? false ? spec.heads ?? 1 : 1) * (spec.num_quantizers ?? 1))
        // and project_in / project_out where the codebooks' width differs from the input's
        let dim = Double(spec.dim ?? 0), inner = width * Double(spec.type == "vq" ? spec.heads ?? 1 : 1)
        let projections = ["vq", "residual_vq"].contains(spec.type) && inner != dim ? 2 * dim * inner : 0
        do {
            try check.fits(
                codewords * width * books + projections, in: checkpoint,
                fields: "codebook_size, codebook_dim, dim and the counts")
        } catch let e as ModelConfigError {
            throw QuantizerError(e.description)
        }
        let loader = try WeightLoader(checkpoint)
        let w =
            spec.prefix.map { p in WeightScope(loader: loader, prefix: p.hasSuffix(".") ? String(p.dropLast()) : p) }
            ?? loader.root
        let quantizer: any RowQuantizer
        switch spec.type {
        case "vq":
            let dim = try need(spec.dim, "dim")
            quantizer = try MultiHeadVectorQuantizer(
                w, dim: dim, codebookSize: try need(spec.codebook_size, "codebook_size"),
                codebookDim: spec.codebook_dim ?? dim, heads: spec.heads ?? 1,
                separate: spec.separate_codebook_per_head ?? false, cosine: spec.use_cosine_sim ?? false)
        case "residual_vq":
            quantizer = try ResidualVectorQuantizer(
                w, dim: try need(spec.dim, "dim"), codebookSize: try need(spec.codebook_size, "codebook_size"),
                codebookDim: spec.codebook_dim, quantizers: try need(spec.num_quantizers, "num_quantizers"))
        case "grouped_residual_vq":
            quantizer = try GroupedResidualVectorQuantizer(
                w, dim: try need(spec.dim, "dim"), groups: try need(spec.groups, "groups"),
                codebookSize: try need(spec.codebook_size, "codebook_size"),
                quantizers: try need(spec.num_quantizers, "num_quantizers"))
        case "binary":
            guard let shape = w.shape(of: "embed"), shape.count == 2 else {
                throw QuantizerError("\(weights.path): no 'embed' [bits, dim] tensor")
            }
            quantizer = try BinaryQuantizer(embedding: w.tensor("embed", shape: shape))
        case "unitok":
            quantizer = try MultiHeadVectorQuantizer.uniTok(
                w, codebooks: spec.codebooks ?? 8, size: spec.codebook_size ?? 4096, dim: spec.codebook_dim ?? 8)
        default:
            throw QuantizerError("\(url.path): unknown quantizer type '\(spec.type)'")
        }
        do { try loader.finish() } catch { throw QuantizerError("\(weights.path): \(error)") }
        return quantizer
    }
}
