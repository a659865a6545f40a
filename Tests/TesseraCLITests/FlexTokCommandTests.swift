import ArgumentParser
import Foundation
import Tessera
import TesseraTestSupport
import Testing

@testable import TesseraCLI

/// `tessera encode` / `decode` / `roundtrip` with a FlexTok checkpoint in the published layout (the
/// official-code fixture): ids as upstream's, decodes from a noise file as upstream's, budgets.
@Suite struct FlexTokCommandTests {
    let model = Fixtures.url("flextok/zero_null")
    let images = [CLIFixtures.asset("astronaut.jpg"), CLIFixtures.asset("chelsea.png")]

    func encode() throws -> URL {
        let out = try scratch("flextok-encode").appendingPathComponent("tokens.jsonl")
        try Encode.parse(["--model", model.path] + images + ["-o", out.path]).run()
        return out
    }

    @Test func encodeGivesTheOfficialIDs() throws {
        let records = try TokenFile.read(try encode())
        let expected = try SafeTensorsFile(url: model.appendingPathComponent("expected.safetensors")).integers("ids")
        #expect(records.flatMap(\.tokens.ids) == expected)
        #expect(records.allSatisfy { $0.tokens.vocabularySizes == [64000] && $0.tokens.shape == [32] })
    }

    @Test func decodeFromANoiseFileReproducesTheOfficialImages() throws {
        let tokens = try encode()
        let e = try SafeTensorsFile(url: model.appendingPathComponent("expected.safetensors"))
        // decode 2 of the fixture: all 32 tokens, 2 steps, guidance 1.
        let noise = try scratch("flextok-noise").appendingPathComponent("noise.npy")
        try NPYArray(try e.tensor("decode2_noise")).write(to: noise)
        let out = try scratch("flextok-decode")
        try Decode.parse([
            "--model", model.path, tokens.path, "-o", out.path, "--steps", "2", "--guidance", "1", "--noise",
            noise.path,
        ]).run()
        let reference = try e.tensor("decode2_images")
        for (i, name) in ["astronaut.png", "chelsea.png"].enumerated() {
            let png = try Image(contentsOf: out.appendingPathComponent(name)).rgb()
            let plane = 64 * 64
            var worst = 0
            for y in 0..<64 {
                for x in 0..<64 {
                    for c in 0..<3 {
                        // upstream's batch_to_pil: (x·0.5 + 0.5).clamp(0, 1), ×255, truncated
                        let v = reference.scalars[(i * 3 + c) * plane + y * 64 + x]
                        let level = Int((min(max(v * 0.5 + 0.5, 0), 1) * 255).rounded(.towardZero))
                        worst = max(worst, abs(level - Int(png.pixels[(y * 64 + x) * 3 + c])))
                    }
                }
            }
            #expect(worst <= 1, "\(name): \(worst) levels from the official decode")
        }
    }

    @Test func roundtripPrintsEveryBudget() throws {
        let out = try scratch("flextok-roundtrip")
        try Roundtrip.parse([
            "--model", model.path, "--tokens", "1,4,32", "--steps", "2", images[1], "-o", out.path,
        ]).run()
        let strip = try Image(contentsOf: out.appendingPathComponent("chelsea_roundtrip.png"))
        #expect(strip.width == 4 * 64 && strip.height == 64, "original | 1 | 4 | 32 tokens")
    }

    @Test func badNoiseFilesAndOptionsAreNamed() throws {
        let tokens = try encode()
        let noise = try scratch("flextok-bad-noise").appendingPathComponent("noise.npy")
        try NPYArray(Tensor.zeros([1, 16, 8, 8])).write(to: noise)
        let message = errorMessage {
            try Decode.parse(["--model", model.path, tokens.path, "-o", "/tmp/unused", "--noise", noise.path]).run()
        }
        #expect(
            message?.contains("noise.npy") == true && message?.contains("[2, 16, 8, 8]") == true, "\(message ?? "")")
        let titok = errorMessage {
            try Decode.parse(["--model", CLIFixtures.demoModel.path, tokens.path, "-o", "/tmp/x", "--steps", "4"]).run()
        }
        #expect(titok?.contains("--steps") == true && titok?.contains("no sampling") == true, "\(titok ?? "")")
        let several = errorMessage {
            try Decode.parse(["--model", model.path, tokens.path, "-o", "/tmp/x", "--tokens", "1,2"]).run()
        }
        #expect(several?.contains("one budget") == true, "\(several ?? "")")
    }
}
