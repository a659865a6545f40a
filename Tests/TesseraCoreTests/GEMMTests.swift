import Testing

@testable import TesseraCore

@Suite(.serialized) struct GEMMTests {
    /// Threaded GEMM (row split for tall products, column split for wide ones) equals a
    /// naive product, with and without a transposed B.
    @Test(arguments: [(40, 3000, 50), (3000, 40, 50), (7, 5, 3)])
    func splitsMatchNaiveProduct(_ shape: (Int, Int, Int)) {
        let (m, n, k) = shape
        var rng = SeededRandom(seed: UInt64(m * n))
        func random(_ count: Int) -> [Float] { (0..<count).map { _ in Float(Int(rng.next() % 201) - 100) / 64 } }
        let a = Tensor(shape: [m, k], scalars: random(m * k))
        let b = Tensor(shape: [k, n], scalars: random(k * n))
        let saved = Threading.threadCount
        defer { Threading.threadCount = saved }
        for threads in [1, 3] {
            Threading.threadCount = threads
            let c = a.matmul(b)
            let ct = a.matmul(b.transposed(0, 1), transposeB: true)
            var worst: Float = 0
            for i in stride(from: 0, to: m, by: max(1, m / 13)) {
                for j in stride(from: 0, to: n, by: max(1, n / 17)) {
                    var acc: Float = 0
                    for p in 0..<k { acc += a[i, p] * b[p, j] }
                    worst = max(worst, abs(acc - c[i, j]), abs(acc - ct[i, j]))
                }
            }
            #expect(worst < 1e-3, "\(shape) with \(threads) threads: \(worst)")
        }
    }
}
