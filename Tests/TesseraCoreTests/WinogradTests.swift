import Testing

@testable import TesseraCore

@Suite struct WinogradTests {
    /// Largest |Winograd − im2col| relative to the largest |im2col| output.
    private func relativeError(n: Int, c: Int, o: Int, h: Int, w: Int, bias: Bool, seed: UInt64, blockRows: Int? = nil)
        -> Float
    {
        var rng = SeededRandom(seed: seed)
        func random(_ count: Int) -> [Float] { (0..<count).map { _ in Float(Int(rng.next() % 2001) - 1000) / 1000 } }
        let x = Tensor(shape: [n, c, h, w], scalars: random(n * c * h * w))
        let weight = Tensor(shape: [o, c, 3, 3], scalars: random(o * c * 9))
        let b = bias ? Tensor(shape: [o], scalars: random(o)) : nil
        let reference = x.conv2dIm2col(weight: weight, bias: b, stride: (1, 1), padding: (1, 1))
        let y = x.conv2dWinograd(WinogradWeights(weight), bias: b, blockRows: blockRows)
        #expect(y.shape == reference.shape)
        var worst: Float = 0, scale: Float = 0
        for (a, r) in zip(y.scalars, reference.scalars) {
            worst = max(worst, abs(a - r))
            scale = max(scale, abs(r))
        }
        return worst / max(scale, .leastNormalMagnitude)
    }

    @Test(arguments: [(7, 9), (1, 1), (2, 3), (33, 17), (4, 4), (8, 16), (5, 41)])
    func matchesIm2col(size: (Int, Int)) {
        for bias in [false, true] {
            let err = relativeError(
                n: 3, c: 32, o: 40, h: size.0, w: size.1, bias: bias, seed: UInt64(size.0 * 100 + size.1))
            #expect(err <= 1e-5, "\(size) bias \(bias): relative error \(err)")
        }
    }

    /// Several blocks of tile rows, blocks that straddle images, and channel counts that are
    /// not multiples of the thread split.
    @Test func manyTileBlocks() {
        // 15 tile rows per image, blocks of four.
        let err = relativeError(n: 2, c: 37, o: 33, h: 60, w: 36, bias: true, seed: 11, blockRows: 4)
        #expect(err <= 1e-5, "relative error \(err)")
    }

    @Test func conv2dDispatch() {
        #expect(
            Winograd.applies(inputShape: [1, 64, 8, 8], weightShape: [64, 64, 3, 3], stride: (1, 1), padding: (1, 1)))
        #expect(
            !Winograd.applies(inputShape: [1, 64, 8, 8], weightShape: [64, 64, 3, 3], stride: (2, 2), padding: (1, 1)))
        #expect(
            !Winograd.applies(inputShape: [1, 64, 8, 8], weightShape: [64, 64, 3, 3], stride: (1, 1), padding: (0, 0)))
        #expect(
            !Winograd.applies(inputShape: [1, 3, 8, 8], weightShape: [64, 3, 3, 3], stride: (1, 1), padding: (1, 1)))
        #expect(
            !Winograd.applies(inputShape: [1, 64, 8, 8], weightShape: [3, 64, 3, 3], stride: (1, 1), padding: (1, 1)))
        #expect(
            !Winograd.applies(inputShape: [1, 64, 8, 8], weightShape: [64, 64, 1, 1], stride: (1, 1), padding: (1, 1)))
    }
}
