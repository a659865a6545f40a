import ArgumentParser
import Foundation
import Tessera
import TesseraTestSupport
import Testing

@testable import TesseraCLI

/// Shard folders with the demo TiTok (--resume, workers) and the LM-stream commands (`tokens to-lm` / `from-lm`).
@Suite struct StreamCommandTests {
    let model = CLIFixtures.demoModel.path
    let images = [CLIFixtures.asset("coffee.jpg"), CLIFixtures.asset("rocket.jpg")]

    @Test func resumeContinuesOnlyTheSameRun() throws {
        let out = try scratch("resume").appendingPathComponent("shards")
        let arguments = ["--model", model, "--shard-samples", "1"] + images + ["-o", out.path]
        try Encode.parse(arguments).run()
        let shard0 = try Data(contentsOf: out.appendingPathComponent("shard-00000.jsonl"))
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("shard-00001.jsonl").path))
        #expect(try lines(out.appendingPathComponent("shards.jsonl")).count == 2)

        let again = errorMessage { try Encode.parse(arguments).run() }
        #expect(again?.contains("--resume") == true, "\(again ?? "")")

        try Encode.parse(arguments + ["--resume"]).run()
        #expect(try Data(contentsOf: out.appendingPathComponent("shard-00000.jsonl")) == shard0)
        #expect(try lines(out.appendingPathComponent("manifest.jsonl")).count == 2)

        let other = errorMessage { try Encode.parse(arguments + ["--resume", "--tokens", "8"]).run() }
        #expect(other?.contains("different run") == true, "\(other ?? "")")
    }

    @Test func workersSplitTheInputs() throws {
        let out = try scratch("workers").appendingPathComponent("shards")
        for worker in 0..<2 {
            try Encode.parse(
                ["--model", model, "--shard-index", "\(worker)", "--num-shards", "2"] + images
                    + ["-o", out.path]
            ).run()
        }
        for (worker, image) in images.enumerated() {
            let prefix = String(format: "w%03d-", worker)
            #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent(prefix + "run.json").path))
            let records = try TokenFile.read(out.appendingPathComponent(prefix + "shard-00000.jsonl"))
            #expect(records.map(\.source) == [image])
            #expect(try lines(out.appendingPathComponent(prefix + "manifest.jsonl")).count == 1)
        }
    }

    @Test func lmStreamsMapBackAndDecode() throws {
        let folder = try scratch("lm")
        let vocabulary = folder.appendingPathComponent("vocab.json")
        try VocabularyCommand.parse(["--layout", "chameleon", "--codebooks", "1024", "-o", vocabulary.path]).run()
        let tokens = folder.appendingPathComponent("tokens.jsonl")
        try Encode.parse(["--model", model] + images + ["-o", tokens.path]).run()
        let original = try TokenFile.read(tokens)

        let streams = folder.appendingPathComponent("streams.jsonl")
        try ToLM.parse(["--vocabulary", vocabulary.path, tokens.path, "-o", streams.path]).run()
        let lm = try lines(streams).map { line in
            try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        }
        #expect(lm.count == 2)
        let first = try #require(lm.first?["lm"] as? [Int])
        #expect(first == [8197] + original[0].tokens.ids.map { $0 + 4 } + [8196])
        #expect(lm.map { $0["source"] as? String } == images)

        let back = folder.appendingPathComponent("back.jsonl")
        try FromLM.parse(["--vocabulary", vocabulary.path, streams.path, "-o", back.path]).run()
        let restored = try TokenFile.read(back)
        #expect(restored.map(\.tokens.ids) == original.map(\.tokens.ids))
        #expect(restored.map(\.source) == images)

        let decoded = folder.appendingPathComponent("decoded")
        try Decode.parse(["--model", model, back.path, "-o", decoded.path]).run()
        #expect(try pngNames(in: decoded) == ["coffee.png", "rocket.png"])
    }

    @Test func textFormMapsBack() throws {
        let folder = try scratch("lm-text")
        let vocabulary = folder.appendingPathComponent("vocab.json")
        try VocabularyCommand.parse(["--layout", "emu3", "--text-vocabulary", "1000", "-o", vocabulary.path]).run()
        let tokens = folder.appendingPathComponent("tokens.jsonl")
        try Encode.parse(["--model", model, images[0], "-o", tokens.path]).run()
        let streams = folder.appendingPathComponent("streams.jsonl")
        try ToLM.parse(["--vocabulary", vocabulary.path, "--text", tokens.path, "-o", streams.path]).run()
        let line = try #require(try lines(streams).first)
        #expect(line.contains("<|visual token "))
        let back = folder.appendingPathComponent("back.npy")
        try FromLM.parse(["--vocabulary", vocabulary.path, streams.path, "-o", back.path]).run()
        #expect(try TokenFile.read(back).map(\.tokens.ids) == TokenFile.read(tokens).map(\.tokens.ids))
    }

    @Test func fromLMReportsTheBadLine() throws {
        let folder = try scratch("lm-bad")
        let vocabulary = folder.appendingPathComponent("vocab.json")
        try VisualVocabulary.chameleon(codebookSize: 1024).write(to: vocabulary)
        let streams = folder.appendingPathComponent("streams.jsonl")
        try Data("{\"lm\": [8197, 4, 8196]}\nnot json\n".utf8).write(to: streams)
        let message = errorMessage {
            try FromLM.parse([
                "--vocabulary", vocabulary.path, streams.path, "-o",
                folder.appendingPathComponent("t.jsonl").path,
            ]).run()
        }
        #expect(message?.contains("line 2") == true, "\(message ?? "")")
    }
}
