import TesseraCore
import Testing

@testable import TesseraQuantizers

@Suite struct KMeansTests {
    /// Four well-separated Gaussian blobs in 3-D.
    func blobs(seed: UInt64) -> (Tensor, [[Float]]) {
        let centres: [[Float]] = [[5, 0, 0], [0, 5, 0], [0, 0, 5], [-5, -5, -5]]
        var rng = SeededRandom(seed: seed)
        var points: [Float] = []
        for i in 0..<400 {
            let c = centres[i % 4]
            for j in 0..<3 {
                // sum of uniforms ≈ normal, σ ≈ 0.3
                let u = (0..<4).map { _ in Float(rng.next() >> 40) / Float(1 << 24) - 0.5 }.reduce(0, +) * 0.5
                points.append(c[j] + u)
            }
        }
        return (Tensor(shape: [400, 3], scalars: points), centres)
    }

    @Test(arguments: [nil, 64] as [Int?])
    func recoversKnownClusters(_ batch: Int?) throws {
        let (data, centres) = blobs(seed: 1)
        let result = try KMeans.fit(data, k: 4, iterations: batch == nil ? 25 : 200, seed: 3, batchSize: batch)
        for c in centres {
            let nearest = (0..<4).map { k in
                (0..<3).map { j in (result.codebook[k, j] - c[j]) * (result.codebook[k, j] - c[j]) }.reduce(0, +)
            }.min()!
            #expect(nearest < 0.05, "centre \(c) not recovered (squared distance \(nearest))")
        }
        #expect(result.meanSquaredError < 0.3)  // the blobs' own variance is 3 × 1/12 = 0.25
    }

    @Test func reproducibleWithSeed() throws {
        let (data, _) = blobs(seed: 2)
        let a = try KMeans.fit(data, k: 6, seed: 9), b = try KMeans.fit(data, k: 6, seed: 9)
        #expect(a.codebook == b.codebook)
        #expect(throws: QuantizerError.self) { try KMeans.fit(data, k: 401) }
        #expect(throws: QuantizerError.self) { try KMeans.fit(Tensor(shape: [2, 1], scalars: [0, .nan]), k: 1) }
    }
}
