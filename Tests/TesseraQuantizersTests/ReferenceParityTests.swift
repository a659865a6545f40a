import Foundation
import TesseraCore
import TesseraNN
import TesseraTestSupport
import Testing

@testable import TesseraQuantizers

struct QuantizerCase: Decodable, Sendable, CustomTestStringConvertible {
    var `case`: String
    var kind: String
    var testDescription: String { self.case }
}

enum QuantizerFixtures {
    static let root = Fixtures.url("quantizers")
    static let cases: [QuantizerCase] = {
        guard let data = try? Data(contentsOf: root.appendingPathComponent("cases.json")) else { return [] }
        return (try? JSONDecoder().decode([QuantizerCase].self, from: data)) ?? []
    }()
    static let file = try? SafeTensorsFile(url: root.appendingPathComponent("cases.safetensors"))
    nonisolated(unsafe) static let params = Fixtures.caseParameters("quantizers/cases.json")
}

/// Every quantizer against vector-quantize-pytorch (and reference code for TokenBridge and
/// binary latents): identical indices, codes ≤ 1e-6. Fixtures: Tests/Reference/make_quantizer_fixtures.py.
@Suite struct ReferenceParityTests {
    static let implemented: Set<String> = [
        "fsq", "lfq", "vq", "residual_vq", "grouped_residual_vq", "residual_fsq", "residual_lfq", "dimwise", "binary",
    ]

    @Test func fixturesArePresent() {
        #expect(QuantizerFixtures.cases.count >= 12)
        #expect(QuantizerFixtures.file != nil)
    }

    @Test(arguments: QuantizerFixtures.cases.filter { implemented.contains($0.kind) })
    func matchesReference(_ c: QuantizerCase) throws {
        let f = try #require(QuantizerFixtures.file)
        let p = QuantizerFixtures.params[c.case] ?? [:]
        func t(_ name: String) throws -> Tensor { try f.tensor("\(c.case)/\(name)") }
        func ints(_ name: String) throws -> [Int] { try f.integers("\(c.case)/\(name)") }
        let x = try t("x")
        let d = x.shape.last!
        let rows = x.reshaped([x.count / d, d])
        var ids: [Int] = []
        var codes = Tensor.zeros([1])
        var fromIDs = Tensor.zeros([1])
        switch c.kind {
        case "fsq":
            let q = try FSQ(levels: p["levels"] as! [Int], preserveSymmetry: p["preserve_symmetry"] as? Bool ?? false)
            (ids, codes) = try q.encode(rows)
            if c.case.hasSuffix("nonfinite") {
                // NaN rows are defined differently (PyTorch returns whatever the cast gives); compare finite rows only.
                let refIDs = try ints("indices")
                let finite = (0..<rows.shape[0]).filter { r in (0..<d).allSatisfy { !rows.scalars[r * d + $0].isNaN } }
                #expect(finite.map { ids[$0] } == finite.map { refIDs[$0] })
                return
            }
            fromIDs = try q.decode(try ints("indices"))
        case "lfq":
            let q = try LFQ(
                dimension: p["dim"] as! Int, codebooks: p["num_codebooks"] as? Int ?? 1,
                scale: Float(p["codebook_scale"] as? Double ?? 1), spherical: p["spherical"] as? Bool ?? false)
            (ids, codes) = try q.encode(rows)
            fromIDs = try q.decode(try ints("indices"))
        case "vq":
            let loader = try WeightLoader(
                try Checkpoint(directory: QuantizerFixtures.root.appendingPathComponent("cases.safetensors")),
                renames: [("\(c.case)/state/", "")])
            let q = try MultiHeadVectorQuantizer(
                loader.root, dim: p["dim"] as! Int, codebookSize: p["codebook_size"] as! Int,
                codebookDim: p["codebook_dim"] as? Int ?? (p["dim"] as! Int), heads: p["heads"] as? Int ?? 1,
                separate: p["separate_codebook_per_head"] as? Bool ?? false,
                cosine: p["use_cosine_sim"] as? Bool ?? false)
            (ids, codes) = try q.encode(rows)
            fromIDs = try q.decode(try ints("indices"))
        case "residual_vq":
            let loader = try WeightLoader(
                try Checkpoint(directory: QuantizerFixtures.root.appendingPathComponent("cases.safetensors")),
                renames: [("\(c.case)/state/", "")])
            let q = try ResidualVectorQuantizer(
                loader.root, dim: p["dim"] as! Int, codebookSize: p["codebook_size"] as! Int,
                quantizers: p["num_quantizers"] as! Int)
            (ids, codes) = try q.encode(rows)
            fromIDs = try q.decode(try ints("indices"))
        case "grouped_residual_vq":
            let loader = try WeightLoader(
                try Checkpoint(directory: QuantizerFixtures.root.appendingPathComponent("cases.safetensors")),
                renames: [("\(c.case)/state/", "")])
            let q = try GroupedResidualVectorQuantizer(
                loader.root, dim: p["dim"] as! Int, groups: p["groups"] as! Int,
                codebookSize: p["codebook_size"] as! Int, quantizers: p["num_quantizers"] as! Int)
            (ids, codes) = try q.encode(rows)
            fromIDs = try q.decode(try ints("indices"))
        case "residual_fsq":
            let q = try ResidualFSQ(levels: p["levels"] as! [Int], quantizers: p["num_quantizers"] as! Int)
            (ids, codes) = try q.encode(rows)
            fromIDs = try q.decode(try ints("indices"))
        case "residual_lfq":
            let q = try ResidualLFQ(dimension: p["dim"] as! Int, quantizers: p["num_quantizers"] as! Int)
            (ids, codes) = try q.encode(rows)
            fromIDs = try q.decode(try ints("indices"))
        case "dimwise":
            let q = try DimensionWiseQuantizer(
                bits: p["bits"] as! Int, range: Float(p["qmin"] as! Double)...Float(p["qmax"] as! Double),
                stdRange: p["std_range"] as! Double)
            let reps = try t("representatives")
            #expect(zip(q.representatives, reps.scalars).allSatisfy { abs(Float($0) - $1) < 1e-6 })
            ids = q.encode(x)
            codes = try q.decode(ids, shape: x.shape)
            fromIDs = codes
        case "binary":
            let q = try BinaryQuantizer(embedding: try t("embed"))
            ids = try q.encode(rows)
            codes = try q.decode(ids)
            #expect(try q.bitMatrix(ids).scalars == (try t("bits")).scalars)
            fromIDs = codes
        default:
            Issue.record("no Swift quantizer for \(c.kind)")
            return
        }
        let refIDs = try ints(c.kind == "binary" ? "ids" : "indices")
        // Near-ties (second-best distance within float32 noise of the best, `gap` < 1e-5 in the
        // fixture) may resolve either way: the distance expansion |x|² + |e|² − 2x·e loses the
        // difference to rounding in both implementations. Everything else must match exactly.
        let gaps = (try? t("gap"))?.scalars ?? []
        let perRow = max(1, refIDs.count / max(1, gaps.count))
        let tied = Set(gaps.enumerated().filter { $0.element < 1e-5 }.map(\.offset))
        do {
            #expect(ids.count == refIDs.count)
            let mismatches = zip(ids, refIDs).enumerated().filter { $0.element.0 != $0.element.1 }.map(\.offset)
            #expect(
                mismatches.allSatisfy { tied.contains($0 / perRow) },
                "\(c.case): indices differ at \(mismatches): \(ids) vs \(refIDs)")
        }
        let ref = try t("codes")
        #expect(codes.count == ref.count)
        guard codes.count == ref.count else { return }
        let rowWidth = ref.count / max(1, refIDs.count / perRow)
        for (name, got) in [("codes", codes), ("codes from indices", fromIDs)] {
            var worst: Float = 0
            for i in 0..<ref.count where !tied.contains(i / rowWidth) {
                worst = max(worst, abs(got.scalars[i] - ref.scalars[i]))
            }
            #expect(worst <= 1e-6, "\(c.case): \(name) differ by \(worst)")
        }
    }
}

@Suite struct UniTokTests {
    /// UniTok's checkpoint layout (raw codebooks, normalized at use) gives the package's ids.
    @Test func uniTokLayoutMatchesPackage() throws {
        let f = try #require(QuantizerFixtures.file)
        let raw = try f.tensor("vq_unitok/unitok_weight_raw")  // [8, 512, 8]
        let (c, k, d) = (raw.shape[0], raw.shape[1], raw.shape[2])
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-unitok-\(UUID()).safetensors")
        defer { try? FileManager.default.removeItem(at: dir) }
        var tensors: [(String, SafeTensorsWriter.Payload)] = []
        for i in 0..<c {
            tensors.append(
                ("quantizer.codebooks.\(i).codebook.weight", .float(raw.slice(axis: 0, i..<(i + 1)).reshaped([k, d]))))
            tensors.append(("quantizer.codebooks.\(i).vocab_usage", .float(Tensor.zeros([k]))))
        }
        try SafeTensorsWriter.write(tensors, to: dir)
        let loader = try WeightLoader(try Checkpoint(directory: dir))
        let q = try MultiHeadVectorQuantizer.uniTok(loader.root["quantizer"], codebooks: c, size: k, dim: d)
        try loader.finish()
        let x = try f.tensor("vq_unitok/x")
        let ids = try q.encode(x.reshaped([x.count / (c * d), c * d])).ids
        #expect(ids == (try f.integers("vq_unitok/indices")))
    }
}

@Suite struct QuantizerFileTests {
    /// Composite quantizers described by JSON + the package's state dict give the package's ids.
    @Test(arguments: [
        ("residual_vq", #"{"type": "residual_vq", "dim": 16, "codebook_size": 32, "num_quantizers": 3}"#),
        (
            "grouped_residual_vq",
            #"{"type": "grouped_residual_vq", "dim": 16, "groups": 2, "codebook_size": 32, "num_quantizers": 3}"#
        ),
        (
            "vq_heads2_sep",
            #"{"type": "vq", "dim": 16, "codebook_size": 64, "codebook_dim": 8, "heads": 2, "#
                + #""separate_codebook_per_head": true}"#
        ),
        ("vq_proj", #"{"type": "vq", "dim": 16, "codebook_size": 64, "codebook_dim": 8}"#),
        ("residual_fsq", #"{"type": "residual_fsq", "levels": [8, 5, 5, 5], "num_quantizers": 2}"#),
    ])
    func describedQuantizersMatch(_ entry: (String, String)) throws {
        let (name, json) = entry
        let f = try #require(QuantizerFixtures.file)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-qfile-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let state = f.names.filter { $0.hasPrefix("\(name)/state/") }
        try SafeTensorsWriter.write(
            try state.map { (String($0.dropFirst("\(name)/state/".count)), .float(try f.tensor($0))) },
            to: dir.appendingPathComponent("weights.safetensors"))
        let description = json.replacingOccurrences(
            of: "{\"type\"", with: "{\"weights\": \"weights.safetensors\", \"type\"")
        try Data(description.utf8).write(to: dir.appendingPathComponent("q.json"))
        let spec = try QuantizerSpec(parsing: dir.appendingPathComponent("q.json").path)
        let x = try f.tensor("\(name)/x")
        let d = x.shape.last!
        var ids = try spec.quantize(x.reshaped([x.count / d, d]))
        var reference = try f.integers("\(name)/indices")
        if name == "grouped_residual_vq" {
            // the package's (group, position, layer) → row-major (position, group, layer)
            let (g, m, q) = (2, x.count / d, 3)
            var rowMajor = reference
            for gi in 0..<g {
                for r in 0..<m { for l in 0..<q { rowMajor[(r * g + gi) * q + l] = reference[(gi * m + r) * q + l] } }
            }
            reference = rowMajor
        }
        if name == "vq_heads2_sep" || name == "vq_proj" {
            let gaps = try f.tensor("\(name)/gap").scalars
            let per = ids.count / gaps.count
            for (i, gap) in gaps.enumerated() where gap < 1e-5 {
                for j in 0..<per { ids[i * per + j] = reference[i * per + j] }
            }
        }
        #expect(ids == reference, "\(name)")
        let codes = try spec.dequantize(reference, rows: x.count / d, dimension: d)
        let ref = try f.tensor("\(name)/codes_from_indices")
        #expect(zip(codes.scalars, ref.scalars).allSatisfy { abs($0 - $1) <= 1e-6 }, "\(name) codes")
    }
}
