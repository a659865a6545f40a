import Foundation

// Winograd F(4×4, 3×3) convolution for 3×3, stride-1, padding-1 layers (Lavin & Gray 2016,
// interpolation points 0, ±1, ±2, ∞). A 4×4 output tile costs 36 multiplies per channel pair
// instead of 144, so the 36 per-frequency GEMMs do a quarter of im2col's work.
//
// Layout (T = tiles in the current block; tiles run over image × tile row × tile column):
//   U[ξ][O][C]  weights, transformed once (``WinogradWeights``),
//   V[ξ][C][T]  input tiles,   M[ξ][O][T] = U[ξ] · V[ξ],   ξ = 6 · row frequency + column frequency.
// Tiles are the SIMD lanes of both transforms: eight neighbouring tiles of one tile row at a
// time. The input rows of a tile row are first split into four phase rows (x mod 4), which
// makes each tile's samples contiguous across tiles; the output transform interleaves back.

/// Weights of a 3×3 convolution transformed for the Winograd F(4×4, 3×3) path, `[36, O, C]`.
///
/// Build once per weight tensor and reuse (``Tensor/conv2dWinograd(_:bias:)``): the transform
/// costs about as much as a 16×16-pixel convolution, and the result is 4× the weights' size.
public struct WinogradWeights: Sendable {
    /// Output channels `O`.
    public let outChannels: Int
    /// Input channels `C`.
    public let inChannels: Int
    /// `U[ξ][o][c]` for the 36 frequencies ξ.
    let u: [Float]

    /// Transforms `weight` `[O, C, 3, 3]`: `U = G g Gᵀ` per channel pair.
    public init(_ weight: Tensor) {
        precondition(
            weight.rank == 4 && weight.shape[2] == 3 && weight.shape[3] == 3,
            "Winograd weights must be [O, C, 3, 3], got \(weight.shape)")
        let o = weight.shape[0], c = weight.shape[1], plane = o * c
        outChannels = o
        inChannels = c
        u = [Float](unsafeUninitializedCapacity: 36 * plane) { buf, initialized in
            let ptrs = UncheckedSendable(buf.baseAddress!)
            weight.scalars.withUnsafeBufferPointer { wb in
                let src = UncheckedSendable(wb.baseAddress!)
                parallelChunks(o, minChunk: 8) { range in
                    // The nine taps of eight channels, tap-major, so each tap loads as one vector.
                    let k = UnsafeMutablePointer<Float>.allocate(capacity: 72)
                    defer { k.deallocate() }
                    k.initialize(repeating: 0, count: 72)
                    func tap(_ e: Int) -> Winograd.Lanes { Winograd.load(k + 8 * e) }
                    for oc in range {
                        // Eight input channels at a time: U[ξ][oc][ic..<ic+8] are contiguous.
                        for ic in Swift.stride(from: 0, to: c, by: 8) {
                            let lanes = min(8, c - ic)
                            let g = src.value + (oc * c + ic) * 9
                            for l in 0..<lanes { for e in 0..<9 { k[8 * e + l] = g[l * 9 + e] } }
                            // G·g column by column (6×3), then each row of that times Gᵀ (6×6).
                            let c0 = Winograd.kernelTransform(tap(0), tap(3), tap(6))
                            let c1 = Winograd.kernelTransform(tap(1), tap(4), tap(7))
                            let c2 = Winograd.kernelTransform(tap(2), tap(5), tap(8))
                            let d = ptrs.value + oc * c + ic
                            func row(_ i: Int, _ a: Winograd.Lanes, _ b: Winograd.Lanes, _ c: Winograd.Lanes) {
                                let r = Winograd.kernelTransform(a, b, c)
                                let base = d + 6 * i * plane
                                Winograd.store(r.0, base, lanes: lanes)
                                Winograd.store(r.1, base + plane, lanes: lanes)
                                Winograd.store(r.2, base + 2 * plane, lanes: lanes)
                                Winograd.store(r.3, base + 3 * plane, lanes: lanes)
                                Winograd.store(r.4, base + 4 * plane, lanes: lanes)
                                Winograd.store(r.5, base + 5 * plane, lanes: lanes)
                            }
                            row(0, c0.0, c1.0, c2.0)
                            row(1, c0.1, c1.1, c2.1)
                            row(2, c0.2, c1.2, c2.2)
                            row(3, c0.3, c1.3, c2.3)
                            row(4, c0.4, c1.4, c2.4)
                            row(5, c0.5, c1.5, c2.5)
                        }
                    }
                }
            }
            initialized = 36 * plane
        }
    }
}

/// A lazily built, thread-safe ``WinogradWeights`` for one weight tensor (held by a layer).
public final class WinogradWeightsCache: @unchecked Sendable {
    private let lock = NSLock()
    private var cached: WinogradWeights?

    /// An empty cache; the transform is built by the first ``weights(for:)`` call.
    public init() {}

    /// The transform of `weight`, computed on the first call. The cache belongs to one weight
    /// tensor: replace the cache when the weight changes.
    public func weights(for weight: Tensor) -> WinogradWeights {
        lock.lock()
        defer { lock.unlock() }
        if let cached { return cached }
        let w = WinogradWeights(weight)
        cached = w
        return w
    }
}

/// Dispatch rule and transforms of the Winograd convolution path.
public enum Winograd {
    /// Whether a convolution of these shapes suits Winograd F(4×4, 3×3): a 3×3 kernel, stride 1,
    /// padding 1, and enough channels on both sides that the GEMMs, not the tile transforms,
    /// dominate. (``Tensor/conv2d(weight:bias:stride:padding:)``, which transforms the weights
    /// on every call, also asks ``amortizesWeightTransform(inputShape:)``.)
    public static func applies(inputShape: [Int], weightShape: [Int], stride: (Int, Int), padding: (Int, Int)) -> Bool {
        guard inputShape.count == 4, weightShape.count == 4, weightShape[2] == 3, weightShape[3] == 3,
            stride == (1, 1), padding == (1, 1), inputShape[1] == weightShape[1]
        else { return false }
        return weightShape[0] >= minChannels && weightShape[1] >= minChannels
    }

    static let minChannels = 32

    /// Whether a convolution has enough 4×4 output tiles to pay for transforming its weights
    /// on the spot (about as costly as a 64-tile convolution).
    public static func amortizesWeightTransform(inputShape: [Int]) -> Bool {
        inputShape.count == 4 && inputShape[0] * ((inputShape[2] + 3) / 4) * ((inputShape[3] + 3) / 4) >= 64
    }

    /// V and M of one block of tile rows hold at most about this many floats (32 MB).
    static let blockFloats = 1 << 23

    /// Tile rows per block: as many as fit ``blockFloats`` (at least one).
    static func blockRows(c: Int, o: Int, tw: Int) -> Int { max(1, blockFloats / (36 * (c + o) * tw)) }

    /// `G · (a, b, c)ᵀ`: one kernel column (or row) at the six interpolation points.
    @inline(__always)
    static func kernelTransform(_ a: Lanes, _ b: Lanes, _ c: Lanes) -> (Lanes, Lanes, Lanes, Lanes, Lanes, Lanes) {
        let p = a * (1 / 24) + c * (1 / 6), q = b * (1 / 12), ac = a + c
        return (a * (1 / 4), (ac + b) * (-1 / 6), (ac - b) * (-1 / 6), p + q, p - q, c)
    }

    typealias Lanes = SIMD8<Float>

    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> Lanes { UnsafeRawPointer(p).loadUnaligned(as: Lanes.self) }

    @inline(__always)
    static func store(_ v: Lanes, _ p: UnsafeMutablePointer<Float>, lanes: Int) {
        if lanes == 8 {
            UnsafeMutableRawPointer(p).storeBytes(of: v, as: Lanes.self)
        } else {
            for i in 0..<lanes { p[i] = v[i] }
        }
    }

    /// `Bᵀ d` for six samples d₀…d₅ (six frequencies).
    @inline(__always)
    static func inputTransform(_ d0: Lanes, _ d1: Lanes, _ d2: Lanes, _ d3: Lanes, _ d4: Lanes, _ d5: Lanes)
        -> (Lanes, Lanes, Lanes, Lanes, Lanes, Lanes)
    {
        let s13 = d1 + d2, s34 = d4 - d2, t13 = d3 - d1
        return (
            4 * (d0 - d2) + s34,
            (d3 + d4) - 4 * s13,
            (d4 - d3) + 4 * (d1 - d2),
            s34 + 2 * t13,
            s34 - 2 * t13,
            4 * (d1 - d3) + (d5 - d3)
        )
    }

    /// `Aᵀ m` for six frequencies (four outputs).
    @inline(__always)
    static func outputTransform(_ m0: Lanes, _ m1: Lanes, _ m2: Lanes, _ m3: Lanes, _ m4: Lanes, _ m5: Lanes)
        -> (Lanes, Lanes, Lanes, Lanes)
    {
        let a = m1 + m2, b = m1 - m2, c = m3 + m4, d = m3 - m4
        return (m0 + a + c, b + 2 * d, a + 4 * c, b + 8 * d + m5)
    }

    typealias Quad = SIMD4<Float>

    @inline(__always)
    static func load4(_ p: UnsafePointer<Float>) -> Quad { UnsafeRawPointer(p).loadUnaligned(as: Quad.self) }

    @inline(__always)
    static func store4(_ v: Quad, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: Quad.self)
    }

    /// 4×4 transpose (compiles to unpack/move shuffles).
    @inline(__always)
    static func transpose(_ a: Quad, _ b: Quad, _ c: Quad, _ d: Quad) -> (Quad, Quad, Quad, Quad) {
        (
            Quad(a[0], b[0], c[0], d[0]), Quad(a[1], b[1], c[1], d[1]), Quad(a[2], b[2], c[2], d[2]),
            Quad(a[3], b[3], c[3], d[3])
        )
    }

    /// Floats in one phase row: the tiles rounded up to 8, plus room for the last vector's
    /// one-tile shift, rounded to the 4×4 transposes.
    static func phaseLength(tiles tw: Int) -> Int { (tw + 7) / 8 * 8 + 4 }

    /// Scratch floats of ``transformInputRow(_:h:w:ty:tw:dst:xiStride:scratch:)``.
    static func inputScratch(tiles tw: Int) -> Int { 28 * phaseLength(tiles: tw) + 288 }

    /// Scratch floats of ``transformOutputRow(_:xiStride:tw:bias:dst:h:w:ty:scratch:)``.
    static func outputScratch(tiles tw: Int) -> Int { 16 * phaseLength(tiles: tw) + 192 }

    /// Splits input row `row` (`w` samples, zero outside) into four phase rows of `q` floats,
    /// `phase[m][j] = row[4j + m − 1]`, through a zero-padded copy in `padded` (`4q` floats).
    @inline(__always)
    static func splitPhases(
        _ row: UnsafePointer<Float>, w: Int, into phase: UnsafeMutablePointer<Float>, count q: Int,
        padded: UnsafeMutablePointer<Float>
    ) {
        padded[0] = 0
        (padded + 1).update(from: row, count: w)
        (padded + 1 + w).update(repeating: 0, count: 4 * q - 1 - w)
        for j in Swift.stride(from: 0, to: q, by: 4) {
            let s = UnsafePointer(padded + 4 * j)
            let t = transpose(load4(s), load4(s + 4), load4(s + 8), load4(s + 12))
            store4(t.0, phase + j)
            store4(t.1, phase + q + j)
            store4(t.2, phase + 2 * q + j)
            store4(t.3, phase + 3 * q + j)
        }
    }

    /// Input transform of tile row `ty` of one channel plane: `V[ξ][t]` at `dst + ξ · xiStride + t`
    /// for the `tw` tiles; `scratch` holds ``inputScratch(tiles:)`` floats.
    static func transformInputRow(
        _ plane: UnsafePointer<Float>, h: Int, w: Int, ty: Int, tw: Int,
        dst: UnsafeMutablePointer<Float>, xiStride: Int, scratch: UnsafeMutablePointer<Float>
    ) {
        let q = phaseLength(tiles: tw)
        let padded = scratch + 24 * q + 288
        for r in 0..<6 {
            let y = 4 * ty - 1 + r
            let phase = scratch + 4 * q * r
            if y < 0 || y >= h {
                phase.initialize(repeating: 0, count: 4 * q)
            } else {
                splitPhases(plane + y * w, w: w, into: phase, count: q, padded: padded)
            }
        }
        let rowT = scratch + 24 * q  // Bᵀ along x, [6 rows][6 frequencies] × 8 lanes
        for j0 in Swift.stride(from: 0, to: tw, by: 8) {
            for r in 0..<6 {
                let s = UnsafePointer(scratch + 4 * q * r + j0)
                let t = inputTransform(
                    load(s), load(s + q), load(s + 2 * q), load(s + 3 * q), load(s + 1), load(s + q + 1))
                let o = UnsafeMutableRawPointer(rowT + 48 * r)
                o.storeBytes(of: t.0, toByteOffset: 0, as: Lanes.self)
                o.storeBytes(of: t.1, toByteOffset: 32, as: Lanes.self)
                o.storeBytes(of: t.2, toByteOffset: 64, as: Lanes.self)
                o.storeBytes(of: t.3, toByteOffset: 96, as: Lanes.self)
                o.storeBytes(of: t.4, toByteOffset: 128, as: Lanes.self)
                o.storeBytes(of: t.5, toByteOffset: 160, as: Lanes.self)
            }
            let lanes = min(8, tw - j0)
            for k in 0..<6 {
                let s = UnsafePointer(rowT + 8 * k)
                let v = inputTransform(load(s), load(s + 48), load(s + 96), load(s + 144), load(s + 192), load(s + 240))
                let d = dst + k * xiStride + j0
                store(v.0, d, lanes: lanes)
                store(v.1, d + 6 * xiStride, lanes: lanes)
                store(v.2, d + 12 * xiStride, lanes: lanes)
                store(v.3, d + 18 * xiStride, lanes: lanes)
                store(v.4, d + 24 * xiStride, lanes: lanes)
                store(v.5, d + 30 * xiStride, lanes: lanes)
            }
        }
    }

    /// Output transform of tile row `ty` of one output channel from `M[ξ][t]` at
    /// `src + ξ · xiStride + t` (readable 8 floats past the last tile), plus `bias`, into the
    /// plane `dst` (`h × w`); `scratch` holds ``outputScratch(tiles:)`` floats.
    static func transformOutputRow(
        _ src: UnsafePointer<Float>, xiStride: Int, tw: Int, bias: Float,
        dst: UnsafeMutablePointer<Float>, h: Int, w: Int, ty: Int, scratch: UnsafeMutablePointer<Float>
    ) {
        let q = phaseLength(tiles: tw)
        let colT = scratch + 16 * q  // Aᵀ along y, [4 rows][6 frequencies] × 8 lanes
        for j0 in Swift.stride(from: 0, to: tw, by: 8) {
            for k in 0..<6 {
                let s = src + k * xiStride + j0
                let t = outputTransform(
                    load(s), load(s + 6 * xiStride), load(s + 12 * xiStride),
                    load(s + 18 * xiStride), load(s + 24 * xiStride), load(s + 30 * xiStride))
                let o = UnsafeMutableRawPointer(colT + 8 * k)
                o.storeBytes(of: t.0, toByteOffset: 0, as: Lanes.self)
                o.storeBytes(of: t.1, toByteOffset: 192, as: Lanes.self)
                o.storeBytes(of: t.2, toByteOffset: 384, as: Lanes.self)
                o.storeBytes(of: t.3, toByteOffset: 576, as: Lanes.self)
            }
            for p in 0..<4 {
                let s = UnsafePointer(colT + 48 * p)
                let y = outputTransform(load(s), load(s + 8), load(s + 16), load(s + 24), load(s + 32), load(s + 40))
                let o = UnsafeMutableRawPointer(scratch + 4 * q * p + j0)
                o.storeBytes(of: y.0, toByteOffset: 0, as: Lanes.self)
                o.storeBytes(of: y.1, toByteOffset: 4 * q, as: Lanes.self)
                o.storeBytes(of: y.2, toByteOffset: 8 * q, as: Lanes.self)
                o.storeBytes(of: y.3, toByteOffset: 12 * q, as: Lanes.self)
            }
        }
        // Interleave the four phase rows of each output row back into pixels.
        for p in 0..<4 {
            let y = 4 * ty + p
            guard y < h else { break }
            let row = dst + y * w
            let s0 = UnsafePointer(scratch + 4 * q * p), s1 = s0 + q, s2 = s0 + 2 * q, s3 = s0 + 3 * q
            let b = Quad(repeating: bias)
            var j = 0
            while 4 * j + 16 <= w {
                let t = transpose(load4(s0 + j), load4(s1 + j), load4(s2 + j), load4(s3 + j))
                let d = row + 4 * j
                store4(t.0 + b, d)
                store4(t.1 + b, d + 4)
                store4(t.2 + b, d + 8)
                store4(t.3 + b, d + 12)
                j += 4
            }
            for x in 4 * j..<w { row[x] = s0[(x % 4) * q + x / 4] + bias }
        }
    }
}

/// One convolution's shapes and buffers, and its three stages over a block of tile rows.
struct WinogradPlan {
    let n: Int, c: Int, h: Int, w: Int, o: Int
    let th: Int, tw: Int
    let x: UnsafePointer<Float>, u: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>
    let bias: UnsafePointer<Float>?

    /// Tile rows over all images.
    var tileRows: Int { n * th }

    /// M buffer floats for `tiles` tiles: the output transform reads whole 8-tile vectors.
    func mCapacity(tiles: Int) -> Int { 36 * o * tiles + 8 }

    /// V[ξ][ch][t] for channels `channels` of tile rows `r0..<r0 + rows` (`rows · tw` tiles).
    func transformInput(
        rows r0: Int, count rows: Int, channels: Range<Int>, v: UnsafeMutablePointer<Float>,
        scratch: UnsafeMutablePointer<Float>
    ) {
        let tiles = rows * tw
        for ch in channels {
            for rr in 0..<rows {
                let img = (r0 + rr) / th, ty = (r0 + rr) % th
                Winograd.transformInputRow(
                    x + (img * c + ch) * h * w, h: h, w: w, ty: ty, tw: tw,
                    dst: v + ch * tiles + rr * tw, xiStride: c * tiles, scratch: scratch)
            }
        }
    }

    /// M[ξ] = U[ξ] · V[ξ] for frequencies `frequencies`, single-threaded BLAS calls.
    func multiply(tiles: Int, frequencies: Range<Int>, v: UnsafePointer<Float>, m: UnsafeMutablePointer<Float>) {
        for xi in frequencies {
            BLAS.call(
                false, false, o, tiles, c, 1, u + xi * o * c, c, v + xi * c * tiles, tiles, 0, m + xi * o * tiles, tiles
            )
        }
    }

    /// Output pixels (plus bias) of output channels `channels` for tile rows `r0..<r0 + rows`.
    func transformOutput(
        rows r0: Int, count rows: Int, channels: Range<Int>, m: UnsafePointer<Float>,
        scratch: UnsafeMutablePointer<Float>
    ) {
        let tiles = rows * tw
        for oc in channels {
            for rr in 0..<rows {
                let img = (r0 + rr) / th, ty = (r0 + rr) % th
                Winograd.transformOutputRow(
                    m + oc * tiles + rr * tw, xiStride: o * tiles, tw: tw, bias: bias?[oc] ?? 0,
                    dst: y + (img * o + oc) * h * w, h: h, w: w, ty: ty, scratch: scratch)
            }
        }
    }

    /// Blocks of `blockRows` tile rows one after another, each stage split across threads
    /// (input channels, frequencies, output channels). Large blocks keep the GEMMs wide and
    /// read U (37 MB at 512 channels) once per block.
    func run(blockRows: Int) {
        let maxTiles = blockRows * tw
        let v = UnsafeMutablePointer<Float>.allocate(capacity: 36 * c * maxTiles)
        // The GEMMs write M before it is read, except the 8 floats past its end that the output
        // transform's last vector loads (their lanes are never stored). A smaller last block reads
        // finite values left by the block before it.
        let m = UnsafeMutablePointer<Float>.allocate(capacity: mCapacity(tiles: maxTiles))
        (m + 36 * o * maxTiles).initialize(repeating: 0, count: mCapacity(tiles: maxTiles) - 36 * o * maxTiles)
        defer { v.deallocate(); m.deallocate() }
        let shared = UncheckedSendable((self, v, m))
        for r0 in Swift.stride(from: 0, to: tileRows, by: blockRows) {
            let rows = min(blockRows, tileRows - r0), tiles = rows * tw
            parallelChunks(c, minChunk: 4) { range in
                let (plan, v, _) = shared.value
                let scratch = UnsafeMutablePointer<Float>.allocate(capacity: Winograd.inputScratch(tiles: plan.tw))
                defer { scratch.deallocate() }
                plan.transformInput(rows: r0, count: rows, channels: range, v: v, scratch: scratch)
            }
            parallelChunks(36) { range in
                let (plan, v, m) = shared.value
                plan.multiply(tiles: tiles, frequencies: range, v: v, m: m)
            }
            parallelChunks(o, minChunk: 4) { range in
                let (plan, _, m) = shared.value
                let scratch = UnsafeMutablePointer<Float>.allocate(capacity: Winograd.outputScratch(tiles: plan.tw))
                defer { scratch.deallocate() }
                plan.transformOutput(rows: r0, count: rows, channels: range, m: m, scratch: scratch)
            }
        }
    }
}

extension Tensor {
    /// `F.conv2d(x, weight, bias, stride=1, padding=1)` for a 3×3 kernel by Winograd F(4×4, 3×3),
    /// with `weights` the transformed kernel. Matches the direct convolution to a few 1e-6 of
    /// the output's magnitude.
    public func conv2dWinograd(_ weights: WinogradWeights, bias: Tensor?) -> Tensor {
        conv2dWinograd(weights, bias: bias, blockRows: nil)
    }

    /// ``conv2dWinograd(_:bias:)`` in blocks of `blockRows` tile rows (nil: ``Winograd/blockRows(c:o:tw:)``).
    func conv2dWinograd(_ weights: WinogradWeights, bias: Tensor?, blockRows: Int?) -> Tensor {
        precondition(
            rank == 4 && shape[1] == weights.inChannels,
            "conv2dWinograd: input \(shape) does not have \(weights.inChannels) channels")
        let o = weights.outChannels
        precondition(bias == nil || bias!.count == o, "conv2dWinograd: bias has \(bias!.count) elements, expected \(o)")
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        guard n > 0 && h > 0 && w > 0 else { return Tensor.zeros([n, o, h, w]) }
        let th = (h + 3) / 4, tw = (w + 3) / 4
        let rows = max(1, min(blockRows ?? Winograd.blockRows(c: c, o: o, tw: tw), n * th))
        let out = [Float](unsafeUninitializedCapacity: n * o * h * w) { dst, initialized in
            scalars.withUnsafeBufferPointer { src in
                weights.u.withUnsafeBufferPointer { u in
                    func run(_ bias: UnsafePointer<Float>?) {
                        let plan = WinogradPlan(
                            n: n, c: c, h: h, w: w, o: o, th: th, tw: tw, x: src.baseAddress!,
                            u: u.baseAddress!, y: dst.baseAddress!, bias: bias)
                        plan.run(blockRows: rows)
                    }
                    if let bias { bias.scalars.withUnsafeBufferPointer { run($0.baseAddress!) } } else { run(nil) }
                }
            }
            initialized = n * o * h * w
        }
        return Tensor(shape: [n, o, h, w], scalars: out)
    }
}
