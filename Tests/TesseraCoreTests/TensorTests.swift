import Testing

@testable import TesseraCore

@Suite struct TensorTests {
    /// GroupNorm with a fused activation equals GroupNorm then the activation (odd group sizes
    /// exercise the lane tails).
    @Test(arguments: [Activation.silu, .gelu, .identity])
    func groupNormFusesItsActivation(_ activation: Activation) {
        var state: UInt64 = 7
        let scalars = (0..<(2 * 6 * 5 * 7)).map { _ -> Float in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state >> 11) % 2000) / 500 - 2
        }
        let x = Tensor(shape: [2, 6, 5, 7], scalars: scalars)
        let weight = Tensor(shape: [6], scalars: [0.5, 1, 1.5, -1, 2, 0.25])
        let bias = Tensor(shape: [6], scalars: [0, 0.1, -0.2, 0.3, 0, 1])
        let fused = x.groupNorm(groups: 3, weight: weight, bias: bias, eps: 1e-6, activation: activation)
        let separate = x.groupNorm(groups: 3, weight: weight, bias: bias, eps: 1e-6).activated(activation)
        #expect(fused.scalars == separate.scalars)
        // and the statistics are the plain ones: per sample and group, mean 0 before the affine
        let plain = x.groupNorm(groups: 3, weight: nil, bias: nil, eps: 0)
        let group = plain.scalars[0..<70]
        #expect(abs(group.reduce(0, +) / 70) < 1e-5)
        #expect(abs(group.map { $0 * $0 }.reduce(0, +) / 70 - 1) < 1e-4)
    }

    @Test func indexingIsRowMajor() {
        var t = Tensor.zeros([2, 3, 4])
        t[1, 2, 3] = 5
        t[0, 1, 0] = 7
        #expect(t.scalars[1 * 12 + 2 * 4 + 3] == 5)
        #expect(t.scalars[4] == 7)
        #expect(t.count == 24 && t.rank == 3)
        #expect(t.reshaped([6, 4])[5, 3] == 5)
    }

    /// A gated linear unit over one projection equals the activated first half times the second,
    /// exactly (the SwiGLU of FlexTok's blocks), for rows of an odd width.
    @Test(arguments: [Activation.silu, .gelu])
    func gatedLinearUnitIsTheActivatedGateTimesTheValue(_ activation: Activation) {
        let (rows, h) = (5, 13)
        let x = Tensor(shape: [1, rows, 2 * h], scalars: (0..<(rows * 2 * h)).map { Float($0 % 17) / 4 - 2 })
        let gate = x.reshaped([rows, 2, h]).slice(axis: 1, 0..<1).reshaped([1, rows, h])
        let value = x.reshaped([rows, 2, h]).slice(axis: 1, 1..<2).reshaped([1, rows, h])
        let unit = x.gatedLinearUnit(activation)
        #expect(unit.shape == [1, rows, h])
        #expect(unit.scalars == (gate.activated(activation) * value).scalars)
    }
}
