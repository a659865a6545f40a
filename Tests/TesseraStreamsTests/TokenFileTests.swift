import Foundation
import TesseraCore
import TesseraTestSupport
import Testing

@testable import TesseraStreams

@Suite struct TokenFileTests {
    let records = [
        TokenRecord(
            source: "/data/a.png", tokens: Tokens(ids: [1, 2, 3, 4], shape: [4], vocabularySizes: [4096], model: "m")),
        TokenRecord(
            source: "/data/clip.mp4", frameTimestamp: 1.5,
            tokens: Tokens(ids: [4095, 0, 7, 9], shape: [4], vocabularySizes: [4096], model: "m")),
    ]

    func temporary(_ ext: String) -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("tessera-tokens-\(UUID()).\(ext)")
    }

    @Test(arguments: TokenFileFormat.allCases)
    func roundTrip(_ format: TokenFileFormat) throws {
        let url = temporary(format.rawValue)
        defer {
            try? FileManager.default.removeItem(at: url);
            try? FileManager.default.removeItem(at: url.appendingPathExtension("json"))
        }
        try TokenFile.write(records, to: url, format: format)
        #expect(try TokenFile.read(url) == records)
    }

    @Test func continuousTokensRoundTrip() throws {
        let latents = Tensor(shape: [3, 2], scalars: [0.5, -1.25, 3, 0, 1e-3, 7])
        let recs = [
            TokenRecord(
                source: "x.jpg",
                tokens: Tokens(ids: [], shape: [3], vocabularySizes: [], model: "vae", latents: latents))
        ]
        for format in [TokenFileFormat.jsonl, .safetensors] {
            let url = temporary(format.rawValue)
            defer { try? FileManager.default.removeItem(at: url) }
            try TokenFile.write(recs, to: url, format: format)
            #expect(try TokenFile.read(url) == recs, "\(format)")
        }
        #expect(throws: TokenFileError.self) { try TokenFile.write(recs, to: temporary("npy"), format: .npy) }
    }

    @Test func malformedFilesAreRefused() throws {
        let cases = [
            #"{"source":"a","ids":[1,2,3],"shape":[4]}"#,
            #"{"source":"a","ids":[1.5]}"#,
            #"not json"#,
            #"{"source":"a"}"#,
        ]
        for text in cases {
            let url = temporary("jsonl")
            defer { try? FileManager.default.removeItem(at: url) }
            try Data(text.utf8).write(to: url)
            #expect(throws: TokenFileError.self, "\(text)") { try TokenFile.read(url) }
        }
        #expect(throws: TokenFileError.self) { try TokenFile.read(temporary("txt")) }
        #expect(throws: TokenFileError.self) { try TokenFile.read(temporary("jsonl")) }
    }

    /// Shapes and vocabularies read from a file that trapped (an overflowing product) or claimed
    /// negative sizes (Tests/Fixtures/hostile/tokens): refused, naming the file and line.
    @Test(arguments: [
        ("shape-overflow", "shape entry 4611686018427387904 is not an integer below 10^15"),
        ("shape-product-overflow", "2 ids do not fill shape [100000000, 100000000, 1000000]"),
        ("negative-shape", "4 ids do not fill shape [-1, -4]"),
        ("negative-vocab", "vocabulary size -32 is not positive"),
        ("vocab-int-max", "vocab entry 9223372036854775807 is not an integer below 10^15"),
    ])
    func hostileShapesAreRefused(_ entry: (String, String)) throws {
        let url = Fixtures.url("hostile/tokens/\(entry.0).jsonl")
        let error = try #require(throws: TokenFileError.self) { try TokenFile.read(url) }
        #expect(error.path == url.path)
        #expect("\(error)".contains("line 1: \(entry.1)"), "\(error)")
    }
}
