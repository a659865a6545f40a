import Foundation
import Tessera
import TesseraTestSupport
import Testing

@testable import TesseraCLI

/// The option value types (`ByteSize`, `TileChoice`, `IntegerList`) accept what `--help` says and refuse the rest.
@Suite struct ArgumentTypesTests {
    @Test func byteSizeUnderstandsSuffixes() {
        #expect(ByteSize(argument: "256M")?.bytes == 268_435_456)
        #expect(ByteSize(argument: "512K")?.bytes == 524_288)
        #expect(ByteSize(argument: "1G")?.bytes == 1_073_741_824)
        #expect(ByteSize(argument: "1000")?.bytes == 1000)
        #expect(ByteSize(argument: "256mb")?.bytes == 268_435_456)
    }

    @Test(arguments: ["-1M", "abc", "", "0", "M", "-5"])
    func byteSizeRefusesNonsense(_ text: String) {
        #expect(ByteSize(argument: text) == nil, "\(text) should be refused")
    }

    @Test func shardSizeOptionParses() throws {
        let encode = try Encode.parse(["--shard-size", "512K", "-o", "out", "a.png"])
        #expect(encode.shardSize.bytes == 524_288)
        #expect(try Encode.parse(["-o", "out", "a.png"]).shardSize.bytes == 256 << 20)
        #expect(throws: (any Error).self) { try Encode.parse(["--shard-size", "-1M", "-o", "out", "a.png"]) }
    }

    /// `--memory-limit` is read by every command that reads files, and applied before it runs.
    @Test func memoryLimitOptionParses() throws {
        let encode = try Encode.parse(["--memory-limit", "2.5G", "-o", "out", "a.png"])
        #expect(encode.resources.memoryLimit?.bytes == 5 << 29)
        #expect(try Encode.parse(["-o", "out", "a.png"]).resources.memoryLimit == nil)
        #expect(throws: (any Error).self) { try Decode.parse(["--memory-limit", "12x", "t.jsonl", "-o", "out"]) }
        let command = try TesseraCommand.parseAsRoot(["info", "--memory-limit", "64M", "a.png"])
        #expect((command as? any ResourceLimited)?.resources.memoryLimit?.bytes == 64 << 20)
    }

    @Test func tileChoiceParsesGridsAndAuto() {
        #expect(TileChoice(argument: "2x3") == .grid(TileGrid(rows: 2, columns: 3)))
        #expect(TileChoice(argument: "1X2") == .grid(TileGrid(rows: 1, columns: 2)))
        #expect(TileChoice(argument: "auto") == .auto)
        #expect(TileChoice(argument: "AUTO") == .auto)
    }

    @Test(arguments: ["2x", "x2", "2", "0x2", "2x-1", "axb", "2x2x2", ""])
    func tileChoiceRefusesMalformedGrids(_ text: String) {
        #expect(TileChoice(argument: text) == nil, "\(text) should be refused")
    }

    @Test func integerListParsesCommaSeparatedPositives() {
        #expect(IntegerList(argument: "2,2,3")?.values == [2, 2, 3])
        #expect(IntegerList(argument: "7")?.values == [7])
        #expect(IntegerList(argument: " 4, 5 ")?.values == [4, 5])
    }

    @Test(arguments: ["", "0", "2,0", "-1,2", "a,b", "2,x"])
    func integerListRefusesNonPositives(_ text: String) {
        #expect(IntegerList(argument: text) == nil, "\(text) should be refused")
    }

    @Test func groupsOptionReachesPrune() throws {
        let prune = try Prune.parse(["--encoder", "e", "--method", "tempme", "--groups", "2,2,3", "v.mp4", "-o", "o"])
        #expect(prune.groups?.values == [2, 2, 3])
        #expect(throws: (any Error).self) {
            try Prune.parse(["--encoder", "e", "--method", "tempme", "--groups", "2,0", "v.mp4", "-o", "o"])
        }
    }

    @Test func unknownMethodAndFormatAreRefusedByTheParser() {
        #expect(throws: (any Error).self) {
            try Prune.parse(["--encoder", "e", "--method", "nope", "a.png", "-o", "o"])
        }
        #expect(throws: (any Error).self) { try Encode.parse(["--format", "zip", "-o", "o", "a.png"]) }
        #expect(throws: (any Error).self) { try Features.parse(["--model", "m", "--pool", "max", "a.png", "-o", "o"]) }
    }
}

/// `tessera tokens vocabulary` writes vocabularies that `VisualVocabulary(contentsOf:)` reads back.
@Suite struct VocabularyCommandTests {
    @Test func chameleonLayoutRoundTrips() throws {
        let out = try scratch("vocab").appendingPathComponent("chameleon.json")
        try VocabularyCommand.parse(["--layout", "chameleon", "-o", out.path]).run()
        let vocabulary = try VisualVocabulary(contentsOf: out)
        #expect(vocabulary == .chameleon(codebookSize: 8192))
        #expect(vocabulary.lmOffsets == [4])
        #expect(vocabulary.special.imageStart == 8197)
        #expect(vocabulary.special.imageEnd == 8196)
    }

    @Test func codebooksAndOffsetsAreApplied() throws {
        let folder = try scratch("vocab")
        let chameleon = folder.appendingPathComponent("c1024.json")
        try VocabularyCommand.parse(["--layout", "chameleon", "--codebooks", "1024", "-o", chameleon.path]).run()
        #expect(try VisualVocabulary(contentsOf: chameleon).codebookSizes == [1024])

        let plain = folder.appendingPathComponent("plain.json")
        try VocabularyCommand.parse(["--codebooks", "16,32", "--offset", "100", "-o", plain.path]).run()
        let p = try VisualVocabulary(contentsOf: plain)
        #expect(p == .plain(codebookSizes: [16, 32], offset: 100))
        #expect(p.lmOffsets == [100, 116])

        let emu3 = folder.appendingPathComponent("emu3.json")
        try VocabularyCommand.parse(["--layout", "emu3", "--text-vocabulary", "1000", "-o", emu3.path]).run()
        #expect(try VisualVocabulary(contentsOf: emu3) == .emu3(codebookSize: 1024, textVocabularySize: 1000))
    }

    @Test func unknownLayoutFailsToParse() {
        #expect(throws: (any Error).self) { try VocabularyCommand.parse(["--layout", "nope", "-o", "v.json"]) }
        #expect(throws: (any Error).self) {
            try TesseraCommand.parseAsRoot(["tokens", "vocabulary", "--layout", "nope", "-o", "v.json"])
        }
    }

    @Test func chameleonRefusesSeveralCodebooks() throws {
        let out = try scratch("vocab").appendingPathComponent("bad.json")
        let message = errorMessage {
            try VocabularyCommand.parse(["--layout", "chameleon", "--codebooks", "8,8", "-o", out.path]).run()
        }
        #expect(message?.contains("one codebook") == true, "\(message ?? "")")
        #expect(!FileManager.default.fileExists(atPath: out.path))
    }

    @Test func vocabularyIsReachableFromTheRoot() throws {
        let out = try scratch("vocab").appendingPathComponent("root.json")
        var command = try TesseraCommand.parseAsRoot(["tokens", "vocabulary", "--layout", "emu3", "-o", out.path])
        #expect(command is VocabularyCommand)
        try command.run()
        #expect(try VisualVocabulary(contentsOf: out).layout == "emu3")
    }
}
