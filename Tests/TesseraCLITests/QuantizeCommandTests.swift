import Foundation
import Tessera
import TesseraTestSupport
import Testing

@testable import TesseraCLI

/// `tessera quantize` / `dequantize` / `codebook fit` on small arrays: shapes, id ranges and the code grid.
@Suite struct QuantizeCommandTests {
    /// A deterministic [rows, dim] latent array in [-1.5, 1.5].
    func latents(_ rows: Int, _ dim: Int, in folder: URL) throws -> URL {
        let values = (0..<(rows * dim)).map { i in Float(sin(Double(i) * 1.7)) * 1.5 }
        let url = folder.appendingPathComponent("latents.npy")
        try NPYArray(Tensor(shape: [rows, dim], scalars: values)).write(to: url)
        return url
    }

    @Test func fsqRoundTrips() throws {
        let folder = try scratch("quantize")
        let input = try latents(6, 4, in: folder)
        let ids = folder.appendingPathComponent("ids.npy"), codes = folder.appendingPathComponent("codes.npy")
        try Quantize.parse(["--quantizer", "fsq:8,5,5,5", input.path, "-o", ids.path]).run()
        let idArray = try NPYArray(contentsOf: ids)
        #expect(idArray.shape == [6, 1])
        let values = try #require(idArray.integers())
        #expect(values.allSatisfy { (0..<1000).contains($0) })
        #expect(Set(values).count > 1)

        try Dequantize.parse(["--quantizer", "fsq:8,5,5,5", ids.path, "-o", codes.path]).run()
        let codeArray = try NPYArray(contentsOf: codes)
        #expect(codeArray.shape == [6, 4])
        // every code lies on its level's grid (k − L/2) / (L/2), and different ids give different codes
        let levels = [8, 5, 5, 5], flat = codeArray.floats()
        var rows: [[Float]] = []
        for r in 0..<6 {
            let row = Array(flat[(r * 4)..<(r * 4 + 4)])
            rows.append(row)
            for (c, level) in zip(row, levels) {
                let half = Float(level / 2), k = c * half + half
                #expect(k == k.rounded() && k >= 0 && k < Float(level), "code \(c) off the \(level)-level grid")
            }
        }
        for i in 0..<6 {
            for j in 0..<6 where values[i] != values[j] { #expect(rows[i] != rows[j]) }
        }
    }

    @Test func badSpecIsRefused() throws {
        let folder = try scratch("quantize-bad")
        let input = try latents(2, 4, in: folder)
        #expect(throws: (any Error).self) {
            try Quantize.parse(["--quantizer", "nope:1", input.path, "-o", folder.appendingPathComponent("o.npy").path])
                .run()
        }
    }

    @Test func codebookFitWritesKRows() throws {
        let folder = try scratch("codebook")
        let input = try latents(40, 3, in: folder)
        let out = folder.appendingPathComponent("codebook.safetensors")
        try CodebookFit.parse([input.path, "--size", "4", "--iterations", "5", "-o", out.path]).run()
        let codebook = try SafeTensorsFile(url: out).tensor("codebook")
        #expect(codebook.shape == [4, 3])
    }
}
