/// Which attention probabilities to hand back besides the attention output. Maps nobody
/// asked for are never kept.
public enum AttentionStatistics: Sendable, Equatable {
    case none
    /// Every map: `[B, H, Nq, Nk]`.
    case full
    /// The given query rows (e.g. `[0]` for the CLS row): `[B, H, rows, Nk]`.
    case rows([Int])
    /// Mean over queries of each key column: `[B, H, Nk]`.
    case columnMeans
}

/// Scaled dot-product attention (`F.scaled_dot_product_attention` semantics).
///
/// - Parameters:
///   - q: `[B, H, Nq, D]`; `k`: `[B, H, Nk, D]`; `v`: `[B, H, Nk, Dv]`.
///   - bias: added to the scores, broadcastable to `[B, H, Nq, Nk]`.
///   - mask: `[Nq * Nk]` booleans (true = attend), shared by every batch and head.
///   - scale: defaults to `1 / sqrt(D)`.
/// - Returns: the output `[B, H, Nq, Dv]` and the requested probabilities.
public func scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, bias: Tensor? = nil, mask: [Bool]? = nil,
                                      scale: Float? = nil, statistics: AttentionStatistics = .none) -> (output: Tensor, probabilities: Tensor?) {
    precondition(q.rank == 4 && k.rank == 4 && v.rank == 4, "attention needs [B, H, N, D] tensors")
    let (b, h, nq, d) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3])
    let nk = k.shape[2], dv = v.shape[3]
    precondition(k.shape == [b, h, nk, d] && v.shape[0...2] == [b, h, nk], "attention: q \(q.shape), k \(k.shape), v \(v.shape) do not fit")
    precondition(mask == nil || mask!.count == nq * nk, "attention mask must have Nq * Nk entries")
    let s = scale ?? 1 / Float(d).squareRoot()
    let biasShape = [b, h, nq, nk]
    let biasStrides = bias.map { broadcastStrides($0.shape, to: biasShape) }
    if let bias { _ = broadcastShapes(bias.shape, biasShape) }

    var output = [Float](repeating: 0, count: b * h * nq * dv)
    var stats: [Float] = []
    switch statistics {
    case .none: break
    case .full: stats = [Float](repeating: 0, count: b * h * nq * nk)
    case .rows(let r): stats = [Float](repeating: 0, count: b * h * r.count * nk)
    case .columnMeans: stats = [Float](repeating: 0, count: b * h * nk)
    }
    // One batch element at a time bounds the score memory at H × Nq × Nk.
    var scores = [Float](repeating: 0, count: h * nq * nk)
    q.scalars.withUnsafeBufferPointer { qp in
    k.scalars.withUnsafeBufferPointer { kp in
    v.scalars.withUnsafeBufferPointer { vp in
    output.withUnsafeMutableBufferPointer { op in
    scores.withUnsafeMutableBufferPointer { sp in
        for bi in 0..<b {
            for hi in 0..<h {
                let head = bi * h + hi
                BLAS.sgemm(transposeB: true, m: nq, n: nk, k: d, alpha: s,
                           a: qp.baseAddress! + head * nq * d, lda: d, b: kp.baseAddress! + head * nk * d, ldb: d,
                           c: sp.baseAddress! + hi * nq * nk, ldc: nk)
            }
            let ctx = UncheckedSendable((sp.baseAddress!, bias?.scalars, biasStrides, mask))
            parallelChunks(h * nq, minChunk: 8) { range in
                let (sc, biasValues, bst, mask) = ctx.value
                for row in range {
                    let hi = row / nq, qi = row % nq
                    let r = sc + row * nk
                    if let biasValues, let bst {
                        let base = bi * bst[0] + hi * bst[1] + qi * bst[2]
                        for j in 0..<nk { r[j] += biasValues[base + j * bst[3]] }
                    }
                    if let mask { for j in 0..<nk where !mask[qi * nk + j] { r[j] = -.infinity } }
                    softmaxRow(r, nk)
                }
            }
            for hi in 0..<h {
                let head = bi * h + hi
                BLAS.sgemm(m: nq, n: dv, k: nk, a: sp.baseAddress! + hi * nq * nk, lda: nk,
                           b: vp.baseAddress! + head * nk * dv, ldb: dv, c: op.baseAddress! + head * nq * dv, ldc: dv)
                let probs = sp.baseAddress! + hi * nq * nk
                switch statistics {
                case .none: break
                case .full:
                    for i in 0..<(nq * nk) { stats[head * nq * nk + i] = probs[i] }
                case .rows(let rows):
                    for (ri, qi) in rows.enumerated() {
                        for j in 0..<nk { stats[(head * rows.count + ri) * nk + j] = probs[qi * nk + j] }
                    }
                case .columnMeans:
                    for qi in 0..<nq { for j in 0..<nk { stats[head * nk + j] += probs[qi * nk + j] } }
                    for j in 0..<nk { stats[head * nk + j] /= Float(nq) }
                }
            }
        }
    }}}}}
    let out = Tensor(shape: [b, h, nq, dv], scalars: output)
    switch statistics {
    case .none: return (out, nil)
    case .full: return (out, Tensor(shape: [b, h, nq, nk], scalars: stats))
    case .rows(let r): return (out, Tensor(shape: [b, h, r.count, nk], scalars: stats))
    case .columnMeans: return (out, Tensor(shape: [b, h, nk], scalars: stats))
    }
}
