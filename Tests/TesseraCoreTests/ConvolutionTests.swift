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

    /// Strided im2col (the downsampling convolutions) against a direct loop: strides 2 and 3,
    /// padding 0–2, kernels 3 and 4, widths whose last window ends inside, at and past the edge.
    @Test(arguments: [(2, 0, 3, 17), (2, 1, 3, 16), (3, 2, 4, 11), (2, 2, 3, 5), (3, 0, 4, 4)])
    func stridedIm2colMatchesDirectConvolution(_ s: (stride: Int, padding: Int, kernel: Int, width: Int)) {
        var rng = SeededRandom(seed: 5)
        func random(_ n: Int) -> [Float] { (0..<n).map { _ in Float(Int(rng.next() % 2001) - 1000) / 1000 } }
        let (c, h, o, k, p, st) = (5, 9, 4, s.kernel, s.padding, s.stride)
        let w = s.width
        let x = Tensor(shape: [2, c, h, w], scalars: random(2 * c * h * w))
        let weight = Tensor(shape: [o, c, k, k], scalars: random(o * c * k * k))
        let y = x.conv2d(weight: weight, bias: nil, stride: (st, st), padding: (p, p))
        let (oh, ow) = ((h + 2 * p - k) / st + 1, (w + 2 * p - k) / st + 1)
        #expect(y.shape == [2, o, oh, ow])
        var worst: Float = 0
        for img in 0..<2 {
            for oc in 0..<o {
                for yy in 0..<oh {
                    for xx in 0..<ow {
                        var acc: Float = 0
                        for ic in 0..<c {
                            for ky in 0..<k {
                                for kx in 0..<k {
                                    let iy = yy * st + ky - p, ix = xx * st + kx - p
                                    if iy >= 0 && iy < h && ix >= 0 && ix < w {
                                        acc += x[img, ic, iy, ix] * weight[oc, ic, ky, kx]
                                    }
                                }
                            }
                        }
                        worst = max(worst, abs(acc - y[img, oc, yy, xx]))
                    }
                }
            }
        }
        #expect(worst < 1e-4, "max abs difference \(worst)")
    }
}
