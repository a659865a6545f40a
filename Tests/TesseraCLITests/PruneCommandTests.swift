import ArgumentParser
import Foundation
import Tessera
import TesseraTestSupport
import Testing

@testable import TesseraCLI

/// `tessera prune` on CLIP, SigLIP and timm ViT: the file read back, merges, tiles, video, pictures, refusals.
@Suite struct PruneCommandTests {
    /// Runs `prune` and reads its output back.
    func prune(
        _ encoder: URL, _ arguments: [String], inputs: [String] = CLIFixtures.towerImages,
        visualize: URL? = nil, name: String = "prune"
    ) throws -> ReducedTokenFile {
        let out = try scratch(name).appendingPathComponent("out.safetensors")
        let pictures = visualize.map { ["--visualize", $0.path] } ?? []
        let command = try Prune.parse(["--encoder", encoder.path] + arguments + pictures + inputs + ["-o", out.path])
        try command.run()
        return try ReducedTokenFile(contentsOf: out)
    }

    /// Checks what every pruned (not merged) entry promises: sorted unique indices on the grid, one
    /// (t, h, w) per index matching it, one feature row per index.
    func checkPruned(
        _ entry: ReducedTokenFile.Entry, keep: Int, grid: Int, width: Int, frames: Int = 1,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let t = entry.tokens, n = grid * grid
        #expect(t.indices.count == keep * frames, sourceLocation: sourceLocation)
        #expect(t.indices == t.indices.sorted(), "indices not sorted: \(t.indices)", sourceLocation: sourceLocation)
        #expect(Set(t.indices).count == t.indices.count, sourceLocation: sourceLocation)
        #expect(t.indices.allSatisfy { (0..<(frames * n)).contains($0) }, sourceLocation: sourceLocation)
        #expect(t.positions.count == t.indices.count, sourceLocation: sourceLocation)
        for (index, p) in zip(t.indices, t.positions) {
            #expect(
                p == [index / n, index % n / grid, index % grid], "\(index) at \(p)",
                sourceLocation: sourceLocation)
        }
        #expect(t.features.shape == [keep * frames, width], sourceLocation: sourceLocation)
        #expect(t.grid == grid, sourceLocation: sourceLocation)
        #expect(t.inputTokens == frames * n, sourceLocation: sourceLocation)
        #expect(t.slots == nil && t.sizes == nil && t.partitions == nil, sourceLocation: sourceLocation)
    }

    @Test func negativeValuesParse() throws {
        let base = ["--encoder", "e", "--method", "tome", "a.png", "-o", "o.safetensors"]
        #expect(try Prune.parse(base + ["--layer", "-2"]).layer == -2)
        #expect(try Prune.parse(base + ["--layer=-1"]).layer == -1)
        #expect(try Prune.parse(base).layer == -2)
        #expect(try Prune.parse(base + ["--inflect", "-0.5"]).inflect == -0.5)
        #expect(try Prune.parse(base + ["--inflect=-0.5"]).inflect == -0.5)
        #expect(try Prune.parse(base + ["--tiles", "auto"]).tiles == .auto)
    }

    @Test func divpruneOnCLIP() throws {
        let file = try prune(CLIFixtures.clip, ["--method", "divprune", "--keep", "4", "--layer", "-2"])
        #expect(file.entries.map(\.source) == CLIFixtures.towerImages)
        #expect(file.method == "divprune")
        #expect(file.layer == -2)
        #expect(file.encoder == CLIFixtures.clip.path)
        #expect(file.rSchedule == nil)
        for entry in file.entries {
            checkPruned(entry, keep: 4, grid: 4, width: 64)
            #expect(entry.timestamps == nil)
        }
    }

    @Test func divpruneOnSigLIPWithEqualsLayer() throws {
        let file = try prune(CLIFixtures.siglip, ["--method", "divprune", "--keep", "4", "--layer=-1"])
        #expect(file.entries.count == 2)
        #expect(file.layer == -1)
        for entry in file.entries { checkPruned(entry, keep: 4, grid: 4, width: 64) }
        // the last layer's features differ from the default (-2) layer's
        let early = try prune(CLIFixtures.siglip, ["--method", "uniform", "--keep", "16"])
        let late = try prune(CLIFixtures.siglip, ["--method", "uniform", "--keep", "16", "--layer", "-1"])
        #expect(early.layer == -2)
        #expect(early.entries[0].tokens.indices == Array(0..<16))
        #expect(maxDifference(early.entries[0].tokens.features, late.entries[0].tokens.features) > 1e-4)
    }

    @Test func siglipRanksByAttentionReceived() throws {
        let file = try prune(CLIFixtures.siglip, ["--method", "hired", "--keep", "5"])
        #expect(file.method == "hired")
        for entry in file.entries { checkPruned(entry, keep: 5, grid: 4, width: 64) }
    }

    @Test func divpruneAndUniformOnTimmViT() throws {
        let image = [CLIFixtures.towerImages[1]]
        let file = try prune(CLIFixtures.vit, ["--method", "divprune", "--keep", "4"], inputs: image)
        #expect(file.entries.count == 1)
        checkPruned(file.entries[0], keep: 4, grid: 14, width: 192)
        let uniform = try prune(CLIFixtures.vit, ["--method", "uniform", "--keep", "6", "--layer", "0"], inputs: image)
        #expect(uniform.layer == 0)
        checkPruned(uniform.entries[0], keep: 6, grid: 14, width: 192)
    }

    @Test func tomeMergesInsideTheForwardPass() throws {
        let file = try prune(CLIFixtures.clip, ["--method", "tome", "--r", "2", "--layer", "-1"])
        #expect(file.method == "tome")
        #expect(file.layer == -1)
        #expect(file.rSchedule == [2, 2])
        for entry in file.entries {
            let t = entry.tokens
            // 16 patches, 2 merged in each of the 2 layers (CLS protected)
            #expect(t.features.shape == [12, 64])
            let slots = try #require(t.slots), sizes = try #require(t.sizes)
            #expect(slots.count == 16)
            #expect(sizes.count == 12)
            #expect(sizes.reduce(0, +) == 16)
            #expect(t.indices.count == 12 && t.positions.count == 12)
            #expect(t.indices == t.indices.sorted())
            for row in 0..<12 {
                let members = slots.indices.filter { slots[$0] == row }
                #expect(Float(members.count) == sizes[row], "row \(row)")
                #expect(members.first == t.indices[row], "row \(row): smallest patch index")
                #expect(t.positions[row] == [0, t.indices[row] / 4, t.indices[row] % 4])
            }
        }
        // merging stops at --layer: with the default -2 only the first layer merges
        let early = try prune(CLIFixtures.clip, ["--method", "tome", "--r", "2"])
        #expect(early.entries.allSatisfy { $0.tokens.features.shape == [14, 64] })
    }

    @Test func tomeWithNegativeInflectRuns() throws {
        let file = try prune(CLIFixtures.clip, ["--method", "tome", "--r", "2", "--inflect", "-0.5", "--layer", "-1"])
        let schedule = try #require(file.rSchedule)
        #expect(schedule.count == 2)
        let merged = 16 - schedule.reduce(0, +)
        for entry in file.entries {
            #expect(entry.tokens.features.shape == [merged, 64])
            #expect(entry.tokens.sizes?.reduce(0, +) == 16)
        }
    }

    @Test func hiredWithTilesOnCLIPAndPictures() throws {
        let pictures = try scratch("prune-pictures")
        let file = try prune(CLIFixtures.clip, ["--method", "hired", "--tiles", "2x2"], visualize: pictures)
        #expect(file.method == "hired")
        for entry in file.entries {
            let t = entry.tokens
            let partitions = try #require(t.partitions)
            #expect(!t.indices.isEmpty)
            #expect(partitions.count == t.indices.count)
            #expect(t.positions.count == t.indices.count)
            #expect(t.features.shape == [t.indices.count, 64])
            #expect(partitions.allSatisfy { (0...4).contains($0) })
            #expect(partitions == partitions.sorted())
            #expect(t.inputTokens == 16 * 5)
            for p in Set(partitions) {
                let local = zip(t.indices, partitions).filter { $0.1 == p }.map(\.0)
                #expect(local == local.sorted(), "partition \(p) indices \(local)")
                #expect(local.allSatisfy { (0..<16).contains($0) })
            }
            for ((index, p), position) in zip(zip(t.indices, partitions), t.positions) where p > 0 {
                let (row, column) = ((p - 1) / 2, (p - 1) % 2)
                #expect(position == [0, row * 4 + index / 4, column * 4 + index % 4])
            }
        }
        let names = try pngNames(in: pictures)
        #expect(
            names == [
                "astronaut_75x100.png", "astronaut_75x100_tiles.png",
                "chelsea_100x67.png", "chelsea_100x67_tiles.png",
            ])
        let base = try Image(contentsOf: pictures.appendingPathComponent("chelsea_100x67.png"))
        #expect(base.width == 56 && base.height == 56)
        let tiles = try Image(contentsOf: pictures.appendingPathComponent("chelsea_100x67_tiles.png"))
        #expect(tiles.width == 112 && tiles.height == 112)
    }

    @Test func hiredWithAutoTiles() throws {
        let file = try prune(
            CLIFixtures.clip, ["--method", "hired", "--tiles", "auto"],
            inputs: [Fixtures.url("towers/anyres/strip_200x60.png").path])
        let partitions = try #require(file.entries.first?.tokens.partitions)
        // a 200x60 strip is wide: LLaVA-NeXT's best fit is one row of tiles
        #expect(partitions.allSatisfy { (0...3).contains($0) })
        #expect(file.entries[0].tokens.inputTokens % 16 == 0)
        #expect(file.entries[0].tokens.inputTokens > 16)
    }

    @Test func uniformOnVideoFrames() throws {
        let pictures = try scratch("prune-video-pictures")
        let file = try prune(
            CLIFixtures.clip, ["--method", "uniform", "--keep", "4", "--uniform", "2"],
            inputs: [CLIFixtures.video.path], visualize: pictures)
        #expect(file.entries.count == 1)
        let entry = try #require(file.entries.first)
        #expect(entry.source == CLIFixtures.video.path)
        checkPruned(entry, keep: 4, grid: 4, width: 64, frames: 2)
        let times = try #require(entry.timestamps)
        #expect(times.count == 2)
        #expect(times == times.sorted() && times[0] < times[1])
        #expect(times.allSatisfy { $0 >= 0 })
        // the same patches of every frame
        let perFrame = entry.tokens.indices.map { $0 % 16 }
        #expect(Array(perFrame[0..<4]) == Array(perFrame[4..<8]))
        #expect(try pngNames(in: pictures) == ["sample_0000.png", "sample_0001.png"])
    }

    @Test func visualizeWritesOnePicturePerImage() throws {
        let pictures = try scratch("prune-divprune-pictures")
        _ = try prune(CLIFixtures.clip, ["--method", "divprune", "--keep", "4"], visualize: pictures)
        #expect(try pngNames(in: pictures) == ["astronaut_75x100.png", "chelsea_100x67.png"])
        let picture = try Image(contentsOf: pictures.appendingPathComponent("astronaut_75x100.png"))
        #expect(picture.width == 56 && picture.height == 56)
    }

    @Test func projectorMapsTheFeatures() throws {
        let directory = Fixtures.url("towers/projector")
        let projector = try LLaVAProjector(directory: directory)
        #expect(projector.inputWidth == 64)
        let file = try prune(CLIFixtures.clip, ["--method", "divprune", "--keep", "3", "--projector", directory.path])
        for entry in file.entries {
            #expect(entry.tokens.features.shape == [3, projector.outputWidth])
            #expect(entry.tokens.indices.count == 3)
        }
    }

    @Test func aBrokenInputFailsButTheOthersAreWritten() throws {
        let folder = try scratch("prune-broken")
        let broken = folder.appendingPathComponent("broken.jpg")
        try Data([0xFF, 0xD8, 0xFF, 0xE0, 1, 2]).write(to: broken)
        let out = folder.appendingPathComponent("out.safetensors")
        let command = try Prune.parse([
            "--encoder", CLIFixtures.clip.path, "--method", "uniform", "--keep", "2",
            broken.path, CLIFixtures.towerImages[0], "-o", out.path,
        ])
        #expect(throws: ExitCode.self) { try command.run() }
        let file = try ReducedTokenFile(contentsOf: out)
        #expect(file.entries.map(\.source) == [CLIFixtures.towerImages[0]])
    }

    @Test(arguments: [
        (["--method", "divprune"], "needs keep"),
        (["--method", "divprune", "--keep", "17"], "keep 17 is outside 1...16"),
        (["--method", "divprune", "--keep", "0"], "keep 0 is outside"),
        (["--method", "divprune", "--keep", "4", "--r", "2"], "r only applies"),
        (["--method", "divprune", "--keep", "4", "--tiles", "2x2"], "tiles only apply to hired"),
        (["--method", "divprune", "--keep", "4", "--layer", "-3"], "layer -3 is outside"),
        (["--method", "divprune", "--keep", "4", "--layer", "2"], "layer 2 is outside"),
        (["--method", "tome"], "tome needs r"),
        (["--method", "tome", "--r", "9"], "too large"),
        (["--method", "hired", "--tiles", "2x2", "--keep", "4"], "not keep"),
        (["--method", "hired", "--tiles", "5x1"], "do not fit"),
    ])
    func refusedRequestsSayWhy(_ arguments: [String], _ reason: String) throws {
        let out = try scratch("prune-refused").appendingPathComponent("out.safetensors")
        let message = errorMessage {
            try Prune.parse(
                ["--encoder", CLIFixtures.clip.path] + arguments
                    + [CLIFixtures.towerImages[0], "-o", out.path]
            ).run()
        }
        #expect(message?.contains(reason) == true, "\(arguments): \(message ?? "")")
        #expect(!FileManager.default.fileExists(atPath: out.path))
    }

    @Test func unknownEncoderListsTheFamilies() throws {
        let folder = try scratch("prune-bert")
        try Data(#"{"model_type": "bert"}"#.utf8).write(to: folder.appendingPathComponent("config.json"))
        let text = try #require(errorMessage { _ = try prune(folder, ["--method", "uniform", "--keep", "2"]) })
        #expect(text.contains("known families"))
        for entry in VisionEncoderRegistry.entries { #expect(text.contains(entry.family), "\(text)") }
    }
}
