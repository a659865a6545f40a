import Foundation
import Testing

@testable import TesseraCore

/// Builds a safetensors file from a raw header string and data bytes.
func rawSafetensors(_ header: String, data: [UInt8]) -> [UInt8] {
    var out: [UInt8] = []
    withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { out += $0 }
    return out + Array(header.utf8) + data
}

@Suite struct SafeTensorsTests {
    let sample: [(String, SafeTensorsWriter.Payload)] = [
        ("a", .float(Tensor(shape: [2, 3], scalars: [1, -2, 3.5, 0, 1e-3, -7]))),
        ("b.half", .float(Tensor(shape: [3], scalars: [1, -2.5, 65504]), .float16)),
        ("c.bf16", .float(Tensor(shape: [2], scalars: [3.140625, -0.5]), .bfloat16)),
        ("ids", .integers([3, -1, 7], shape: [3])),
    ]

    @Test func roundTrip() throws {
        let bytes = try SafeTensorsWriter.serialize(sample, metadata: ["format": "pt"])
        let file = try SafeTensorsFile(bytes: bytes)
        #expect(file.metadata == ["format": "pt"])
        #expect(file.names == ["a", "b.half", "c.bf16", "ids"])
        #expect(try file.tensor("a").scalars == [1, -2, 3.5, 0, 1e-3, -7])
        #expect(try file.tensor("b.half").scalars == [1, -2.5, 65504])
        #expect(try file.tensor("c.bf16").scalars == [3.140625, -0.5])
        #expect(try file.integers("ids") == [3, -1, 7])
        #expect((8 + Int(bytes[0])) % 8 == 0)  // data section 8-byte aligned
    }

    @Test func bf16RoundsToNearestEven() {
        #expect(SafeTensorsWriter.bf16Bits(1.0) == 0x3F80)
        // 1 + 2^-8 lies exactly between two bf16 values: ties to even (down)
        #expect(SafeTensorsWriter.bf16Bits(1.00390625) == 0x3F80)
        #expect(SafeTensorsWriter.bf16Bits(1.01171875) == 0x3F82)  // 1 + 3·2^-8 ties up to even
    }

    @Test func fileOnDiskIsMemoryMapped() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-\(UUID()).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try SafeTensorsWriter.write(sample, to: url)
        let file = try SafeTensorsFile(url: url)
        #expect(try file.tensor("a").shape == [2, 3])
        let checkpoint = try Checkpoint(directory: url)
        #expect(checkpoint.names == ["a", "b.half", "c.bf16", "ids"])
    }

    /// Reading a tensor drops its mapped pages; reading it (or a neighbour sharing its edge pages)
    /// again faults them back from the file with the same values.
    @Test func tensorsReadAgainAfterTheirPagesAreReleased() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-\(UUID()).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        let sizes = [5000, 3, 20000, 1, 4097]
        let tensors = sizes.enumerated().map { i, n in
            ("t\(i)", Tensor(shape: [n], scalars: (0..<n).map { Float($0 % 997) * 0.5 - Float(i) }))
        }
        try SafeTensorsWriter.write(tensors.map { ($0.0, .float($0.1)) }, to: url)
        let file = try SafeTensorsFile(url: url)
        for _ in 0..<2 {
            for (name, expected) in tensors { #expect(try file.tensor(name) == expected, "\(name)") }
        }
        try file.withUnsafeBytes(of: "t2") { raw in
            #expect(raw.loadUnaligned(fromByteOffset: 4 * 1001, as: Float.self) == tensors[2].1.scalars[1001])
        }
    }

    @Test func malformedFilesAreRejected() {
        let f32x2: [UInt8] = [0, 0, 128, 63, 0, 0, 0, 64]
        let cases: [(String, [UInt8])] = [
            ("empty", []),
            ("shorter than the length field", [1, 2, 3]),
            ("absurd header length", [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 0x7B]),
            ("header past the end", rawSafetensors("{}", data: []).prefix(8) + Array("{}".utf8.dropLast())),
            ("invalid JSON", rawSafetensors("{\"a\": [", data: [])),
            ("not an object", rawSafetensors("[1, 2]", data: [])),
            ("unknown dtype", rawSafetensors(#"{"a":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}}"#, data: f32x2)),
            (
                "wrong byte count",
                rawSafetensors(#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: f32x2)
            ),
            (
                "offset out of range",
                rawSafetensors(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#, data: f32x2)
            ),
            (
                "reversed offsets",
                rawSafetensors(#"{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}"#, data: f32x2)
            ),
            (
                "negative extent",
                rawSafetensors(#"{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, data: f32x2)
            ),
            (
                "shape overflow",
                rawSafetensors(
                    #"{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}"#, data: f32x2)
            ),
            (
                "fractional extent",
                rawSafetensors(#"{"a":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}}"#, data: f32x2)
            ),
            (
                "overlap",
                rawSafetensors(
                    #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"#
                        + #""b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
                    data: f32x2)
            ),
            ("hole", rawSafetensors(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: f32x2)),
            ("trailing bytes", rawSafetensors(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, data: f32x2)),
            ("missing offsets", rawSafetensors(#"{"a":{"dtype":"F32","shape":[2]}}"#, data: f32x2)),
            ("bad metadata", rawSafetensors(#"{"__metadata__":{"x":1}}"#, data: [])),
        ]
        for (name, bytes) in cases {
            #expect(throws: SafeTensorsError.self, "\(name)") {
                try SafeTensorsFile(bytes: bytes, path: "bad.safetensors")
            }
        }
    }

    /// Random mutations of a valid header never crash the parser: each either parses
    /// (and then every tensor reads within bounds) or throws.
    @Test func fuzzMutatedHeaders() throws {
        let valid = try SafeTensorsWriter.serialize(sample)
        let headerLength = Int(valid[0]) | Int(valid[1]) << 8
        var rng = SeededRandom(seed: 42)
        var parsed = 0
        for _ in 0..<3000 {
            var bytes = valid
            for _ in 0..<(1 + Int(rng.next() % 4)) {
                let position = 8 + Int(rng.next() % UInt64(headerLength))
                switch rng.next() % 3 {
                case 0: bytes[position] = UInt8(truncatingIfNeeded: rng.next())
                case 1: bytes[position] = Array("0123456789[]{},:\"-".utf8)[Int(rng.next() % 18)]
                default: bytes[position] ^= 1 << UInt8(rng.next() % 8)
                }
            }
            if rng.next() % 8 == 0 { bytes.removeLast(Int(rng.next() % 12)) }
            if let file = try? SafeTensorsFile(bytes: bytes) {
                parsed += 1
                for name in file.names {
                    if let entry = file.entries[name], [.float32, .float16, .bfloat16].contains(entry.dtype) {
                        #expect(try file.tensor(name).count == entry.shape.reduce(1, *))
                    }
                }
            }
        }
        #expect(parsed < 3000)
    }

    @Test func shardedCheckpoints() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-shards-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try SafeTensorsWriter.write(
            [sample[0], sample[1]], to: dir.appendingPathComponent("model-00001-of-00002.safetensors"))
        try SafeTensorsWriter.write([sample[2]], to: dir.appendingPathComponent("model-00002-of-00002.safetensors"))
        let index =
            #"{"metadata":{},"weight_map":{"a":"model-00001-of-00002.safetensors","#
            + #""b.half":"model-00001-of-00002.safetensors","c.bf16":"model-00002-of-00002.safetensors"}}"#
        try Data(index.utf8).write(to: dir.appendingPathComponent("model.safetensors.index.json"))
        let checkpoint = try Checkpoint(directory: dir)
        #expect(checkpoint.names == ["a", "b.half", "c.bf16"])
        #expect(try checkpoint.tensor("c.bf16").scalars == [3.140625, -0.5])

        // An index that lies about where a tensor is.
        try Data(index.replacingOccurrences(of: #""c.bf16":"model-00002"#, with: #""c.bf16":"model-00001"#).utf8)
            .write(to: dir.appendingPathComponent("model.safetensors.index.json"))
        #expect(throws: SafeTensorsError.self) { try Checkpoint(directory: dir) }
        // A shard path escaping the directory.
        try Data(#"{"weight_map":{"a":"../x.safetensors"}}"#.utf8).write(
            to: dir.appendingPathComponent("model.safetensors.index.json"))
        #expect(throws: SafeTensorsError.self) { try Checkpoint(directory: dir) }
    }

    /// One dtype enum serves every format: each safetensors name maps to one type and back.
    @Test func safetensorsNamesRoundTrip() {
        let names = [
            "F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U64", "U32", "U16", "U8", "BOOL",
            "F8_E4M3", "F8_E5M2",
        ]
        #expect(Set(DType.allCases.map(\.safetensorsName)) == Set(names))
        #expect(names.allSatisfy { DType(safetensorsName: $0)?.safetensorsName == $0 })
        #expect(DType(safetensorsName: "F128") == nil)
    }
}
