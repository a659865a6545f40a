import ArgumentParser
import Foundation
import Tessera
import TesseraTestSupport
import Testing

@testable import TesseraCLI

/// `tessera encode` on an LM's own directory, `tokens vocabulary --from-model` and `tokens to-lm`:
/// the image span transformers' Chameleon builds (`get_image_tokens` between the delimiters).
@Suite struct LMTokenizerCommandTests {
    let chameleon = Fixtures.url("vqgan/chameleon")

    @Test func chameleonStreamIsTheModelsOwn() throws {
        let dir = try scratch("lm-chameleon")
        let vocabulary = dir.appendingPathComponent("vocab.json")
        try VocabularyCommand.parse(["--from-model", chameleon.path, "-o", vocabulary.path]).run()
        let vocab = try VisualVocabulary(contentsOf: vocabulary)
        #expect(vocab.offset == 4 && vocab.special.imageStart == 517 && vocab.special.imageEnd == 516)
        // The reference's inputs, as a token file of its codes, and the LM ids it expects.
        let e = try SafeTensorsFile(url: chameleon.appendingPathComponent("expected.safetensors"))
        let codes = try e.integers("codes"), lm = try e.integers("lm_ids")
        let tokens = dir.appendingPathComponent("codes.jsonl")
        let records = (0..<2).map { i in
            TokenRecord(
                source: "image\(i)",
                tokens: Tokens(
                    ids: Array(codes[(i * 64)..<((i + 1) * 64)]), shape: [8, 8], vocabularySizes: [512],
                    model: "chameleon"))
        }
        try TokenFile.write(records, to: tokens, format: .jsonl)
        let out = dir.appendingPathComponent("lm.jsonl")
        try ToLM.parse(["--vocabulary", vocabulary.path, tokens.path, "-o", out.path]).run()
        let lines = try String(contentsOf: out, encoding: .utf8).split(separator: "\n")
        for (i, line) in lines.enumerated() {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let ids = try #require(object["lm"] as? [Int])
            #expect(ids == [517] + Array(lm[(i * 64)..<((i + 1) * 64)]) + [516])
        }
        #expect(lines.count == 2)
    }

    @Test func encodeOnTheLMDirectoryAndBehaviours() throws {
        let dir = try scratch("lm-encode")
        let image = chameleon.appendingPathComponent("rgba.png").path
        let out = dir.appendingPathComponent("t.jsonl")
        try Encode.parse(["--model", chameleon.path, image, "-o", out.path]).run()
        let e = try SafeTensorsFile(url: chameleon.appendingPathComponent("expected.safetensors"))
        #expect(try TokenFile.read(out).first?.tokens.ids == (try e.integers("rgba_original_codes")))
        let hf = dir.appendingPathComponent("hf.jsonl")
        try Encode.parse(["--model", chameleon.path, "--behave-as", "transformers", image, "-o", hf.path]).run()
        #expect(try TokenFile.read(hf).first?.tokens.shape == [8, 8])
        #expect(throws: (any Error).self) {
            try Encode.parse(["--behave-as", "transformers", image, "-o", dir.appendingPathComponent("x").path]).run()
        }
        // transformers' Chameleon has no decoder: the error says so.
        let error = #expect(throws: (any Error).self) {
            try Decode.parse(["--model", chameleon.path, out.path, "-o", dir.appendingPathComponent("d").path]).run()
        }
        #expect("\(error!)".contains("no decoder"))
    }
}
