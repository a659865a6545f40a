import Testing

@testable import TesseraCore

@Suite struct ConvolutionTests {
    /// Large enough that im2col runs in several row bands; checked against a direct loop.
    @Test func bandedIm2colMatchesDirectConvolution() {
        var rng = SeededRandom(seed: 7)
        func random(_ n: Int) -> [Float] { (0..<n).map { _ in Float(Int(rng.next() % 2001) - 1000) / 1000 } }
        let (c, h, w, o) = (64, 100, 40, 3)
        let x = Tensor(shape: [1, c, h, w], scalars: random(c * h * w))
        let weight = Tensor(shape: [o, c, 3, 3], scalars: random(o * c * 9))
        let bias = Tensor(shape: [o], scalars: random(o))
        #expect(c * 9 * w * h > (1 << 21))  // more than one band
        let y = x.conv2d(weight: weight, bias: bias, stride: (1, 1), padding: (1, 1))
        var worst: Float = 0
        for oc in 0..<o {
            for yy in stride(from: 0, to: h, by: 5) {
                for xx in 0..<w {
                    var acc = bias.scalars[oc]
                    for ic in 0..<c {
                        for ky in 0..<3 {
                            for kx in 0..<3 {
                                let iy = yy + ky - 1, ix = xx + kx - 1
                                if iy >= 0 && iy < h && ix >= 0 && ix < w {
                                    acc += x[0, ic, iy, ix] * weight[oc, ic, ky, kx]
                                }
                            }
                        }
                    }
                    worst = max(worst, abs(acc - y[0, oc, yy, xx]))
                }
            }
        }
        #expect(worst < 1e-3, "max abs difference \(worst)")
    }
}
