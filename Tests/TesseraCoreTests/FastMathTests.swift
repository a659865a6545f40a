import Foundation
import Testing

@testable import TesseraCore

@Suite struct FastMathTests {
    @Test func expMatchesLibm() {
        var worst: Float = 0
        var x: Float = -87
        while x < 88 {
            var v = FloatVector(repeating: 0)
            for j in 0..<FloatVector.scalarCount { v[j] = x + Float(j) * 0.0137 }
            let e = vexp(v)
            for j in 0..<FloatVector.scalarCount {
                let ref = expf(v[j])
                worst = max(worst, abs(e[j] - ref) / ref)
            }
            x += 0.219
        }
        #expect(worst < 5e-7, "worst relative error \(worst)")
        let edges = vexp(FloatVector(repeating: -200))
        #expect(edges[0] < 1.2e-38)  // clamped at expf's smallest normal result
        #expect(vexp(FloatVector(repeating: 100))[0] > 1e38)
        #expect(vexp(FloatVector(repeating: 0))[0] == 1)
    }

    @Test func erfMatchesLibmWithinAbramowitzStegunBound() {
        var worst: Float = 0
        for i in 0..<4000 {
            let x = Float(i - 2000) * 0.003
            let r = verf(FloatVector(repeating: x))[0]
            worst = max(worst, abs(r - erff(x)))
        }
        #expect(worst < 5e-7, "worst absolute error \(worst)")  // A&S 7.1.26 bound 1.5e-7 plus float rounding
    }

    @Test func mapVectorizedHandlesTails() {
        for n in [0, 1, 15, 16, 17, 33] {
            var values = (0..<n).map { Float($0) }
            values.withUnsafeMutableBufferPointer { buf in
                if let base = buf.baseAddress { mapVectorized(base, n) { $0 * 2 } }
            }
            #expect(values == (0..<n).map { Float($0) * 2 })
        }
    }
}
