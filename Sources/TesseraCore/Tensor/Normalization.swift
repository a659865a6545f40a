#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension Tensor {
    /// LayerNorm over the last axis (`F.layer_norm`): biased variance, `eps` inside the root.
    public func layerNorm(weight: Tensor?, bias: Tensor?, eps: Float) -> Tensor {
        let d = shape.last ?? 1
        precondition(
            weight == nil || weight!.count == d, "layerNorm weight has \(weight!.count) elements, last axis is \(d)")
        precondition(bias == nil || bias!.count == d, "layerNorm bias has \(bias!.count) elements, last axis is \(d)")
        var out = [Float](repeating: 0, count: count)
        let rows = count / max(1, d)
        let w = weight?.scalars, b = bias?.scalars
        scalars.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                let p = UncheckedSendable((src.baseAddress!, dst.baseAddress!))
                parallelChunks(rows, minChunk: 32) { range in
                    let (s, o) = p.value
                    for r in range {
                        let x = s + r * d, y = o + r * d
                        // eight lanes: a single running sum would wait on every add
                        let m = Self.laneSum(x, d) { $0 } / Double(d)
                        let mean = Float(m)
                        let variance = Float(Self.laneSum(x, d) { ($0 - m) * ($0 - m) } / Double(d))
                        let inv = 1 / sqrtf(variance + eps)
                        switch (w, b) {
                        case let (w?, b?): for i in 0..<d { y[i] = (x[i] - mean) * inv * w[i] + b[i] }
                        case let (w?, nil): for i in 0..<d { y[i] = (x[i] - mean) * inv * w[i] }
                        default: for i in 0..<d { y[i] = (x[i] - mean) * inv + (b?[i] ?? 0) }
                        }
                    }
                }
            }
        }
        return Tensor(shape: shape, scalars: out)
    }

    /// GroupNorm over `[N, C, ...]` (`F.group_norm`): statistics per sample and group of
    /// `C / groups` channels, then a per-channel affine, then `activation` (fused: decoders
    /// follow every GroupNorm with SiLU, and one pass over the activations saves a round trip
    /// through memory).
    ///
    /// - Parameter modulation: SpatialNorm's (Emu3, MoVQ): `[N, 2C, h, w]` on a grid whose sides divide
    ///   the input's `[N, C, H, W]`; after the affine each value is multiplied by channel `c` and
    ///   shifted by channel `C + c` of its nearest modulation pixel, before the activation.
    public func groupNorm(
        groups: Int, weight: Tensor?, bias: Tensor?, eps: Float, modulation: Tensor? = nil,
        activation: Activation = .identity
    ) -> Tensor {
        precondition(rank >= 2, "groupNorm needs [N, C, ...], got \(shape)")
        let n = shape[0], c = shape[1]
        precondition(groups > 0 && c % groups == 0, "groupNorm: \(c) channels not divisible into \(groups) groups")
        guard count > 0 else { return self }
        let spatial = count / max(1, n * c)
        let perGroup = c / groups
        let w = weight?.scalars, b = bias?.scalars
        let grid = modulation.map { m -> (h: Int, w: Int) in
            precondition(
                rank == 4 && m.rank == 4 && m.shape[0] == n && m.shape[1] == 2 * c && m.shape[2] > 0
                    && m.shape[3] > 0 && shape[2] % m.shape[2] == 0 && shape[3] % m.shape[3] == 0,
                "groupNorm: modulation \(m.shape) does not fit \(shape)")
            return (m.shape[2], m.shape[3])
        }
        let mod = modulation?.scalars ?? []
        // Every element is written below (the groups cover all channels): no zero fill first.
        let out = [Float](unsafeUninitializedCapacity: count) { dst, initialized in
            scalars.withUnsafeBufferPointer { src in
                let p = UncheckedSendable((src.baseAddress!, dst.baseAddress!))
                parallelChunks(n * groups) { range in
                    let (s, o) = p.value
                    for ng in range {
                        let base = ng * perGroup * spatial, len = perGroup * spatial
                        // Double accumulation (groups span many elements), in eight lanes so
                        // the adds do not wait on each other.
                        let mean = Self.laneSum(s + base, len) { $0 } / Double(len)
                        let variance = Self.laneSum(s + base, len) { ($0 - mean) * ($0 - mean) } / Double(len)
                        let inv = Float(1 / (variance + Double(eps)).squareRoot())
                        let m = Float(mean)
                        for ch in 0..<perGroup {
                            let channel = (ng % groups) * perGroup + ch
                            let scale = (w?[channel] ?? 1) * inv, shift = b?[channel] ?? 0
                            let off = base + ch * spatial
                            for i in 0..<spatial { o[off + i] = (s[off + i] - m) * scale + shift }
                            if let grid {
                                let sample = ng / groups, plane = grid.h * grid.w
                                let scales = (sample * 2 * c + channel) * plane, shifts = scales + c * plane
                                Self.modulate(
                                    o + off, height: shape[2], width: shape[3], grid: grid, mod, scales, shifts)
                            }
                            // the activation while the channel is still in cache
                            if activation != .identity { applyActivation(activation, o + off, spatial) }
                        }
                    }
                }
            }
            initialized = count
        }
        return Tensor(shape: shape, scalars: out)
    }

    /// `x[i, j] = x[i, j] · m[scales + (i / r, j / q)] + m[shifts + (i / r, j / q)]` over one `height × width`
    /// plane, `r` and `q` the ratios to the modulation grid (nearest resizing by whole factors).
    @inline(__always)
    static func modulate(
        _ x: UnsafeMutablePointer<Float>, height: Int, width: Int, grid: (h: Int, w: Int), _ m: [Float],
        _ scales: Int, _ shifts: Int
    ) {
        let r = height / grid.h, q = width / grid.w
        for i in 0..<height {
            let row = x + i * width, source = (i / r) * grid.w
            for j in 0..<grid.w {
                let a = m[scales + source + j], b = m[shifts + source + j]
                for k in (j * q)..<(j * q + q) { row[k] = row[k] * a + b }
            }
        }
    }

    /// `Σ f(x[i])` in Double over eight lanes.
    @inline(__always)
    static func laneSum(_ x: UnsafePointer<Float>, _ count: Int, _ f: (SIMD8<Double>) -> SIMD8<Double>) -> Double {
        let raw = UnsafeRawPointer(x)
        var lanes = SIMD8<Double>(repeating: 0)
        var i = 0
        while i + 8 <= count {
            lanes += f(SIMD8<Double>(raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)))
            i += 8
        }
        var total = lanes.sum()
        while i < count {
            total += f(SIMD8<Double>(repeating: Double(x[i])))[0]
            i += 1
        }
        return total
    }

    /// Softmax over the last axis. Rows that are all −inf give zeros (no NaN).
    public func softmax() -> Tensor {
        var out = self
        out.softmaxInPlace()
        return out
    }

    /// Softmax over the last axis, in place.
    public mutating func softmaxInPlace() {
        let d = shape.last ?? 1
        let rows = count / max(1, d)
        scalars.withUnsafeMutableBufferPointer { buf in
            let p = UncheckedSendable(buf.baseAddress!)
            parallelChunks(rows, minChunk: 16) { range in
                for r in range { softmaxRow(p.value + r * d, d) }
            }
        }
    }

    /// Log-softmax over the last axis.
    public func logSoftmax() -> Tensor {
        let d = shape.last ?? 1
        var out = self
        out.scalars.withUnsafeMutableBufferPointer { buf in
            for r in 0..<(buf.count / max(1, d)) {
                let x = buf.baseAddress! + r * d
                var m = -Float.infinity
                for i in 0..<d { m = max(m, x[i]) }
                var sum: Float = 0
                for i in 0..<d { sum += expf(x[i] - m) }
                let lse = m + logf(sum)
                for i in 0..<d { x[i] -= lse }
            }
        }
        return out
    }
}

/// Numerically stable softmax of one row, in place. The max and the sum run in eight lanes
/// (a scalar loop would serialize on the add/max latency, which dominated attention rows).
@inline(__always)
public func softmaxRow(_ x: UnsafeMutablePointer<Float>, _ d: Int) {
    let inv = exponentiateRow(x, d)
    let raw = UnsafeMutableRawPointer(x)
    let full = d & ~7
    var i = 0
    while i < full {
        raw.storeBytes(
            of: raw.loadUnaligned(fromByteOffset: i * 4, as: FloatVector.self) * inv, toByteOffset: i * 4,
            as: FloatVector.self)
        i += 8
    }
    for j in full..<d { x[j] *= inv }
}

/// The unnormalized softmax of one row, in place: `exp(x − max)`; returns 1 / the row's sum, the
/// factor that completes the softmax (0 for a row that is all −∞, which becomes zeros). Attention
/// applies the factor to its output rows instead of to the probabilities.
@inline(__always)
public func exponentiateRow(_ x: UnsafeMutablePointer<Float>, _ d: Int) -> Float {
    let raw = UnsafeMutableRawPointer(x)
    let full = d & ~7
    var lanes = FloatVector(repeating: -.infinity)
    var i = 0
    while i < full {
        // a compare and select: `pointwiseMax` compiles to per-lane scalar code here
        let v = raw.loadUnaligned(fromByteOffset: i * 4, as: FloatVector.self)
        lanes.replace(with: v, where: v .> lanes)
        i += 8
    }
    var m = lanes.max()
    for j in full..<d { m = max(m, x[j]) }
    if m == -.infinity {
        for j in 0..<d { x[j] = 0 }
        return 0
    }
    var sums = FloatVector(repeating: 0)
    i = 0
    while i < full {
        let e = vexp(raw.loadUnaligned(fromByteOffset: i * 4, as: FloatVector.self) - m)
        raw.storeBytes(of: e, toByteOffset: i * 4, as: FloatVector.self)
        sums += e
        i += 8
    }
    if full < d {
        var v = FloatVector(repeating: -.infinity)
        for j in full..<d { v[j - full] = x[j] }
        let e = vexp(v - m)
        for j in full..<d { x[j] = e[j - full] }
    }
    var sum = sums.sum()
    for j in full..<d { sum += x[j] }
    return 1 / sum
}

extension Tensor {
    /// Rows scaled to unit L2 norm along the last axis (`F.normalize(x, dim=-1)`: divided by
    /// `max(‖x‖, eps)`). With `eps` 0 a zero row becomes NaN, as in code that normalizes without eps.
    public func l2Normalized(eps: Float = 1e-12) -> Tensor {
        let d = shape.last ?? 1
        var out = self
        out.scalars.withUnsafeMutableBufferPointer { p in
            for r in 0..<(p.count / max(1, d)) {
                var s: Float = 0
                for j in 0..<d { s += p[r * d + j] * p[r * d + j] }
                let n = max(s.squareRoot(), eps)
                for j in 0..<d { p[r * d + j] /= n }
            }
        }
        return out
    }
}
