import Foundation
import TesseraCore
import TesseraNN

/// `vector_quantize_pytorch.ResidualFSQ`: the input is soft-clamped (`tanh(x/c)·c`,
/// c = 1 + 1/(L−1)), then each layer — symmetric FSQ with a hard clamp — quantizes the residual
/// divided by its scale L^(−q). Ids are laid out `(position, layer)`.
public struct ResidualFSQ: Sendable {
    /// The FSQ of every layer (symmetric, hard clamp); the layers differ only in their scale.
    public let layer: FSQ
    /// Number of residual layers.
    public let quantizers: Int

    /// The most residual layers a quantizer may have (published configs use a handful; a count read
    /// from a file must not size a huge allocation).
    public static let maxQuantizers = 1024

    /// A residual FSQ with `quantizers` layers of the given levels.
    /// - Parameters:
    ///   - levels: Levels of each channel, all ≥ 2.
    ///   - quantizers: Number of residual layers, 1...``maxQuantizers``.
    /// - Throws: ``QuantizerError`` when `quantizers` is out of range or the levels are invalid.
    public init(levels: [Int], quantizers: Int) throws {
        guard (1...Self.maxQuantizers).contains(quantizers) else {
            throw QuantizerError("residual FSQ needs 1...\(Self.maxQuantizers) quantizers, got \(quantizers)")
        }
        layer = try FSQ(levels: levels, preserveSymmetry: true, hardClamp: true)
        self.quantizers = quantizers
    }

    private func scale(_ q: Int, _ j: Int) -> Float { powf(Float(layer.levels[j]), -Float(q)) }

    /// Quantizes rows: the input is soft-clamped, then each layer quantizes the scaled residual left so far.
    /// - Parameter x: Rows `[M, levels.count]`.
    /// - Returns: Ids `[M · quantizers]` laid out `(position, layer)`, and the summed codes `[M, levels.count]`.
    /// - Throws: ``QuantizerError`` when `x` is not `[M, levels.count]`.
    public func encode(_ x: Tensor) throws -> (ids: [Int], codes: Tensor) {
        let d = layer.dimension
        guard x.rank == 2, x.shape[1] == d else {
            throw QuantizerError("residual FSQ input must be [M, \(d)], got \(x.shape)")
        }
        var residual = x
        for i in 0..<residual.count {
            let c = 1 + 1 / (Float(layer.levels[i % d]) - 1)
            residual.scalars[i] = tanhf(residual.scalars[i] / c) * c
        }
        let m = x.shape[0]
        var ids = [Int](repeating: 0, count: m * quantizers)
        var total = Tensor.zeros(x.shape)
        for q in 0..<quantizers {
            var scaled = residual
            for i in 0..<scaled.count { scaled.scalars[i] /= scale(q, i % d) }
            var (layerIDs, codes) = try layer.encode(scaled)
            for i in 0..<codes.count { codes.scalars[i] *= scale(q, i % d) }
            for r in 0..<m { ids[r * quantizers + q] = layerIDs[r] }
            residual = residual - codes
            total.add(codes)
        }
        return (ids, total)
    }

    /// Summed codes for ids laid out as ``encode(_:)`` returns them.
    /// - Parameter ids: `M · quantizers` ids, `(position, layer)`.
    /// - Returns: Codes `[M, levels.count]`.
    /// - Throws: ``QuantizerError`` when the count is not a multiple of ``quantizers`` or an id is out of range.
    public func decode(_ ids: [Int]) throws -> Tensor {
        guard ids.count % quantizers == 0 else {
            throw QuantizerError("\(ids.count) ids are not a multiple of \(quantizers) layers")
        }
        let m = ids.count / quantizers, d = layer.dimension
        var total = Tensor.zeros([m, d])
        for q in 0..<quantizers {
            var codes = try layer.decode((0..<m).map { ids[$0 * quantizers + q] })
            for i in 0..<codes.count { codes.scalars[i] *= scale(q, i % d) }
            total.add(codes)
        }
        return total
    }
}

/// `vector_quantize_pytorch.ResidualLFQ`: layer q is an LFQ with codebook scale 2^(−q) on the
/// residual. Ids are laid out `(position, layer)`.
public struct ResidualLFQ: Sendable {
    /// The LFQ of each layer; layer `q` has scale 2^(−q).
    public let layers: [LFQ]

    /// A residual LFQ with `quantizers` layers of `dimension` bits each (one codebook per layer).
    /// - Parameters:
    ///   - dimension: Channels per row, at most 62.
    ///   - quantizers: Number of residual layers, at least 1.
    /// - Throws: ``QuantizerError`` when `quantizers` is below 1 or `dimension` is not in 1...62.
    public init(dimension: Int, quantizers: Int) throws {
        guard (1...ResidualFSQ.maxQuantizers).contains(quantizers) else {
            throw QuantizerError("residual LFQ needs 1...\(ResidualFSQ.maxQuantizers) quantizers, got \(quantizers)")
        }
        layers = try (0..<quantizers).map { try LFQ(dimension: dimension, scale: powf(2, -Float($0))) }
    }

    /// Quantizes rows: each layer takes the signs of the residual the previous layers left.
    /// - Parameter x: Rows `[M, dimension]`.
    /// - Returns: Ids `[M · layers.count]` laid out `(position, layer)`, and the summed codes `[M, dimension]`.
    /// - Throws: ``QuantizerError`` when `x` is not `[M, dimension]`.
    public func encode(_ x: Tensor) throws -> (ids: [Int], codes: Tensor) {
        var residual = x
        let m = x.shape[0], q = layers.count
        var ids = [Int](repeating: 0, count: m * q)
        var total = Tensor.zeros(x.shape)
        for (l, layer) in layers.enumerated() {
            let (layerIDs, codes) = try layer.encode(residual)
            for r in 0..<m { ids[r * q + l] = layerIDs[r] }
            residual = residual - codes
            total.add(codes)
        }
        return (ids, total)
    }

    /// Summed codes for ids laid out as ``encode(_:)`` returns them.
    /// - Parameter ids: `M · layers.count` ids, `(position, layer)`.
    /// - Returns: Codes `[M, dimension]`.
    /// - Throws: ``QuantizerError`` when the count is not a multiple of the layer count or an id is out of range.
    public func decode(_ ids: [Int]) throws -> Tensor {
        let q = layers.count
        guard ids.count % q == 0 else { throw QuantizerError("\(ids.count) ids are not a multiple of \(q) layers") }
        let m = ids.count / q
        var total = Tensor.zeros([m, layers[0].dimension])
        for (l, layer) in layers.enumerated() { total.add(try layer.decode((0..<m).map { ids[$0 * q + l] })) }
        return total
    }
}

/// `vector_quantize_pytorch.GroupedResidualVQ`: channels split into groups, one residual VQ
/// each, codes concatenated. Ids are laid out `(group, position, layer)`, as the package returns them.
public struct GroupedResidualVectorQuantizer: Sendable {
    /// The residual VQ of each channel group, first channels first.
    public let groups: [ResidualVectorQuantizer]

    /// A grouped residual VQ from its groups (not validated: pass at least one, all with the same layer count).
    public init(groups: [ResidualVectorQuantizer]) { self.groups = groups }

    /// Reads `rvqs.{g}.layers.{i}._codebook.embed`.
    public init(_ w: WeightScope, dim: Int, groups g: Int, codebookSize: Int, quantizers: Int) throws {
        guard g >= 1, dim % g == 0 else { throw QuantizerError("dim \(dim) does not split into \(g) groups") }
        groups = try (0..<g).map {
            try ResidualVectorQuantizer(w["rvqs"][$0], dim: dim / g, codebookSize: codebookSize, quantizers: quantizers)
        }
    }

    /// Quantizes each group's slice of the channels with its residual VQ.
    /// - Parameter x: Rows `[M, dim]`, `dim` split evenly between the groups.
    /// - Returns: Ids laid out `(group, position, layer)` and the concatenated codes `[M, dim]`.
    public func encode(_ x: Tensor) throws -> (ids: [Int], codes: Tensor) {
        let d = x.shape[1] / groups.count
        var ids: [Int] = []
        var parts: [Tensor] = []
        for (g, rvq) in groups.enumerated() {
            let (groupIDs, codes) = try rvq.encode(x.slice(axis: 1, (g * d)..<((g + 1) * d)))
            ids += groupIDs
            parts.append(codes)
        }
        return (ids, Tensor.concatenate(parts, axis: 1))
    }

    /// Concatenated codes for ids laid out as ``encode(_:)`` returns them.
    /// - Parameter ids: Ids laid out `(group, position, layer)`.
    /// - Returns: Codes `[M, dim]`.
    /// - Throws: ``QuantizerError`` when the ids do not split evenly between the groups or between a group's
    ///   layers, or an id is out of range.
    public func decode(_ ids: [Int]) throws -> Tensor {
        guard ids.count % groups.count == 0 else {
            throw QuantizerError("\(ids.count) ids do not split into \(groups.count) groups")
        }
        let per = ids.count / groups.count
        return Tensor.concatenate(
            try groups.enumerated().map { g, rvq in try rvq.decode(Array(ids[(g * per)..<((g + 1) * per)])) }, axis: 1)
    }
}
