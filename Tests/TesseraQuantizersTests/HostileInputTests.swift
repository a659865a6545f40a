import Foundation
import TesseraCore
import TesseraTestSupport
import Testing

@testable import TesseraQuantizers

/// Quantizer descriptions that trapped (negative sizes and counts) or asked for hundreds of GB
/// (Tests/Fixtures/hostile/quantizers.json): each is refused with a `QuantizerError` naming the
/// file and the field, against a small valid weights file.
@Suite struct HostileQuantizerTests {
    struct Case: Decodable, Sendable, CustomTestStringConvertible {
        var `case`: String
        var expect: String
        var testDescription: String { self.case }
    }
    static let path = Fixtures.url("hostile/quantizers.json")
    static let cases = Fixtures.load("hostile/quantizers.json", as: [Case].self) ?? []

    @Test func everyCaseIsListed() { #expect(Self.cases.count == 7) }

    @Test(arguments: cases.indices)
    func refusedNamingTheField(_ index: Int) throws {
        let item = Self.cases[index]
        let all = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: Self.path)) as? [[String: Any]])
        var description = try #require(all[index]["description"] as? [String: Any])
        description["weights"] = "weights.safetensors"
        let dir = Fixtures.scratchFolder("hostile-quantizer")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        // A valid residual VQ's weights (3 layers of 32 × 16).
        try SafeTensorsWriter.write(
            (0..<3).map { ("layers.\($0)._codebook.embed", .float(Tensor(repeating: 0.5, shape: [1, 32, 16]))) },
            to: dir.appendingPathComponent("weights.safetensors"))
        let file = dir.appendingPathComponent("q.json")
        try JSONSerialization.data(withJSONObject: description).write(to: file)
        let error = try #require(throws: QuantizerError.self) { try QuantizerSpec(parsing: file.path) }
        #expect(error.description.contains(file.path), "\(error)")
        #expect(error.description.contains(item.expect), "\(item.case): \(error)")
    }

    /// Sizes read from token files: a non-positive vocabulary is an error; a vast one costs memory
    /// for the ids seen, not for the vocabulary.
    @Test func codebookUsageBoundsItsMemory() throws {
        #expect(throws: QuantizerError.self) { try CodebookUsage(ids: [1], vocabularySize: -32) }
        #expect(throws: QuantizerError.self) { try CodebookUsage(ids: [1], vocabularySize: 0) }
        let vast = try CodebookUsage(ids: [1 << 40, 7, 7], vocabularySize: Int.max)
        #expect(vast.used == 2 && vast.tokens == 3 && vast.dead == Int.max - 2)
        #expect(vast.mostUsed(5).map(\.id) == [7, 1 << 40])
    }
}
