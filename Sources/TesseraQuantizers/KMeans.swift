import Foundation
import TesseraCore

/// Codebook fitting by k-means: k-means++ seeding, then Lloyd iterations (full-batch, or
/// mini-batch with per-centre learning rates as in Sculley 2010). Seeded and reproducible;
/// assignment uses ``VectorQuantizer``'s tiled GEMM search.
public enum KMeans {
    /// A fitted codebook and how the fit went.
    public struct Result: Sendable {
        /// `[k, D]` centres.
        public var codebook: Tensor
        /// Mean squared distance of the points to their centres after the last iteration.
        public var meanSquaredError: Double
        /// Lloyd iterations run: at most the `iterations` asked for (at least 1), fewer when the error stopped
        /// improving by more than `tolerance`.
        public var iterations: Int
    }

    /// Fits `k` centres to the rows of `data` (`[N, D]`).
    /// - Parameters:
    ///   - batchSize: mini-batch size; nil for full-batch Lloyd.
    ///   - tolerance: stop when the error improves by less than this fraction.
    public static func fit(
        _ data: Tensor, k: Int, iterations: Int = 25, seed: UInt64 = 0,
        batchSize: Int? = nil, tolerance: Double = 1e-5
    ) throws -> Result {
        guard data.rank == 2, data.shape[0] >= k, k >= 1 else {
            throw QuantizerError("k-means needs data [N, D] with N ≥ k ≥ 1, got \(data.shape) and k = \(k)")
        }
        guard data.scalars.allSatisfy(\.isFinite) else { throw QuantizerError("k-means data contains NaN or infinity") }
        let (n, d) = (data.shape[0], data.shape[1])
        var rng = SeededRandom(seed: seed)
        var centers = plusPlus(data, k: k, rng: &rng)
        var previous = Double.infinity
        var counts = [Double](repeating: 0, count: k)
        var done = 0
        for _ in 0..<max(1, iterations) {
            done += 1
            let rows: [Int] =
                batchSize.map { b in (0..<min(b, n)).map { _ in Int(rng.next() % UInt64(n)) } } ?? Array(0..<n)
            let batch = batchSize == nil ? data : data.indexSelect(axis: 0, rows)
            let assignment = VectorQuantizer(codebook: centers, metric: .euclidean(clampMin: nil)).encode(batch)
            if batchSize != nil {
                for (i, c) in assignment.enumerated() {
                    counts[c] += 1
                    let rate = Float(1 / counts[c])
                    for j in 0..<d {
                        centers.scalars[c * d + j] += rate * (batch.scalars[i * d + j] - centers.scalars[c * d + j])
                    }
                }
            } else {
                var sums = [Double](repeating: 0, count: k * d)
                var sizes = [Int](repeating: 0, count: k)
                for (i, c) in assignment.enumerated() {
                    sizes[c] += 1
                    for j in 0..<d { sums[c * d + j] += Double(data.scalars[i * d + j]) }
                }
                for c in 0..<k {
                    if sizes[c] == 0 {
                        // An empty cluster restarts at the point farthest from its centre.
                        let far = farthestPoint(data, centers: centers, assignment: assignment)
                        for j in 0..<d { centers.scalars[c * d + j] = data.scalars[far * d + j] }
                    } else {
                        for j in 0..<d { centers.scalars[c * d + j] = Float(sums[c * d + j] / Double(sizes[c])) }
                    }
                }
            }
            let error = meanSquaredError(data, centers)
            if previous.isFinite && (previous - error) <= tolerance * previous { previous = error; break }
            previous = error
        }
        return Result(
            codebook: centers, meanSquaredError: previous.isFinite ? previous : meanSquaredError(data, centers),
            iterations: done)
    }

    /// k-means++ seeding: each new centre drawn with probability ∝ squared distance to the nearest chosen one.
    static func plusPlus(_ data: Tensor, k: Int, rng: inout SeededRandom) -> Tensor {
        let (n, d) = (data.shape[0], data.shape[1])
        var chosen = [Int(rng.next() % UInt64(n))]
        var nearest = [Double](repeating: .infinity, count: n)
        while chosen.count < k {
            let last = chosen.last!
            for i in 0..<n {
                var s = 0.0
                for j in 0..<d { let t = Double(data.scalars[i * d + j] - data.scalars[last * d + j]); s += t * t }
                nearest[i] = min(nearest[i], s)
            }
            let total = nearest.reduce(0, +)
            var pick = 0
            if total > 0 {
                var target = Double(rng.next() >> 11) / Double(1 << 53) * total
                for i in 0..<n { target -= nearest[i]; if target <= 0 { pick = i; break }; pick = i }
            } else {
                pick = (chosen.last! + 1) % n
            }
            chosen.append(pick)
        }
        return data.indexSelect(axis: 0, chosen)
    }

    static func meanSquaredError(_ data: Tensor, _ centers: Tensor) -> Double {
        let d = data.shape[1]
        let ids = VectorQuantizer(codebook: centers, metric: .euclidean(clampMin: nil)).encode(data)
        var s = 0.0
        for (i, c) in ids.enumerated() {
            for j in 0..<d { let t = Double(data.scalars[i * d + j] - centers.scalars[c * d + j]); s += t * t }
        }
        return s / Double(max(1, ids.count))
    }

    static func farthestPoint(_ data: Tensor, centers: Tensor, assignment: [Int]) -> Int {
        let d = data.shape[1]
        var best = 0, bestDistance = -1.0
        for (i, c) in assignment.enumerated() {
            var s = 0.0
            for j in 0..<d { let t = Double(data.scalars[i * d + j] - centers.scalars[c * d + j]); s += t * t }
            if s > bestDistance { bestDistance = s; best = i }
        }
        return best
    }
}
