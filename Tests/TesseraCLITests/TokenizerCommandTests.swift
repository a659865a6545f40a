import ArgumentParser
import Foundation
import Tessera
import TesseraTestSupport
import Testing

@testable import TesseraCLI

/// `tessera encode` / `decode` / `roundtrip` / `tokens stats` with the demo TiTok: token files, shards, --tokens.
@Suite struct TokenizerCommandTests {
    let model = CLIFixtures.demoModel.path
    let images = [CLIFixtures.asset("coffee.jpg"), CLIFixtures.asset("rocket.jpg")]

    /// Encodes `inputs` into a token file and reads it back.
    func encode(_ inputs: [String], _ arguments: [String] = [], file: String = "tokens.jsonl") throws -> (
        url: URL, records: [TokenRecord]
    ) {
        let out = try scratch("encode").appendingPathComponent(file)
        try Encode.parse(["--model", model] + arguments + inputs + ["-o", out.path]).run()
        return (out, try TokenFile.read(out))
    }

    @Test func encodeThenDecode() throws {
        let (tokens, records) = try encode(images)
        #expect(records.map(\.source) == images)
        for record in records {
            #expect(record.tokens.ids.count == 32)
            #expect(record.tokens.shape == [32])
            #expect(record.tokens.vocabularySizes == [1024])
            #expect(record.tokens.ids.allSatisfy { (0..<1024).contains($0) })
            #expect(record.frameTimestamp == nil)
            #expect(!record.tokens.model.isEmpty)
        }
        #expect(records[0].tokens.ids != records[1].tokens.ids)
        #expect(try lines(tokens).count == 2)

        let decoded = try scratch("decode")
        try Decode.parse(["--model", model, tokens.path, "-o", decoded.path]).run()
        #expect(try pngNames(in: decoded) == ["coffee.png", "rocket.png"])
        for name in ["coffee.png", "rocket.png"] {
            let image = try Image(contentsOf: decoded.appendingPathComponent(name))
            #expect(image.width == 128 && image.height == 128)
        }
    }

    @Test func encodingIsDeterministicAcrossFormats() throws {
        let (_, jsonl) = try encode(images)
        let (_, npy) = try encode(images, file: "tokens.npy")
        let (_, safetensors) = try encode(images, ["--format", "safetensors"], file: "tokens.safetensors")
        #expect(npy.map(\.tokens.ids) == jsonl.map(\.tokens.ids))
        #expect(safetensors.map(\.tokens.ids) == jsonl.map(\.tokens.ids))
        #expect(npy.map(\.source) == images)
    }

    @Test func videoFramesGetTimestamps() throws {
        let (_, records) = try encode([CLIFixtures.video.path], ["--uniform", "2"])
        #expect(records.count == 2)
        let times = records.compactMap(\.frameTimestamp)
        #expect(times.count == 2 && times[0] < times[1])
        #expect(records.allSatisfy { $0.tokens.ids.count == 32 && $0.source == CLIFixtures.video.path })
    }

    @Test func tokenLimitGivesShorterRecordsThatDecode() throws {
        let (tokens, records) = try encode([images[0]], ["--tokens", "8"])
        #expect(records.count == 1)
        #expect(records[0].tokens.ids.count == 8)
        #expect(records[0].tokens.shape == [8])
        let (_, full) = try encode([images[0]])
        #expect(Array(full[0].tokens.ids.prefix(8)) == records[0].tokens.ids)

        let decoded = try scratch("decode-8")
        try Decode.parse(["--model", model, "--tokens", "8", tokens.path, "-o", decoded.path]).run()
        #expect(try pngNames(in: decoded) == ["coffee.png"])
    }

    @Test(arguments: ["0", "33", "-1"])
    func tokenLimitOutsideTheModelIsRefused(_ value: String) throws {
        let out = try scratch("encode-refused").appendingPathComponent("tokens.jsonl")
        var message = ""
        do {
            try Encode.parse(["--model", model, "--tokens=\(value)", images[0], "-o", out.path]).run()
            Issue.record("--tokens=\(value) was accepted")
        } catch {
            message = Encode.message(for: error)
        }
        // 33 is checked against the model; 0 and −1 are not token counts at all (a parse error).
        let expected = value == "33" ? "--tokens must be in 1...32" : "'\(value)' is invalid for '--tokens"
        #expect(message.contains(expected), "\(message)")
        #expect(!FileManager.default.fileExists(atPath: out.path))
    }

    @Test func shardFolderReportsSkippedFiles() throws {
        let inputs = try scratch("encode-inputs")
        for path in images {
            try FileManager.default.copyItem(
                atPath: path,
                toPath: inputs.appendingPathComponent(
                    URL(fileURLWithPath: path).lastPathComponent
                ).path)
        }
        let notes = inputs.appendingPathComponent("notes.txt")
        try Data("not media".utf8).write(to: notes)
        let out = try scratch("encode-shards").appendingPathComponent("shards")
        try Encode.parse(["--model", model, inputs.path, "-o", out.path]).run()

        let run = try jsonObject(out.appendingPathComponent("run.json"))
        let skipped = try #require(run["skipped"] as? [String])
        #expect(skipped.map { URL(fileURLWithPath: $0).lastPathComponent } == ["notes.txt"])
        #expect(run["inputs"] as? Int == 2)
        #expect(run["format"] as? String == "jsonl")

        let manifest = try lines(out.appendingPathComponent("manifest.jsonl"))
        #expect(manifest.count == 2)
        #expect(!manifest.contains { $0.contains("notes.txt") })
        let records = try TokenFile.read(out.appendingPathComponent("shard-00000.jsonl"))
        #expect(records.map { URL(fileURLWithPath: $0.source).lastPathComponent } == ["coffee.jpg", "rocket.jpg"])
        #expect(records.allSatisfy { $0.tokens.ids.count == 32 })
        let errors = out.appendingPathComponent("errors.jsonl")
        #expect(try !FileManager.default.fileExists(atPath: errors.path) || lines(errors).isEmpty)
    }

    @Test func shardFolderWithTokenLimitAndBinFormat() throws {
        let out = try scratch("encode-bin").appendingPathComponent("shards")
        try Encode.parse(["--model", model, "--tokens", "8", "--format", "bin", images[0], "-o", out.path]).run()
        let records = try TokenFile.read(out.appendingPathComponent("shard-00000.bin"))
        #expect(records.count == 1)
        #expect(records.first?.tokens.ids.count == 8)
        let (_, file) = try encode([images[0]], ["--tokens", "8"])
        #expect(records.first?.tokens.ids == file.first?.tokens.ids)
    }

    @Test func aBrokenInputFailsTheRunButIsReported() throws {
        let inputs = try scratch("encode-broken")
        let broken = inputs.appendingPathComponent("broken.png")
        try Data([0x89, 0x50, 0x4E, 0x47, 1, 2, 3]).write(to: broken)
        let out = try scratch("encode-broken-out").appendingPathComponent("shards")
        let command = try Encode.parse(["--model", model, images[0], broken.path, "-o", out.path])
        #expect(throws: ExitCode.self) { try command.run() }
        let errors = try lines(out.appendingPathComponent("errors.jsonl"))
        #expect(errors.count == 1)
        #expect(errors.first?.contains("broken.png") == true)
        #expect(try lines(out.appendingPathComponent("manifest.jsonl")).count == 1)
    }

    @Test func roundtripWritesSideBySidePictures() throws {
        let out = try scratch("roundtrip")
        try Roundtrip.parse(["--model", model, images[0], "-o", out.path]).run()
        #expect(try pngNames(in: out) == ["coffee_roundtrip.png"])
        let pair = try Image(contentsOf: out.appendingPathComponent("coffee_roundtrip.png"))
        #expect(pair.width == 256 && pair.height == 128)
        // left: the preprocessed original, right: the reconstruction; they differ but are not unrelated
        let pixels = pair.rgb().pixels, row = 256 * 3
        let left = Image(
            width: 128, height: 128, layout: .rgb,
            pixels: (0..<128).flatMap { y in pixels[(y * row)..<(y * row + 384)] })
        let right = Image(
            width: 128, height: 128, layout: .rgb,
            pixels: (0..<128).flatMap { y in pixels[(y * row + 384)..<((y + 1) * row)] })
        let psnr = ImageQuality.psnr(left, right)
        #expect(psnr > 8 && psnr < 60, "PSNR \(psnr)")
    }

    @Test func statsReadTheTokenFile() throws {
        let (tokens, _) = try encode(images)
        try TokenStats.parse([tokens.path, "--json"]).run()
        let empty = try scratch("stats").appendingPathComponent("missing.jsonl")
        #expect(throws: (any Error).self) { try TokenStats.parse([empty.path]).run() }
    }

    @Test func encodeNeedsInputs() {
        #expect(throws: (any Error).self) { try Encode.parse(["--model", "m", "-o", "out.jsonl"]) }
        #expect(throws: (any Error).self) {
            try Encode.parse(["--shard-index", "2", "--num-shards", "2", "-o", "o", "a.png"])
        }
        #expect(throws: (any Error).self) { try Encode.parse(["--batch", "0", "-o", "o", "a.png"]) }
    }

    @Test func shardFormatNeedsAFolder() throws {
        let out = try scratch("encode-format").appendingPathComponent("tokens.jsonl")
        let message = errorMessage {
            try Encode.parse(["--model", model, "--format", "bin", images[0], "-o", out.path]).run()
        }
        #expect(message?.contains("give -o a folder") == true, "\(message ?? "")")
    }
}
