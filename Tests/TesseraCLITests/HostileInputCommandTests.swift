import Foundation
import Tessera
import TesseraTestSupport
import Testing

@testable import TesseraCLI

/// Commands on the hostile token files and arrays (Tests/Fixtures/hostile): an error naming the
/// file and what is wrong, never a trap, an absurd allocation or the usage text.
@Suite struct HostileInputCommandTests {
    static func token(_ name: String) -> String { Fixtures.url("hostile/tokens/\(name).jsonl").path }

    /// A vast vocabulary or id used to size a dense histogram (17 GB for 2^31, 8.8 TB for an id
    /// of 2^40); the counts now follow the ids seen.
    @Test(arguments: [("huge-vocab", 2_147_483_648), ("huge-id", 1_099_511_627_777)])
    func statsOfVastVocabularies(_ entry: (String, Int)) throws {
        let out = try OutputCapture.capture(1) { try TokenStats.parse([Self.token(entry.0), "--json"]).run() }
        #expect(out.contains("\"vocabulary\":\(entry.1)"), "\(out)")
        #expect(out.contains("\"used\":2"), "\(out)")
    }

    /// Bad sizes and empty files are input errors naming the file (not usage errors).
    @Test(arguments: [
        ("negative-vocab", "vocabulary size -32 is not positive"),
        ("vocab-int-max", "is not an integer below 10^15"),
        ("shape-overflow", "is not an integer below 10^15"),
        ("empty", "no discrete tokens"),
    ])
    func statsRefusesBadFiles(_ entry: (String, String)) throws {
        let message = try #require(errorMessage { try TokenStats.parse([Self.token(entry.0)]).run() })
        #expect(message.contains(Self.token(entry.0)) && message.contains(entry.1), "\(message)")
        #expect(!message.contains("USAGE"))
    }

    /// `--vocab` must be positive and cover the ids.
    @Test func statsChecksTheGivenVocabulary() throws {
        for vocab in ["-32", "0", "2"] {
            let message = try #require(
                errorMessage { try TokenStats.parse([Self.token("huge-id"), "--vocab=\(vocab)"]).run() })
            #expect(message.contains(Self.token("huge-id")), "\(message)")
            #expect(message.contains("vocabulary size") || message.contains("is outside"), "\(message)")
        }
    }

    /// A 0-d array is not latents.
    @Test func quantizeRefusesAZeroDimensionalArray() throws {
        let folder = try scratch("hostile-quantize")
        defer { try? FileManager.default.removeItem(at: folder) }
        let input = folder.appendingPathComponent("scalar.npy")
        try NPYArray(dtype: .float32, shape: [], data: Array(withUnsafeBytes(of: Float(1)) { Array($0) })).write(
            to: input)
        let message = try #require(
            errorMessage {
                try Quantize.parse([
                    "--quantizer", "fsq:8,5", input.path, "-o", folder.appendingPathComponent("o.npy").path,
                ])
                .run()
            })
        #expect(message.contains(input.path) && message.contains("0-d array"), "\(message)")
    }
}
