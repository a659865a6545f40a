import Foundation
import TesseraCore
import TesseraTestSupport
import Testing

@testable import TesseraStreams

private func scratchFolder(_ name: String) -> URL { Fixtures.scratchFolder(name) }
private func snapshot(_ folder: URL) throws -> [String: Data] { try Fixtures.snapshot(folder) }

@Suite struct SHA256Tests {
    @Test func knownDigests() {
        #expect(SHA256.hex(Data()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(Data("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(
            SHA256.hex(Data("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(
            SHA256.hex(Data(repeating: UInt8(ascii: "a"), count: 1_000_000))
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func chunkedUpdatesMatchOneShot() {
        let data = Data((0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
        for split in [1, 63, 64, 65, 500] {
            var h = SHA256()
            h.update(data.prefix(split))
            h.update(data.dropFirst(split))
            #expect(h.finalizeHex() == SHA256.hex(data), "split \(split)")
        }
    }
}

@Suite struct VisualVocabularyTests {
    let grid = Tokens(ids: [0, 5, 7, 8191], shape: [2, 2], vocabularySizes: [8192], model: "m")

    @Test func chameleonStream() throws {
        let v = VisualVocabulary.chameleon()
        let tokens = Tokens(ids: [0, 1, 8191], shape: [3], vocabularySizes: [8192], model: "m")
        #expect(try v.stream([tokens]) == [8197, 4, 5, 8195, 8196])
        #expect(try v.tokens(fromStream: [8197, 4, 5, 8195, 8196], model: "m") == [tokens])
        #expect(v.storageType == .uint16)
    }

    @Test func emu3GridWithRowBreaksAndText() throws {
        let v = VisualVocabulary.emu3(codebookSize: 8192, textVocabularySize: 100_000)
        let s = 100_000
        #expect(try v.stream([grid]) == [s, s + 2, s + 5, s + 10, s + 3, s + 12, s + 5 + 8191, s + 3, s + 4, s + 1])
        #expect(try v.tokens(fromStream: v.stream([grid]), model: "m") == [grid])
        let text = try v.text([grid])
        #expect(
            text == "<|image start|>2*2<|image token|><|visual token 000000|><|visual token 000005|><|extra_200|>"
                + "<|visual token 000007|><|visual token 008191|><|extra_200|><|extra_201|><|image end|>")
        #expect(try v.tokens(fromText: text, model: "m") == [grid])
        #expect(v.storageType == .uint32)
    }

    @Test func videoFramesAndMultiCodebook() throws {
        var v = VisualVocabulary(
            offset: 1000, codebookSizes: [16, 4], special: .init(imageStart: 1, imageEnd: 2, frameSeparator: 3))
        v.resolution = ["2": 9]
        let a = Tokens(ids: [15, 3, 0, 0], shape: [2, 2], vocabularySizes: [16, 4], model: "m")
        let b = Tokens(ids: [1, 2, 3, 1], shape: [2, 2], vocabularySizes: [16, 4], model: "m")
        let stream = try v.stream([a, b])
        #expect(stream == [1, 9, 1015, 1019, 1000, 1016, 2, 3, 1, 9, 1001, 1018, 1003, 1017, 2])
        #expect(try v.tokens(fromStream: stream, model: "m") == [a, b])
    }

    @Test func badStreamsAndVocabulariesAreErrors() throws {
        let v = VisualVocabulary.chameleon()
        #expect(throws: TokenFileError.self) { try v.tokens(fromStream: [8197, 3, 8196]) }  // below the visual range
        #expect(throws: TokenFileError.self) {
            try v.stream([Tokens(ids: [8192], shape: [1], vocabularySizes: [8192], model: "")])
        }
        #expect(throws: TokenFileError.self) {
            // a special token inside the visual range
            try VisualVocabulary(offset: 0, codebookSizes: [10], special: .init(imageStart: 5)).validate()
        }
        #expect(throws: TokenFileError.self) {
            try VisualVocabulary(codebookSizes: [10, 10], codebookOffsets: [0, 5]).validate()  // overlapping codebooks
        }
        #expect(throws: TokenFileError.self) {
            try VisualVocabulary(codebookSizes: [70000], lmVocabularySize: 65536).validate()
        }
        let e = VisualVocabulary.emu3(codebookSize: 16, textVocabularySize: 10)
        #expect(throws: TokenFileError.self) { try e.tokens(fromText: "<|image start|><|visual token 000001|>hello") }
        #expect(throws: TokenFileError.self) {
            try e.tokens(
                fromText:
                    "<|visual token 000001|><|extra_200|><|visual token 000001|><|visual token 000002|><|extra_200|>")
        }
    }

    @Test func fileRoundTrip() throws {
        let url = scratchFolder("vocab").appendingPathExtension("json")
        defer { try? FileManager.default.removeItem(at: url) }
        let v = VisualVocabulary.emu3(codebookSize: 32768, textVocabularySize: 151_643)
        try v.write(to: url)
        #expect(try VisualVocabulary(contentsOf: url) == v)
        try Data("{\"offset\": 1}".utf8).write(to: url)
        #expect(throws: TokenFileError.self) { try VisualVocabulary(contentsOf: url) }
    }
}

/// `.bin` shards are Megatron-LM indexed datasets too: the `.idx` Tessera writes equals, byte
/// for byte, the one megatron-core's `IndexedDatasetBuilder` writes for the same sequences
/// (Tests/Reference/make_megatron_fixtures.py).
@Suite struct MegatronIndexTests {
    static let folder = Fixtures.url("streams/megatron")

    @Test(arguments: [("uint16", DType.uint16), ("int32", DType.uint32)])
    func megatronIndexMatchesMegatronCore(_ name: String, _ storage: DType) throws {
        struct Fixture: Decodable { var datasets: [String: Dataset] }
        struct Dataset: Decodable { var sequences: [[Int]] }
        let fixture = try JSONDecoder().decode(
            Fixture.self, from: Data(contentsOf: Self.folder.appendingPathComponent("sequences.json")))
        let sequences = try #require(fixture.datasets[name]).sequences
        let expected = try Data(contentsOf: Self.folder.appendingPathComponent("\(name).idx"))
        #expect(ShardEncoder.megatronIndex(lengths: sequences.map(\.count), storage: storage) == expected)
        // and the .bin beside it is the ids back to back, as Tessera writes its streams
        let bin = try Data(contentsOf: Self.folder.appendingPathComponent("\(name).bin"))
        var ours = Data()
        for id in sequences.joined() {
            if storage == .uint16 {
                withUnsafeBytes(of: UInt16(id).littleEndian) { ours.append(contentsOf: $0) }
            } else {
                withUnsafeBytes(of: UInt32(id).littleEndian) { ours.append(contentsOf: $0) }
            }
        }
        #expect(ours == bin)
    }
}

@Suite struct TarArchiveTests {
    @Test func roundTripAndCorruption() throws {
        let members = [
            TarArchive.Member(name: "000000001.json", data: Data("{}".utf8)),
            TarArchive.Member(name: "000000001.ids.npy", data: Data(repeating: 7, count: 513)),
        ]
        let data = try TarArchive.archive(members)
        #expect(data.count % 512 == 0)
        #expect(try TarArchive.members(of: data, path: "t.tar") == members)
        var bad = data
        bad[130] ^= 1  // size field: checksum no longer matches
        #expect(throws: TokenFileError.self) { try TarArchive.members(of: bad, path: "t.tar") }
        #expect(throws: TokenFileError.self) { try TarArchive.members(of: data.prefix(700), path: "t.tar") }
        #expect(throws: TokenFileError.self) {
            try TarArchive.archive([.init(name: String(repeating: "x", count: 101), data: Data())])
        }
    }
}

@Suite struct TokenStreamWriterTests {
    /// Synthetic inputs: some images, a 3-frame video, and failures between them.
    static func inputs() -> [EncodedInput] {
        (0..<23).map { i in
            if i % 7 == 3 {
                return EncodedInput(
                    source: "bad\(i).jpg", sourceBytes: 10, sha256: "00", records: [], failure: "bad\(i).jpg: corrupt")
            }
            let frames = i % 5 == 4 ? 3 : 1
            let records = (0..<frames).map { f in
                TokenRecord(
                    source: "in\(i)", frameTimestamp: frames > 1 ? Double(f) * 0.5 : nil,
                    tokens: Tokens(
                        ids: (0..<6).map { (i * 31 + f * 7 + $0 * 13) % 64 }, shape: [6], vocabularySizes: [64],
                        model: "m"))
            }
            return EncodedInput(
                source: "in\(i)", sourceBytes: 100 + i, sha256: String(format: "%064x", i), records: records)
        }
    }

    static func options(_ format: ShardFormat) -> TokenStreamWriter.Options {
        TokenStreamWriter.Options(
            format: format, shardBytes: 1 << 30, shardSamples: 4,
            vocabulary: format == .bin ? .chameleon(codebookSize: 64) : nil,
            model: "m", fingerprint: "f", inputCount: inputs().count)
    }

    static func writeAll(_ folder: URL, _ format: ShardFormat) throws -> TokenStreamWriter.Summary {
        let writer = try TokenStreamWriter(directory: folder, options: options(format), resume: false)
        for input in inputs() { try writer.append(input) }
        return try writer.finish()
    }

    @Test func shardsCloseWhenTheirBufferReachesAQuarterOfTheMemoryLimit() throws {
        let folder = scratchFolder("memory-bound")
        defer { try? FileManager.default.removeItem(at: folder) }
        let records = 3000
        let summary = try MemoryLimit.withLimit(4 << 20) {
            // 4 MiB limit: a 1 MiB buffer, about 480 tiny records, though the byte budget is 1 GiB
            let options = TokenStreamWriter.Options(
                format: .jsonl, shardBytes: 1 << 30, model: "m", fingerprint: "f", inputCount: records)
            let writer = try TokenStreamWriter(directory: folder, options: options, resume: false)
            for i in 0..<records {
                let tokens = Tokens(ids: [i % 64, 1, 2], shape: [3], vocabularySizes: [64], model: "m")
                try writer.append(
                    EncodedInput(
                        source: "in\(i)", sourceBytes: 1, sha256: "00",
                        records: [TokenRecord(source: "in\(i)", tokens: tokens)]))
            }
            return try writer.finish()
        }
        #expect(summary.samples == records && summary.inputsDone == records)
        #expect((5...8).contains(summary.shards), "\(summary.shards) shards")
        let journal = try JSONLines.read(ShardEntry.self, from: folder.appendingPathComponent("shards.jsonl"))
        #expect(journal.reduce(0) { $0 + $1.samples } == records)
    }

    @Test(arguments: ShardFormat.allCases)
    func everyFormatRoundTrips(_ format: ShardFormat) throws {
        let folder = scratchFolder("shards")
        defer { try? FileManager.default.removeItem(at: folder) }
        let summary = try Self.writeAll(folder, format)
        let expected = Self.inputs().flatMap(\.records)
        #expect(summary.samples == expected.count && summary.failedInputs == 3 && summary.inputsDone == 23)
        let journal = try JSONLines.read(ShardEntry.self, from: folder.appendingPathComponent("shards.jsonl"))
        var read: [TokenRecord] = []
        for entry in journal {
            if let shard = entry.shard { read += try TokenFile.read(folder.appendingPathComponent(shard)) }
        }
        #expect(read.map(\.tokens.ids) == expected.map(\.tokens.ids))
        #expect(read.map(\.source) == expected.map(\.source))
        #expect(read.map(\.frameTimestamp) == expected.map(\.frameTimestamp))
        let manifest = try JSONLines.read(ManifestEntry.self, from: folder.appendingPathComponent("manifest.jsonl"))
        // Shards hold whole inputs and rotate at the first input that brings them to 4 samples.
        #expect(zip(journal, journal.dropFirst()).allSatisfy { $0.inputs[1] == $1.inputs[0] })
        for entry in journal where entry.shard != nil {
            let inShard = manifest.filter { $0.shard == entry.shard }
            #expect(
                inShard.count == entry.samples
                    && Set(inShard.map(\.inputIndex)).allSatisfy { (entry.inputs[0]..<entry.inputs[1]).contains($0) })
            #expect(inShard.filter { $0.inputIndex != inShard.last!.inputIndex }.count < 4)
        }
        #expect(manifest.map(\.source) == expected.map(\.source))
        #expect(Set(manifest.map(\.key)).count == manifest.count)
        let errors = try JSONLines.read(FailureEntry.self, from: folder.appendingPathComponent("errors.jsonl"))
        #expect(errors.map(\.inputIndex) == [3, 10, 17])
    }

    /// A run stopped at random points — mid-shard, or during any step of a commit, with torn
    /// journal lines and stray temporary files — and resumed gives the same bytes as one run.
    @Test(arguments: [ShardFormat.jsonl, .bin, .tar])
    func interruptedRunsResumeToIdenticalOutput(_ format: ShardFormat) throws {
        let reference = scratchFolder("reference")
        defer { try? FileManager.default.removeItem(at: reference) }
        _ = try Self.writeAll(reference, format)
        let expected = try snapshot(reference)
        var rng = SystemRandomNumberGenerator()
        struct Crash: Error {}
        for trial in 0..<12 {
            let folder = scratchFolder("resume")
            defer { try? FileManager.default.removeItem(at: folder) }
            let inputs = Self.inputs()
            var crashes = 0
            // Crash up to three times, then let the run finish.
            while true {
                let writer = try TokenStreamWriter(directory: folder, options: Self.options(format), resume: true)
                let crashAt = crashes < 3 ? Int.random(in: writer.completedInputs...inputs.count, using: &rng) : Int.max
                let phase = ["files", "manifest", "errors", "mid-shard"].randomElement(using: &rng)!
                if phase != "mid-shard" {
                    writer.faultInjection = { step in if step == phase && crashAt != .max { throw Crash() } }
                }
                do {
                    for (i, input) in inputs.enumerated().dropFirst(writer.completedInputs) {
                        if phase == "mid-shard" && i == crashAt { throw Crash() }
                        try writer.append(input)
                    }
                    try writer.finish()
                    break
                } catch is Crash {
                    crashes += 1
                    // A kill can also tear the line being appended and leave a temporary file.
                    if Bool.random(using: &rng) {
                        let journal = try FileHandle(
                            forWritingTo: folder.appendingPathComponent(
                                ["shards.jsonl", "manifest.jsonl", "errors.jsonl"].randomElement(using: &rng)!))
                        try journal.seekToEnd()
                        try journal.write(contentsOf: Data("{\"shard\":\"sha".utf8))
                        try journal.close()
                    }
                    try Data("partial".utf8).write(to: folder.appendingPathComponent(".tmp-shard-00099.jsonl"))
                }
            }
            let got = try snapshot(folder)
            #expect(got.keys.sorted() == expected.keys.sorted(), "trial \(trial)")
            for (name, data) in expected { #expect(got[name] == data, "trial \(trial): \(name) differs") }
        }
    }

    @Test func videoSequencesJoinFramesWithSeparators() throws {
        let folder = scratchFolder("sequences")
        defer { try? FileManager.default.removeItem(at: folder) }
        var options = Self.options(.bin)
        options.vocabulary = .emu3(codebookSize: 64, textVocabularySize: 1000)
        options.videoSequences = true
        let writer = try TokenStreamWriter(directory: folder, options: options, resume: false)
        for input in Self.inputs() { try writer.append(input) }
        try writer.finish()
        let journal = try JSONLines.read(ShardEntry.self, from: folder.appendingPathComponent("shards.jsonl"))
        var read: [TokenRecord] = [], samples = 0
        for shard in journal.compactMap(\.shard) {
            read += try TokenFile.read(folder.appendingPathComponent(shard))
            let offsets = folder.appendingPathComponent(shard.replacingOccurrences(of: ".bin", with: ".idx.npy"))
            samples += try NPYArray(contentsOf: offsets).shape[0]
        }
        let expected = Self.inputs().flatMap(\.records)
        #expect(read == expected)
        #expect(samples == Self.inputs().filter { !$0.records.isEmpty }.count)  // one sample per input, videos included
        // The first video's stream holds its three frames, each an image span closed by a frame end.
        let video = Self.inputs()[4].records.map(\.tokens)
        #expect(try options.vocabulary!.stream(video).filter { $0 == 1004 }.count == 3)
        var plain = Self.options(.jsonl)
        plain.videoSequences = true
        #expect(throws: TokenFileError.self) {
            try TokenStreamWriter(directory: scratchFolder("bad"), options: plain, resume: false)
        }
    }

    /// A damaged or hostile journal is refused on resume, naming it, before anything in the folder
    /// is touched: ranges that do not chain or pass the run's inputs (they would index the input
    /// list), impossible counts, files outside the folder, and committed shards that are gone.
    @Test(arguments: [
        #"{"shard":"shard-00000.jsonl","files":["shard-00000.jsonl"],"samples":1,"failed":0,"inputs":[0,1000000000000],"bytes":1}"#,
        #"{"shard":"shard-00000.jsonl","files":["shard-00000.jsonl"],"samples":1,"failed":0,"inputs":[-5,2],"bytes":1}"#,
        #"{"shard":"shard-00000.jsonl","files":["shard-00000.jsonl"],"samples":1,"failed":-1,"inputs":[0,2],"bytes":1}"#,
        #"{"shard":"../run.json","files":["../run.json"],"samples":1,"failed":0,"inputs":[0,2],"bytes":1}"#,
        #"{"shard":"shard-00077.jsonl","files":["shard-00077.jsonl"],"samples":1,"failed":0,"inputs":[0,2],"bytes":1}"#,
    ])
    func refusesDamagedJournals(_ line: String) throws {
        let folder = scratchFolder("journal")
        defer { try? FileManager.default.removeItem(at: folder) }
        _ = try Self.writeAll(folder, .jsonl)
        let journal = folder.appendingPathComponent("shards.jsonl")
        try Data((line + "\n").utf8).write(to: journal)
        let before = try snapshot(folder)
        let error = try #require(throws: TokenFileError.self) {
            try TokenStreamWriter(directory: folder, options: Self.options(.jsonl), resume: true)
        }
        #expect(error.path == journal.path && error.description.contains("entry 1"), "\(error)")
        #expect(try snapshot(folder) == before)
    }

    @Test func refusesForeignOrDifferentRuns() throws {
        let folder = scratchFolder("refuse")
        defer { try? FileManager.default.removeItem(at: folder) }
        _ = try Self.writeAll(folder, .jsonl)
        #expect(throws: TokenFileError.self) {
            try TokenStreamWriter(directory: folder, options: Self.options(.jsonl), resume: false)
        }
        var other = Self.options(.jsonl)
        other.fingerprint = "other inputs"
        #expect(throws: TokenFileError.self) { try TokenStreamWriter(directory: folder, options: other, resume: true) }
        #expect(throws: TokenFileError.self) {
            try TokenStreamWriter(
                directory: folder, options: .init(format: .bin, model: "m", fingerprint: "f", inputCount: 1),
                resume: true)
        }
        let foreign = scratchFolder("foreign")
        defer { try? FileManager.default.removeItem(at: foreign) }
        try FileManager.default.createDirectory(at: foreign, withIntermediateDirectories: true)
        try Data().write(to: foreign.appendingPathComponent("shard-00000.jsonl"))
        #expect(throws: TokenFileError.self) {
            try TokenStreamWriter(directory: foreign, options: Self.options(.jsonl), resume: true)
        }
        #expect(FileManager.default.fileExists(atPath: foreign.appendingPathComponent("shard-00000.jsonl").path))
    }
}
