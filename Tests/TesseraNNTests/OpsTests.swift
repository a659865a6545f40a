import Foundation
import TesseraCore
import TesseraTestSupport
import Testing

@testable import TesseraNN

struct OpCase: Decodable, Sendable, CustomTestStringConvertible {
    var `case`: String
    var op: String
    var params: [String: JSONValue]?
    var testDescription: String { self.case }
}

/// Every tensor op against PyTorch (Tests/Fixtures/core/ops.json, made by
/// Tests/Reference/make_core_fixtures.py). Tolerance: 1e-5 relative to the output's scale.
@Suite struct OpsTests {
    static let cases: [OpCase] = Fixtures.load("core/ops.json") ?? []
    static let file = try? SafeTensorsFile(url: Fixtures.root.appendingPathComponent("core/ops.safetensors"))

    @Test func manifestIsPresent() {
        #expect(Self.cases.count >= 45)
        #expect(Self.file != nil)
    }

    @Test(arguments: cases)
    func matchesPyTorch(_ c: OpCase) throws {
        let f = try #require(Self.file)
        func t(_ name: String) throws -> Tensor { try f.tensor("\(c.case)/\(name)") }
        func ints(_ name: String) throws -> [Int] { try f.integers("\(c.case)/\(name)") }
        let p = c.params ?? [:]
        func check(_ got: Tensor, _ name: String = "y", tolerance: Float = 1e-5) throws {
            let ref = try t(name)
            #expect(got.shape == ref.shape, "\(c.case)/\(name): shape \(got.shape) vs \(ref.shape)")
            guard got.shape == ref.shape else { return }
            let err = relativeError(got, ref)
            #expect(err <= tolerance, "\(c.case)/\(name): relative error \(err)")
        }
        let dim = p["dim"]?.int ?? -1
        switch c.op {
        case "matmul":
            try check(try t("a").matmul(try t("b"), transposeB: p["transpose_b"]?.bool ?? false))
        case "linear":
            try check(try t("x").linear(weight: try t("weight"), bias: p["bias"]?.bool == true ? try t("bias") : nil))
        case "conv2d":
            let s = p["stride"]!.int!, pad = p["padding"]!.int!
            try check(
                try t("x").conv2d(
                    weight: try t("weight"), bias: p["bias"]?.bool == true ? try t("bias") : nil,
                    stride: (s, s), padding: (pad, pad)))
        case "layer_norm":
            let affine = p["affine"]?.bool ?? true
            try check(
                try t("x").layerNorm(
                    weight: affine ? try t("weight") : nil, bias: affine ? try t("bias") : nil,
                    eps: Float(p["eps"]!.double!)))
        case "group_norm":
            try check(
                try t("x").groupNorm(
                    groups: p["num_groups"]!.int!, weight: try t("weight"), bias: try t("bias"),
                    eps: Float(p["eps"]!.double!)))
        case "gelu":
            try check(try t("x").activated(p["approximate"]?.string == "tanh" ? .geluTanh : .gelu))
        case "quick_gelu": try check(try t("x").activated(.quickGelu))
        case "silu": try check(try t("x").activated(.silu))
        case "tanh": try check(try t("x").activated(.tanh))
        case "sigmoid": try check(try t("x").activated(.sigmoid))
        case "relu": try check(try t("x").activated(.relu))
        case "softmax": try check(try t("x").softmax())
        case "log_softmax": try check(try t("x").logSoftmax())
        case "scaled_dot_product_attention":
            let bias = c.case == "attention_bias" ? try t("bias") : nil
            let mask = c.case == "attention_mask" ? try ints("mask").map { $0 != 0 } : nil
            let (y, probs) = scaledDotProductAttention(
                q: try t("q"), k: try t("k"), v: try t("v"), bias: bias, mask: mask, statistics: .full)
            try check(y)
            try check(try #require(probs), "probs")
            // Row and column statistics agree with the full maps.
            let full = try t("probs")
            let (_, cls) = scaledDotProductAttention(
                q: try t("q"), k: try t("k"), v: try t("v"), bias: bias, mask: mask, statistics: .rows([0]))
            try check(try #require(cls), tolerance: 1e-5, expected: full.slice(axis: 2, 0..<1))
            let (_, cols) = scaledDotProductAttention(
                q: try t("q"), k: try t("k"), v: try t("v"), bias: bias, mask: mask, statistics: .columnMeans)
            try check(try #require(cols), tolerance: 1e-5, expected: full.mean(axis: 2))
        case "multihead_attention":
            let loader = try WeightLoader(
                try Checkpoint(directory: Fixtures.root.appendingPathComponent("core/ops.safetensors")),
                renames: [("mha/", "")])
            let attention = try SelfAttention(loader.root, dim: 16, heads: 4, keys: FixtureKeys.openCLIP.attentionKeys)
            let (y, probs) = attention(try t("x"), statistics: .full)
            try check(y)
            try check(try #require(probs), "attn_weights_per_head")
            try check(try #require(probs).mean(axis: 1), "attn_weights")
        case "interpolate":
            let x = try t("x")
            let size = p["size"]?.ints ?? [x.shape[2] * p["scale_factor"]!.int!, x.shape[3] * p["scale_factor"]!.int!]
            let mode: Tensor.InterpolationMode
            switch p["mode"]!.string! {
            case "nearest": mode = .nearest
            case "nearest-exact": mode = .nearestExact
            default: mode = .bilinear(alignCorners: p["align_corners"]?.bool ?? false)
            }
            try check(x.interpolated(height: size[0], width: size[1], mode: mode))
        case "sum": try check(try t("x").sum(axis: dim, keepDims: p["keepdim"]?.bool ?? false))
        case "mean": try check(try t("x").mean(axis: dim))
        case "var": try check(try t("x").variance(axis: dim))
        case "cumsum": try check(try t("x").cumulativeSum(axis: dim))
        case "max", "min":
            let x = try t("x")
            try check(c.op == "max" ? x.maximum(axis: dim) : x.minimum(axis: dim), "values")
            #expect((c.op == "max" ? x.argmax(axis: dim) : x.argmin(axis: dim)) == (try ints("indices")))
        case "argmax": #expect(try t("x").argmax(axis: dim) == (try ints("indices")))
        case "argmin": #expect(try t("x").argmin(axis: dim) == (try ints("indices")))
        case "sort":
            let (values, indices) = try t("x").sorted(axis: dim, descending: p["descending"]?.bool ?? false)
            try check(values, "values")
            #expect(indices == (try ints("indices")))
        case "topk":
            let (values, indices) = try t("x").topK(p["k"]!.int!, axis: dim, largest: p["largest"]?.bool ?? true)
            try check(values, "values")
            #expect(indices == (try ints("indices")))
        case "index_select":
            try check(try t("x").indexSelect(axis: dim, try ints("index")))
        case "gather":
            let index = try ints("index")
            let shape = try #require(f.entries["\(c.case)/index"]).shape
            try check(try t("x").gather(axis: dim, index: index, indexShape: shape))
        case "scatter_add":
            try check(try t("x").scatterAdd(axis: dim, index: try ints("index"), source: try t("src")))
        default:
            Issue.record("no Swift counterpart for op \(c.op)")
        }

        func check(_ got: Tensor, tolerance: Float, expected: Tensor) throws {
            #expect(got.shape == expected.shape)
            if got.shape == expected.shape {
                #expect(relativeError(got, expected) <= tolerance, "\(c.case) statistics")
            }
        }
    }
}
