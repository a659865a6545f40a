import Testing
@testable import TesseraCore

@Suite struct TensorTests {
    @Test func indexingIsRowMajor() {
        var t = Tensor.zeros([2, 3, 4])
        t[1, 2, 3] = 5
        t[0, 1, 0] = 7
        #expect(t.scalars[1 * 12 + 2 * 4 + 3] == 5)
        #expect(t.scalars[4] == 7)
        #expect(t.count == 24 && t.rank == 3)
        #expect(t.reshaped([6, 4])[5, 3] == 5)
    }
}
