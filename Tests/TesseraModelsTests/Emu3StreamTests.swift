import Foundation
import TesseraCore
import TesseraNN
import TesseraStreams
import TesseraTestSupport
import Testing

@testable import TesseraModels

/// Emu3's LM image span from the LM's own tokenizer files, against the streams the references
/// build (Tests/Reference/make_emu3_stream_fixtures.py): transformers' `Emu3Processor` +
/// `convert_img2bpe` on the converted layout, baaivision/Emu3's `Emu3Tokenizer` on the original.
@Suite struct Emu3StreamTests {
    static let converted = Fixtures.url("vqgan/emu3_lm")
    static let original = Fixtures.url("vqgan/emu3_original_lm")

    struct Case: Decodable {
        var codes: [[Int]]
        var stream: [Int]
        var tokens: Tokens {
            Tokens(
                ids: codes.flatMap { $0 }, shape: [codes.count, codes[0].count], vocabularySizes: [256], model: "emu3")
        }
    }
    struct Expected: Decodable { var cases: [Case] }

    static func cases(_ directory: URL) throws -> [Case] {
        let data = try Data(contentsOf: directory.appendingPathComponent("expected_streams.json"))
        return try JSONDecoder().decode(Expected.self, from: data).cases
    }

    static func vocabulary(_ directory: URL, _ behaviour: ReferenceBehaviour = .original) throws -> VisualVocabulary {
        let vocabulary = try #require(try Emu3.lmVocabulary(directory: directory, codes: 256, behaviour: behaviour))
        try vocabulary.validate()
        return vocabulary
    }

    @Test func originalTokenizersStream() throws {
        let cases = try Self.cases(Self.original)
        // Emu3's own tokenizer files, and the converted ones read with the original's digit rule.
        for vocabulary in [try Self.vocabulary(Self.original), try Self.vocabulary(Self.converted)] {
            for c in cases {
                #expect(try vocabulary.stream([c.tokens]) == c.stream)
                #expect(try vocabulary.tokens(fromStream: c.stream, model: "emu3") == [c.tokens])
                #expect(try vocabulary.tokens(fromText: vocabulary.text([c.tokens]), model: "emu3") == [c.tokens])
            }
        }
        let text = try Self.vocabulary(Self.original).text([cases[2].tokens])
        #expect(
            text == "<|image start|>1*1<|image token|><|visual token \(String(format: "%06d", cases[2].codes[0][0]))|>"
                + "<|extra_200|><|extra_201|><|image end|>")
    }

    @Test func transformersTokenizersStream() throws {
        let vocabulary = try Self.vocabulary(Self.converted, .transformers)
        let cases = try Self.cases(Self.converted)
        for c in cases {
            #expect(try vocabulary.stream([c.tokens]) == c.stream)
            #expect(try vocabulary.tokens(fromStream: c.stream, model: "emu3") == [c.tokens])
        }
        // "12*16" is 3 tokens in transformers' BPE, 5 in Emu3's tiktoken; "5*11" is 4 in both.
        let originals = try Self.cases(Self.original)
        #expect(originals[0].stream.count == cases[0].stream.count + 2)
        #expect(originals[1].stream == cases[1].stream)
    }

    @Test func clipsAreOneSpanWithAFrameEndPerFrame() throws {
        let v = try Self.vocabulary(Self.original)
        let clip = Tokens(ids: [1, 2, 3, 4, 5, 6, 7, 8], shape: [2, 2, 2], vocabularySizes: [256], model: "emu3")
        let stream = try v.stream([clip])
        let eol = try #require(v.special.rowBreak), eof = try #require(v.special.frameEnd)
        #expect(stream.filter { $0 == eof }.count == 2 && stream.filter { $0 == eol }.count == 4)
        #expect(stream.first == v.special.imageStart && stream.last == v.special.imageEnd)
        #expect(try v.tokens(fromStream: stream, model: "emu3") == [clip])
        #expect(try v.tokens(fromText: v.text([clip]), model: "emu3") == [clip])
    }

    @Test func badTokenizerFilesNameTheFile() throws {
        let fm = FileManager.default
        let dir = Fixtures.scratchFolder("emu3-bad-vocab")
        defer { try? fm.removeItem(at: dir) }
        try fm.copyItem(at: Self.original, to: dir)
        let vision = dir.appendingPathComponent("emu3_vision_tokens.txt")
        // A vision-token file without the image delimiters.
        let lines = try String(contentsOf: vision, encoding: .utf8).split(separator: "\n").dropFirst(3)
        try lines.joined(separator: "\n").write(to: vision, atomically: true, encoding: .utf8)
        let missing = #expect(throws: ModelConfigError.self) { try Emu3.lmVocabulary(directory: dir) }
        #expect(missing?.reason.contains("<|image start|>") == true)
        try fm.removeItem(at: vision)
        let absent = #expect(throws: ModelConfigError.self) { try Emu3.lmVocabulary(directory: dir) }
        #expect(absent?.path == vision.path)
        let tiktoken = dir.appendingPathComponent("emu3.tiktoken")
        try Data("MA== 0\nMQ== 0\n".utf8).write(to: tiktoken)
        let ranks = #expect(throws: ModelConfigError.self) { try Emu3.lmVocabulary(directory: dir) }
        #expect(ranks?.path == tiktoken.path)
        // A vocabulary_map whose visual tokens skip a code.
        let converted = Fixtures.scratchFolder("emu3-bad-map")
        defer { try? fm.removeItem(at: converted) }
        try fm.copyItem(at: Self.converted, to: converted)
        let config = converted.appendingPathComponent("config.json")
        var json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: config)) as? [String: Any])
        var map = try #require(json["vocabulary_map"] as? [String: Any])
        map["<|visual token 000007|>"] = nil
        json["vocabulary_map"] = map
        try JSONSerialization.data(withJSONObject: json).write(to: config)
        let gap = #expect(throws: ModelConfigError.self) { try Emu3.lmVocabulary(directory: converted, codes: 256) }
        #expect(gap?.path == config.path && gap?.reason.contains("visual token 7") == true)
    }
}
