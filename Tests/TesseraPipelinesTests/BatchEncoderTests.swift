import Foundation
import TesseraTestSupport
import Testing

@testable import Tessera
@testable import TesseraStreams

private func scratchFolder(_ name: String) -> URL { Fixtures.scratchFolder(name) }
private func snapshot(_ folder: URL) throws -> [String: Data] { try Fixtures.snapshot(folder) }

@Suite struct BatchEncoderTests {
    static let root = Fixtures.repository

    /// Two images, a video (3 sampled frames), a corrupt, a truncated and a missing file.
    static func makeInputs() throws -> (folder: URL, inputs: [URL]) {
        let folder = scratchFolder("batch-in")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let assets = root.appendingPathComponent("Assets")
        let coffee = try Data(contentsOf: assets.appendingPathComponent("images/coffee.jpg"))
        try coffee.write(to: folder.appendingPathComponent("a_coffee.jpg"))
        try Data("not an image".utf8).write(to: folder.appendingPathComponent("b_corrupt.png"))
        try FileManager.default.copyItem(
            at: assets.appendingPathComponent("images/chelsea.png"), to: folder.appendingPathComponent("c_chelsea.png"))
        try coffee.prefix(coffee.count / 3).write(to: folder.appendingPathComponent("d_truncated.jpg"))
        try FileManager.default.copyItem(
            at: assets.appendingPathComponent("video/sample.mp4"), to: folder.appendingPathComponent("e_clip.mp4"))
        let inputs = try Media.expand([folder.path]) + [folder.appendingPathComponent("f_missing.jpg")]
        return (folder, inputs)
    }

    static func job(_ tokenizer: any ImageTokenizer, _ inputs: [URL]) -> BatchEncoder {
        let job = BatchEncoder(tokenizer: tokenizer, inputs: inputs)
        job.sampling = .uniform(count: 3)
        job.options.batchSize = 2
        return job
    }

    @Test func goodInputsEncodedBadOnesReported() throws {
        let tokenizer = try TokenizerRegistry.load(Self.root.appendingPathComponent("Assets/models/titok-demo"))
        let (inFolder, inputs) = try Self.makeInputs()
        let out = scratchFolder("batch-out")
        defer { try? FileManager.default.removeItem(at: inFolder); try? FileManager.default.removeItem(at: out) }
        var reports = 0
        let summary = try Self.job(tokenizer, inputs).run(into: out, shardSamples: 2, progress: { _ in reports += 1 })
        #expect(summary.samples == 5 && summary.failedInputs == 3 && summary.inputsDone == 6)
        #expect(reports >= 6)
        let errors = try JSONLines.read(FailureEntry.self, from: out.appendingPathComponent("errors.jsonl"))
        #expect(
            errors.map { URL(fileURLWithPath: $0.input).lastPathComponent } == [
                "b_corrupt.png", "d_truncated.jpg", "f_missing.jpg",
            ])
        #expect(errors.allSatisfy { $0.reason.contains(URL(fileURLWithPath: $0.input).lastPathComponent) })

        // The shards hold exactly what the tokenizer gives for each image and frame, in input order.
        let journal = try JSONLines.read(ShardEntry.self, from: out.appendingPathComponent("shards.jsonl"))
        let records = try journal.compactMap(\.shard).flatMap { try TokenFile.read(out.appendingPathComponent($0)) }
        #expect(
            records.map { URL(fileURLWithPath: $0.source).lastPathComponent } == [
                "a_coffee.jpg", "c_chelsea.png", "e_clip.mp4", "e_clip.mp4", "e_clip.mp4",
            ])
        let direct = try tokenizer.encode([Image(contentsOf: inputs[0]), Image(contentsOf: inputs[2])])
        #expect(records[0].tokens == direct[0] && records[1].tokens == direct[1])
        let frames = try VideoReader(url: inputs[4]).frames(.uniform(count: 3))
        var images: [Image] = [], stamps: [Double] = []
        var iterator = frames
        while let f = try iterator.next() { images.append(f.image); stamps.append(f.timestamp) }
        #expect(try tokenizer.encode(images) == records[2...].map(\.tokens))
        #expect(records[2...].map(\.frameTimestamp) == stamps)
        let manifest = try JSONLines.read(ManifestEntry.self, from: out.appendingPathComponent("manifest.jsonl"))
        #expect(manifest[0].sha256 == SHA256.hex(try Data(contentsOf: inputs[0])))
        #expect(manifest[0].sourceBytes == (try Data(contentsOf: inputs[0])).count)
    }

    /// The in-memory form (`tessera encode -o FILE`) delivers the same records and failures as
    /// the sharded run, in input order.
    @Test func encodeAllEqualsTheShardedRun() throws {
        let tokenizer = try TokenizerRegistry.load(Self.root.appendingPathComponent("Assets/models/titok-demo"))
        let (inFolder, inputs) = try Self.makeInputs()
        let out = scratchFolder("batch-all")
        defer { try? FileManager.default.removeItem(at: inFolder); try? FileManager.default.removeItem(at: out) }
        var calls: [(Int, Int)] = []
        let results = try Self.job(tokenizer, inputs).encodeAll { calls.append(($0, $1)) }
        #expect(results.map(\.source) == inputs.map(\.path))
        #expect(results.map { $0.failure != nil } == [false, true, false, true, false, true])
        #expect(calls.map(\.0) == Array(1...6) && calls.last?.1 == 5)
        _ = try Self.job(tokenizer, inputs).run(into: out)
        let sharded = try TokenFile.read(out.appendingPathComponent("shard-00000.jsonl"))
        let collected = results.flatMap(\.records)
        #expect(collected.map(\.tokens) == sharded.map(\.tokens))
        #expect(collected.map(\.frameTimestamp) == sharded.map(\.frameTimestamp))
        #expect(results[0].sha256 == SHA256.hex(try Data(contentsOf: inputs[0])))
    }

    @Test func stoppedRunsResumeToTheSameShards() throws {
        let tokenizer = try TokenizerRegistry.load(Self.root.appendingPathComponent("Assets/models/titok-demo"))
        let (inFolder, inputs) = try Self.makeInputs()
        let reference = scratchFolder("batch-ref"), resumed = scratchFolder("batch-resumed")
        defer { [inFolder, reference, resumed].forEach { try? FileManager.default.removeItem(at: $0) } }
        _ = try Self.job(tokenizer, inputs).run(into: reference, format: .tar, shardSamples: 2)
        // Stop at once after 2 inputs, then ask for a graceful stop right away, then finish.
        var seen = 0
        let first = try Self.job(tokenizer, inputs).run(
            into: resumed, format: .tar, shardSamples: 2,
            progress: { _ in seen += 1 }, stop: { seen >= 2 ? .now : .no })
        #expect(first.inputsDone < inputs.count)
        _ = try Self.job(tokenizer, inputs).run(
            into: resumed, format: .tar, shardSamples: 2, resume: true, stop: { .afterShard })
        _ = try Self.job(tokenizer, inputs).run(into: resumed, format: .tar, shardSamples: 2, resume: true)
        #expect(try snapshot(resumed) == snapshot(reference))
    }

    @Test func lmStreamToTokensToTheSameImage() throws {
        let tokenizer = try TokenizerRegistry.load(Self.root.appendingPathComponent("Assets/models/titok-demo"))
        let image = try Image(contentsOf: Self.root.appendingPathComponent("Assets/images/rocket.jpg"))
        let tokens = try tokenizer.encode([image])[0]
        let vocabulary = VisualVocabulary.emu3(
            codebookSize: tokenizer.descriptor.vocabularySizes[0], textVocabularySize: 151_643)
        let fromIDs = try vocabulary.tokens(fromStream: vocabulary.stream([tokens]), model: tokenizer.modelID)
        let fromText = try vocabulary.tokens(fromText: vocabulary.text([tokens]), model: tokenizer.modelID)
        #expect(fromIDs == [tokens] && fromText == [tokens])
        let reference = try tokenizer.decodeImages([tokens])[0]
        #expect(try tokenizer.decodeImages(fromIDs)[0] == reference)
        #expect(try tokenizer.decodeImages(fromText)[0] == reference)
    }

    @Test func workersCoverEveryInputOnce() {
        let inputs = (0..<103).map { URL(fileURLWithPath: "/data/\($0).jpg") }
        for n in [1, 2, 3, 7, 200] {
            let parts = (0..<n).map { BatchEncoder.partition(inputs, index: $0, count: n) }
            #expect(
                parts.flatMap { $0 }.sorted { $0.path < $1.path } == inputs.sorted { $0.path < $1.path }, "n = \(n)")
            #expect(parts.map(\.count).reduce(0, +) == inputs.count)
        }
    }
}
