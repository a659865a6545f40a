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

    /// An Emu3 LM directory as transformers converts it: the emu3_lm fixture's config and
    /// tokenizer files, and the emu3 fixture's VQ weights under `vqmodel.`.
    func emu3LMDirectory(_ dir: URL) throws -> URL {
        let lm = dir.appendingPathComponent("Emu3-Chat-hf"), fm = FileManager.default
        try fm.createDirectory(at: lm, withIntermediateDirectories: true)
        for name in ["config.json", "tokenizer.json", "tokenizer_config.json"] {
            try fm.copyItem(
                at: Fixtures.url("vqgan/emu3_lm").appendingPathComponent(name), to: lm.appendingPathComponent(name))
        }
        let vq = try SafeTensorsFile(url: Fixtures.url("vqgan/emu3/model.safetensors"))
        try SafeTensorsWriter.write(
            try vq.names.map { ("vqmodel." + $0, .float(try vq.tensor($0))) },
            to: lm.appendingPathComponent("model.safetensors"))
        return lm
    }

    @Test func emu3StreamFromTheLMDirectory() throws {
        let dir = try scratch("lm-emu3")
        let lm = try emu3LMDirectory(dir)
        let vocabulary = dir.appendingPathComponent("vocab.json"), grouped = dir.appendingPathComponent("hf.json")
        try VocabularyCommand.parse(["--from-model", lm.path, "-o", vocabulary.path]).run()
        try VocabularyCommand.parse(["--from-model", lm.path, "--behave-as", "transformers", "-o", grouped.path]).run()
        // The original release's tokenizer files alone (its VQ-VAE is another repository).
        let original = dir.appendingPathComponent("original.json")
        try VocabularyCommand.parse(["--from-model", Fixtures.url("vqgan/emu3_original_lm").path, "-o", original.path])
            .run()
        #expect(try VisualVocabulary(contentsOf: vocabulary) == (try VisualVocabulary(contentsOf: original)))
        #expect(try VisualVocabulary(contentsOf: grouped).resolutionPieces?["12"] != nil)
        // The VQ-VAE loads from the LM's directory and knows its span; its codes (of the emu3 fixture's
        // images: the CLI's 512² minimum is too slow for a debug build) go through `tokens to-lm`.
        let model = try Emu3(directory: lm)
        let vocab = try VisualVocabulary(contentsOf: vocabulary)
        #expect(model.lmVocabulary == vocab)
        let e = try SafeTensorsFile(url: Fixtures.url("vqgan/emu3/expected.safetensors"))
        let image = try e.tensor("images").slice(axis: 0, 0..<1).reshaped([3, 24, 40])
        let codes = try model.encode(preprocessed: [image], options: EncodeOptions())[0]
        #expect(codes.ids == Array(try e.integers("image_codes").prefix(60)))
        let tokens = dir.appendingPathComponent("t.jsonl")
        try TokenFile.write([TokenRecord(source: "image", tokens: codes)], to: tokens, format: .jsonl)
        let out = dir.appendingPathComponent("lm.jsonl")
        try ToLM.parse(["--vocabulary", vocabulary.path, tokens.path, "-o", out.path]).run()
        let line = try #require(try String(contentsOf: out, encoding: .utf8).split(separator: "\n").first)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        let ids = try #require(object["lm"] as? [Int])
        #expect(ids == (try vocab.stream([codes])))
        #expect(
            ids.first == vocab.special.imageStart && ids.suffix(2) == [vocab.special.frameEnd, vocab.special.imageEnd])
        let record = TokenRecord(source: "image", tokens: codes)
        #expect(try vocab.tokens(fromStream: ids, model: record.tokens.model) == [record.tokens])
    }

    @Test func emu3VideosAreClips() throws {
        let dir = try scratch("lm-emu3-video")
        let model = dir.appendingPathComponent("emu3")
        try FileManager.default.copyItem(at: Fixtures.url("vqgan/emu3"), to: model)
        // Small pixel bounds, so the 48×32 test video keeps its size (and the debug build its speed).
        try Data(#"{"min_pixels": 64, "max_pixels": 1048576}"#.utf8)
            .write(to: model.appendingPathComponent("preprocessor_config.json"))
        let video = Fixtures.url("media/videos/h264_bframes.mp4")  // 18 frames
        let whole = dir.appendingPathComponent("whole.jsonl"), clips = dir.appendingPathComponent("clips.jsonl")
        try Encode.parse(["--model", model.path, "--uniform", "8", video.path, "-o", whole.path]).run()
        try Encode.parse(["--model", model.path, "--uniform", "10", "--clip-frames", "4", video.path, "-o", clips.path])
            .run()
        let one = try TokenFile.read(whole), chunks = try TokenFile.read(clips)
        // 8 frames → 4 → 2 code steps; 10 in clips of 4 → 1 step each, the 2-frame tail dropped.
        #expect(one.map(\.tokens.shape) == [[2, 8, 12]])
        #expect(chunks.map(\.tokens.shape) == [[1, 8, 12], [1, 8, 12]])
        let emu3 = try Emu3(directory: model)
        func frames(_ n: Int) throws -> Tensor {
            var reader = try VideoReader(url: video).frames(.uniform(count: n), from: nil, to: nil)
            var frames: [Tensor] = []
            while let frame = try reader.next() { frames.append(emu3.preprocessing.tensor(frame.image)) }
            return Tensor.concatenate(frames.map { $0.reshaped([1] + $0.shape) }, axis: 0)
        }
        #expect(one.first?.tokens == (try emu3.encode(clip: try frames(8))))
        #expect(chunks.first?.tokens == (try emu3.encode(clip: try frames(10).slice(axis: 0, 0..<4))))
        // Decoding the clip record gives its 8 frames, as the model's own decode(clip:).
        let decoded = dir.appendingPathComponent("decoded")
        try Decode.parse(["--model", model.path, whole.path, "-o", decoded.path]).run()
        let names = try FileManager.default.contentsOfDirectory(atPath: decoded.path).sorted()
        #expect(names == (0..<8).map { String(format: "h264_bframes_0.000s_frame%03d.png", $0) })
        let expected = try emu3.decodeFrames(try #require(one.first).tokens)
        let last = try Image(contentsOf: decoded.appendingPathComponent("h264_bframes_0.000s_frame007.png"))
        #expect(last == expected[7] && (last.width, last.height) == (48, 32))
        // Three frames are too few for the temporal factor: the video fails, with its name, and the
        // command exits non-zero without writing a file.
        let job = BatchEncoder(tokenizer: emu3, inputs: [video])
        job.sampling = .uniform(count: 3)
        let failed = try job.encodeAll { _, _ in }
        #expect(failed.first?.failure?.contains("h264_bframes.mp4") == true && failed.first?.records.isEmpty == true)
        let short = dir.appendingPathComponent("short.jsonl")
        #expect(throws: (any Error).self) {
            try Encode.parse(["--model", model.path, "--uniform", "3", video.path, "-o", short.path]).run()
        }
        #expect(!FileManager.default.fileExists(atPath: short.path))
    }
}
