/// Which attention probabilities to hand back besides the attention output. Maps nobody
/// asked for are never kept.
public enum AttentionStatistics: Sendable, Equatable {
    /// No maps: only the attention output.
    case none
    /// Every map: `[B, H, Nq, Nk]`.
    case full
    /// The given query rows (e.g. `[0]` for the CLS row): `[B, H, rows, Nk]`.
    case rows([Int])
    /// Mean over queries of each key column: `[B, H, Nk]`.
    case columnMeans

    func statsShape(b: Int, h: Int, nq: Int, nk: Int) -> [Int]? {
        switch self {
        case .none: return nil
        case .full: return [b, h, nq, nk]
        case .rows(let r): return [b, h, r.count, nk]
        case .columnMeans: return [b, h, nk]
        }
    }
}

/// Strided views of one attention problem: for batch `bi` and head `hi`, the first element of
/// its q/k/v rows and of its output rows, with row strides (elements).
struct AttentionLayout {
    var b, h, nq, nk, d, dv: Int
    var q: (Int, Int) -> Int, ldq: Int
    var k: (Int, Int) -> Int, ldk: Int
    var v: (Int, Int) -> Int, ldv: Int
    var o: (Int, Int) -> Int, ldo: Int
}

/// Query rows per block: the block's scores (`rows × Nk`) stay in L2, and under a prefix mask
/// (causal, or FlexTok's causal-over-registers) each block multiplies only the keys it can see.
private let attentionBlockRows = 64

/// For each query row, the end of its visible keys when every row of `mask` sees exactly a prefix
/// of the keys (`0..<end`); nil for any other mask.
private func prefixLengths(_ mask: [Bool], nq: Int, nk: Int) -> [Int]? {
    var ends = [Int](repeating: 0, count: nq)
    for qi in 0..<nq {
        let row = mask[(qi * nk)..<((qi + 1) * nk)]
        let end = (row.firstIndex(of: false) ?? row.endIndex) - qi * nk
        guard !row[(qi * nk + end)...].contains(true) else { return nil }
        ends[qi] = end
    }
    return ends
}

/// Runs every (batch, head) problem of `layout`, heads in parallel with single-threaded GEMMs,
/// in blocks of query rows.
private func attend(
    _ layout: AttentionLayout, q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
    out: UnsafeMutablePointer<Float>, scale: Float, bias: Tensor?, mask: [Bool]?,
    statistics: AttentionStatistics
) -> [Float] {
    let (b, h, nq, nk) = (layout.b, layout.h, layout.nq, layout.nk)
    if let bias { _ = broadcastShapes(bias.shape, [b, h, nq, nk]) }
    precondition(mask == nil || mask!.count == nq * nk, "attention mask must have Nq * Nk entries")
    let biasStrides = bias.map { broadcastStrides($0.shape, to: [b, h, nq, nk]) }
    let statsCount = statistics.statsShape(b: b, h: h, nq: nq, nk: nk)?.reduce(1, *) ?? 0
    // Row ends of a prefix mask; any other mask is applied element by element.
    let ends = mask.flatMap { prefixLengths($0, nq: nq, nk: nk) }
    let elementMask = ends == nil ? mask : nil
    let normalize = statistics != .none
    var stats = [Float](repeating: 0, count: statsCount)
    stats.withUnsafeMutableBufferPointer { statsBuf in
        let ctx = UncheckedSendable(
            (q, k, v, out, statsBuf.baseAddress, bias?.scalars, biasStrides, elementMask, layout))
        parallelChunks(b * h) { range in
            let (q, k, v, out, statsPtr, biasValues, bst, mask, L) = ctx.value
            let blockRows = max(1, min(attentionBlockRows, nq))  // nq 0: no rows, no zero stride
            let scores = UnsafeMutablePointer<Float>.allocate(capacity: blockRows * nk)
            var factors = [Float](repeating: 0, count: blockRows)
            defer { scores.deallocate() }
            for head in range {
                let bi = head / h, hi = head % h
                for r0 in Swift.stride(from: 0, to: nq, by: blockRows) {
                    let rows = min(blockRows, nq - r0)
                    // Keys this block sees; the scores' row stride.
                    let keys = ends.map { $0[r0..<(r0 + rows)].max() ?? 0 } ?? nk
                    let o = out + L.o(bi, hi) + r0 * L.ldo
                    guard keys > 0 else {
                        for i in 0..<rows { (o + i * L.ldo).update(repeating: 0, count: L.dv) }
                        continue
                    }
                    BLAS.call(
                        false, true, rows, keys, L.d, scale, q + L.q(bi, hi) + r0 * L.ldq, L.ldq, k + L.k(bi, hi),
                        L.ldk, 0, scores, keys)
                    for i in 0..<rows {
                        let qi = r0 + i, r = scores + i * keys
                        if let biasValues, let bst {
                            let base = bi * bst[0] + hi * bst[1] + qi * bst[2]
                            for j in 0..<keys { r[j] += biasValues[base + j * bst[3]] }
                        }
                        if let ends { for j in ends[qi]..<keys { r[j] = -.infinity } }
                        if let mask { for j in 0..<nk where !mask[qi * nk + j] { r[j] = -.infinity } }
                        // Without maps to hand back, 1 / sum scales the output row (Dv values), not
                        // the probabilities (Nk values).
                        if normalize { softmaxRow(r, keys) } else { factors[i] = exponentiateRow(r, keys) }
                    }
                    BLAS.call(false, false, rows, L.dv, keys, 1, scores, keys, v + L.v(bi, hi), L.ldv, 0, o, L.ldo)
                    guard normalize, let s = statsPtr else {
                        for i in 0..<rows {
                            let f = factors[i], row = o + i * L.ldo
                            for j in 0..<L.dv { row[j] *= f }
                        }
                        continue
                    }
                    switch statistics {
                    case .none: break  // not reached: `normalize` is false
                    case .full:
                        for i in 0..<rows {
                            (s + (head * nq + r0 + i) * nk).update(from: scores + i * keys, count: keys)
                        }
                    case .rows(let wanted):
                        for (ri, qi) in wanted.enumerated() where (r0..<(r0 + rows)).contains(qi) {
                            (s + (head * wanted.count + ri) * nk).update(from: scores + (qi - r0) * keys, count: keys)
                        }
                    case .columnMeans:
                        let dst = s + head * nk
                        for i in 0..<rows { for j in 0..<keys { dst[j] += scores[i * keys + j] } }
                    }
                }
                if case .columnMeans = statistics, let s = statsPtr {
                    for j in 0..<nk { s[head * nk + j] /= Float(nq) }
                }
            }
        }
    }
    return stats
}

/// Scaled dot-product attention (`F.scaled_dot_product_attention` semantics).
///
/// - Parameters:
///   - q: `[B, H, Nq, D]`; `k`: `[B, H, Nk, D]`; `v`: `[B, H, Nk, Dv]`.
///   - bias: added to the scores, broadcastable to `[B, H, Nq, Nk]`.
///   - mask: `Nq · Nk` booleans (true = attend), shared by every batch and head.
///   - scale: defaults to `1 / sqrt(D)`.
/// - Returns: the output `[B, H, Nq, Dv]` and the requested probabilities.
public func scaledDotProductAttention(
    q: Tensor, k: Tensor, v: Tensor, bias: Tensor? = nil, mask: [Bool]? = nil,
    scale: Float? = nil, statistics: AttentionStatistics = .none
) -> (output: Tensor, probabilities: Tensor?) {
    precondition(q.rank == 4 && k.rank == 4 && v.rank == 4, "attention needs [B, H, N, D] tensors")
    let (b, h, nq, d) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3])
    let nk = k.shape[2], dv = v.shape[3]
    precondition(
        k.shape == [b, h, nk, d] && v.shape[0...2] == [b, h, nk],
        "attention: q \(q.shape), k \(k.shape), v \(v.shape) do not fit")
    let layout = AttentionLayout(
        b: b, h: h, nq: nq, nk: nk, d: d, dv: dv,
        q: { ($0 * h + $1) * nq * d }, ldq: d, k: { ($0 * h + $1) * nk * d }, ldk: d,
        v: { ($0 * h + $1) * nk * dv }, ldv: dv, o: { ($0 * h + $1) * nq * dv }, ldo: dv)
    var output = [Float](repeating: 0, count: b * h * nq * dv)
    let stats = q.scalars.withUnsafeBufferPointer { qp in
        k.scalars.withUnsafeBufferPointer { kp in
            v.scalars.withUnsafeBufferPointer { vp in
                output.withUnsafeMutableBufferPointer { op in
                    attend(
                        layout, q: qp.baseAddress!, k: kp.baseAddress!, v: vp.baseAddress!, out: op.baseAddress!,
                        scale: scale ?? 1 / Float(d).squareRoot(), bias: bias, mask: mask, statistics: statistics)
                }
            }
        }
    }
    let probabilities = statistics.statsShape(b: b, h: h, nq: nq, nk: nk).map { Tensor(shape: $0, scalars: stats) }
    return (Tensor(shape: [b, h, nq, dv], scalars: output), probabilities)
}

/// Multi-head self-attention straight from packed projections, without splitting or
/// permuting them: `qkv` is `[B, N, 3·D]` laid out (q | k | v), each of `heads` contiguous
/// slices of `D / heads` (timm's `qkv`, torch's `in_proj`, concatenated HF q/k/v projections).
/// Returns `[B, Nq, D]` with the heads merged, ready for the output projection. `scale` defaults to
/// `1 / sqrt(D / heads)`.
///
/// `queries` limits the output to those query rows (every key still attends; nil: all `N`), for
/// a last layer whose other rows are never read. `mask` and `bias` then still describe all `N`
/// rows (a bias must broadcast over queries); statistics count rows within `queries`.
public func packedSelfAttention(
    _ qkv: Tensor, heads: Int, bias: Tensor? = nil, mask: [Bool]? = nil, scale: Float? = nil,
    statistics: AttentionStatistics = .none, queries: Range<Int>? = nil
) -> (output: Tensor, probabilities: Tensor?) {
    precondition(
        qkv.rank == 3 && qkv.shape[2] % (3 * heads) == 0,
        "packed qkv must be [B, N, 3·D] with D divisible by heads, got \(qkv.shape)")
    let (b, n) = (qkv.shape[0], qkv.shape[1])
    let rows = queries ?? 0..<n
    precondition(rows.lowerBound >= 0 && rows.upperBound <= n, "attention queries \(rows) outside 0..<\(n)")
    precondition(
        queries == nil || bias == nil || bias!.rank < 2 || bias!.shape[bias!.rank - 2] == 1,
        "a bias must broadcast over queries when only some query rows are computed")
    let dim = qkv.shape[2] / 3, hd = dim / heads, nq = rows.count, q0 = rows.lowerBound
    let row = 3 * dim
    let layout = AttentionLayout(
        b: b, h: heads, nq: nq, nk: n, d: hd, dv: hd,
        q: { ($0 * n + q0) * row + $1 * hd }, ldq: row, k: { $0 * n * row + dim + $1 * hd }, ldk: row,
        v: { $0 * n * row + 2 * dim + $1 * hd }, ldv: row, o: { $0 * nq * dim + $1 * hd }, ldo: dim)
    let rowMask = mask.map { queries == nil ? $0 : Array($0[(q0 * n)..<(rows.upperBound * n)]) }
    var output = [Float](repeating: 0, count: b * nq * dim)
    let stats = qkv.scalars.withUnsafeBufferPointer { p in
        output.withUnsafeMutableBufferPointer { op in
            attend(
                layout, q: p.baseAddress!, k: p.baseAddress!, v: p.baseAddress!, out: op.baseAddress!,
                scale: scale ?? 1 / Float(hd).squareRoot(), bias: bias, mask: rowMask, statistics: statistics)
        }
    }
    let probabilities = statistics.statsShape(b: b, h: heads, nq: nq, nk: n).map { Tensor(shape: $0, scalars: stats) }
    return (Tensor(shape: [b, nq, dim], scalars: output), probabilities)
}
