import Foundation

#if canImport(Accelerate)
    import Accelerate
#else
    import COpenBLAS
#endif

/// Matrix products through BLAS (`cblas_sgemm`: OpenBLAS on Linux, Accelerate on macOS).
public enum BLAS {
    /// C = alpha · op(A) · op(B) + beta · C for row-major matrices, where op(A) is M×K and
    /// op(B) is K×N. `lda`/`ldb`/`ldc` are row strides in elements.
    @inlinable
    public static func sgemm(
        transposeA: Bool = false, transposeB: Bool = false, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        guard m > 0 && n > 0 else { return }
        guard k > 0 else {
            // BLAS leaves C · beta; make the empty product explicit.
            for i in 0..<m { for j in 0..<n { c[i * ldc + j] *= beta } }
            return
        }
        // Tessera threads GEMMs itself: rows of C are split across ``Threading`` workers, each
        // running a single-threaded BLAS call. OpenBLAS's own pool busy-waits between calls and
        // would fight the other parallel loops for the cores.
        configureOnce
        // Split the larger of M and N: splitting rows makes every task pack all of B, so wide
        // products (convolutions: few output channels, many pixels) split columns instead.
        let minPerTask = 32
        let work = (m * n * k) / 2_000_000 + 1
        if n > m && !transposeA {
            let tasks = min(Threading.threadCount, n / minPerTask, work)
            if tasks > 1 {
                let chunk = ((n + tasks - 1) / tasks + 15) / 16 * 16
                let ptrs = UncheckedSendable((a, b, c))
                parallelChunks(tasks) { range in
                    let (a, b, c) = ptrs.value
                    for t in range {
                        let start = t * chunk, cols = min(chunk, n - start)
                        if cols > 0 {
                            call(
                                false, transposeB, m, cols, k, alpha, a, lda, b + (transposeB ? start * ldb : start),
                                ldb, beta, c + start, ldc)
                        }
                    }
                }
                return
            }
        }
        let tasks = transposeA ? 1 : min(Threading.threadCount, m / minPerTask, work)
        guard tasks > 1 else {
            call(transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
            return
        }
        let chunk = (m + tasks - 1) / tasks
        let ptrs = UncheckedSendable((a, b, c))
        parallelChunks(tasks) { range in
            let (a, b, c) = ptrs.value
            for t in range {
                let start = t * chunk, rows = min(chunk, m - start)
                if rows > 0 {
                    call(false, transposeB, rows, n, k, alpha, a + start * lda, lda, b, ldb, beta, c + start * ldc, ldc)
                }
            }
        }
    }

    /// One single-threaded BLAS call with the same arguments as
    /// ``sgemm(transposeA:transposeB:m:n:k:alpha:a:lda:b:ldb:beta:c:ldc:)``, for callers that parallelize around it.
    public static func call(
        _ transposeA: Bool, _ transposeB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
        _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
        _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int
    ) {
        configureOnce
        cblas_sgemm(
            CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// The BLAS in use and its kernels, e.g. `OpenBLAS (Haswell)` or `Accelerate`. OpenBLAS picks
    /// its kernels when it loads (`OPENBLAS_CORETYPE` overrides the choice).
    public static var backend: String {
        #if canImport(Accelerate)
            "Accelerate"
        #else
            "OpenBLAS (\(openblas_get_corename().map { String(cString: $0) } ?? "unknown"))"
        #endif
    }

    /// The `OPENBLAS_CORETYPE` this CPU should use when OpenBLAS fell back to its generic Prescott
    /// kernels (an OpenBLAS older than the CPU, e.g. Debian 12's 0.3.21 on recent Xeons: a third of
    /// the speed): `SkylakeX` with AVX-512, `Haswell` with AVX2 and FMA; nil otherwise. The kernels are
    /// chosen when the library loads, so only a new process can use the answer.
    public static var betterOpenBLASCore: String? {
        #if canImport(Accelerate)
            return nil
        #else
            guard let name = openblas_get_corename().map({ String(cString: $0) }), name.lowercased() == "prescott"
            else { return nil }
            let info: String
            do {
                info = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
            } catch {
                return nil  // no /proc/cpuinfo: the CPU's features are unknown, keep OpenBLAS' choice
            }
            guard let line = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return nil }
            let flags = Set(line.split(separator: " ").map(String.init))
            if ["avx512f", "avx512bw", "avx512vl", "avx512dq"].allSatisfy(flags.contains) { return "SkylakeX" }
            if ["avx2", "fma"].allSatisfy(flags.contains) { return "Haswell" }
            return nil
        #endif
    }

    /// Puts OpenBLAS in single-threaded mode (once per process).
    @usableFromInline
    static let configureOnce: Void = {
        #if !canImport(Accelerate)
            openblas_set_num_threads(1)
        #endif
    }()

}

extension Tensor {
    /// Matrix product over the last two axes, broadcasting leading (batch) axes:
    /// `[..., M, K] @ [..., K, N] → [..., M, N]`. With `transposeB`, `other` is `[..., N, K]`.
    public func matmul(_ other: Tensor, transposeB: Bool = false) -> Tensor {
        precondition(rank >= 2 && other.rank >= 2, "matmul needs rank >= 2, got \(shape) and \(other.shape)")
        let m = shape[rank - 2], k = shape[rank - 1]
        let (kb, n) =
            transposeB
            ? (other.shape[other.rank - 1], other.shape[other.rank - 2])
            : (other.shape[other.rank - 2], other.shape[other.rank - 1])
        precondition(k == kb, "matmul inner dimensions differ: \(shape) @ \(other.shape)\(transposeB ? "ᵀ" : "")")
        let batchA = Array(shape.dropLast(2)), batchB = Array(other.shape.dropLast(2))
        let batch = broadcastShapes(batchA, batchB)
        let count = batch.reduce(1, *)
        var out = [Float](repeating: 0, count: count * m * n)
        let stridesA = broadcastStrides(batchA, to: batch), stridesB = broadcastStrides(batchB, to: batch)
        scalars.withUnsafeBufferPointer { a in
            other.scalars.withUnsafeBufferPointer { b in
                out.withUnsafeMutableBufferPointer { c in
                    for i in 0..<count {
                        let (ia, ib) = (batchOffset(i, batch, stridesA), batchOffset(i, batch, stridesB))
                        BLAS.sgemm(
                            transposeB: transposeB, m: m, n: n, k: k,
                            a: a.baseAddress! + ia * m * k, lda: k,
                            b: b.baseAddress! + ib * k * n, ldb: transposeB ? k : n,
                            c: c.baseAddress! + i * m * n, ldc: n)
                    }
                }
            }
        }
        return Tensor(shape: batch + [m, n], scalars: out)
    }
}

/// Broadcast of two shapes (numpy rules). - Precondition: they are compatible.
public func broadcastShapes(_ a: [Int], _ b: [Int]) -> [Int] {
    let r = max(a.count, b.count)
    var out = [Int](repeating: 1, count: r)
    for i in 0..<r {
        let da = i < r - a.count ? 1 : a[i - (r - a.count)]
        let db = i < r - b.count ? 1 : b[i - (r - b.count)]
        precondition(da == db || da == 1 || db == 1, "shapes \(a) and \(b) do not broadcast")
        out[i] = da == 1 ? db : da
    }
    return out
}

/// Element strides of `shape` (right-aligned) inside `target`, 0 on broadcast axes.
func broadcastStrides(_ shape: [Int], to target: [Int]) -> [Int] {
    var strides = [Int](repeating: 0, count: target.count)
    var s = 1
    for i in stride(from: shape.count - 1, through: 0, by: -1) {
        let t = i + target.count - shape.count
        strides[t] = shape[i] == 1 ? 0 : s
        s *= shape[i]
    }
    return strides
}

/// Offset (in elements of the broadcast operand) of flat index `i` of `shape`.
@inline(__always)
func batchOffset(_ i: Int, _ shape: [Int], _ strides: [Int]) -> Int {
    var rem = i, off = 0
    for d in stride(from: shape.count - 1, through: 0, by: -1) {
        off += (rem % shape[d]) * strides[d]
        rem /= shape[d]
    }
    return off
}
