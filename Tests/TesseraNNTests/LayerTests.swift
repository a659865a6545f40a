import Foundation
import TesseraCore
import TesseraTestSupport
import Testing

@testable import TesseraNN

struct LayerCase: Decodable, Sendable, CustomTestStringConvertible {
    var `case`: String
    var config: [String: JSONValue]
    var testDescription: String { self.case }
}

/// The three block layouts of the fixtures, with the real key names (the model families declare
/// the same presets next to their models).
enum FixtureKeys {
    static let timm = BlockKeys(
        norm1: "norm1", attention: "attn",
        attentionKeys: AttentionKeys(projections: .packed("qkv"), output: "proj"),
        norm2: "norm2", mlp: "mlp", mlpLayers: ("fc1", "fc2"),
        layerScale1: "ls1.gamma", layerScale2: "ls2.gamma")
    static let openCLIP = BlockKeys(
        norm1: "ln_1", attention: "attn",
        attentionKeys: AttentionKeys(
            projections: .packedTensors(weight: "in_proj_weight", bias: "in_proj_bias"),
            output: "out_proj"),
        norm2: "ln_2", mlp: "mlp", mlpLayers: ("c_fc", "c_proj"))
    static let huggingFace = BlockKeys(
        norm1: "layer_norm1", attention: "self_attn",
        attentionKeys: AttentionKeys(
            projections: .separate(query: "q_proj", key: "k_proj", value: "v_proj"), output: "out_proj"),
        norm2: "layer_norm2", mlp: "mlp", mlpLayers: ("fc1", "fc2"))
}

/// Layers bound to real checkpoint keys against timm / open_clip / transformers
/// (Tests/Fixtures/core/layers.json). Strict loading: every key used, none missing.
@Suite struct LayerTests {
    static let cases: [LayerCase] = Fixtures.load("core/layers.json") ?? []

    @Test func manifestIsPresent() { #expect(Self.cases.count >= 7) }

    @Test(arguments: cases)
    func matchesReference(_ c: LayerCase) throws {
        let dir = Fixtures.root.appendingPathComponent("core/layers")
        let loader = try WeightLoader(
            try Checkpoint(directory: dir.appendingPathComponent("\(c.case).weights.safetensors")))
        let io = try SafeTensorsFile(url: dir.appendingPathComponent("\(c.case).io.safetensors"))
        let w = loader.root
        let cfg = c.config
        var output: Tensor
        var probs: Tensor? = nil
        switch c.case {
        case "timm_block":
            let block = try TransformerBlock(
                w, keys: FixtureKeys.timm,
                shape: BlockShape(dim: 32, heads: 4, mlpHidden: 128, activation: .gelu, eps: 1e-6))
            (output, _) = block(try io.tensor("input"))
        case "openclip_block":
            let block = try TransformerBlock(
                w, keys: FixtureKeys.openCLIP,
                shape: BlockShape(dim: 32, heads: 4, mlpHidden: 128, activation: .gelu, eps: 1e-5))
            (output, _) = block(try io.tensor("input"))
        case "clip_encoder_layer", "siglip_encoder_layer":
            let act = try #require(Activation(configName: cfg["hidden_act"]!.string!))
            let block = try TransformerBlock(
                w, keys: FixtureKeys.huggingFace,
                shape: BlockShape(
                    dim: 32, heads: 4, mlpHidden: 64, activation: act,
                    eps: Float(cfg["layer_norm_eps"]!.double!)))
            (output, probs) = block(try io.tensor("input"), statistics: .full)
            let reference = try io.tensor("attn_probs")
            #expect(relativeError(try #require(probs), reference) <= 1e-5)
        case "swiglu":
            output = try SwiGLU(w, dim: 32, hidden: 48)(try io.tensor("input"))
        case "mlp":
            output = try MLP(w, dim: 32, hidden: 64, activation: .gelu)(try io.tensor("input"))
        case "embedding":
            let ids = try io.integers("input")
            output = try Embedding(w, count: 50, dim: 16)(ids, shape: try #require(io.entries["input"]).shape)
        default:
            Issue.record("no Swift layer for \(c.case)")
            return
        }
        try loader.finish()
        let reference = try io.tensor("output")
        #expect(output.shape == reference.shape)
        let err = relativeError(output, reference)
        #expect(err <= 1e-5, "\(c.case): relative error \(err)")
    }

    @Test func strictLoadingReportsEveryProblem() throws {
        let dir = Fixtures.root.appendingPathComponent("core/layers")
        let loader = try WeightLoader(
            try Checkpoint(directory: dir.appendingPathComponent("timm_block.weights.safetensors")))
        // Wrong width: every weight mismatches; a made-up key is missing; nothing is used.
        _ = try Linear(loader.root["attn.qkv"], in: 16, out: 48)
        _ = try loader.root.tensor("no.such.key", shape: [3])
        do {
            try loader.finish()
            Issue.record("expected a load error")
        } catch let e as WeightLoadError {
            #expect(e.missing == ["no.such.key"])
            #expect(e.mismatched.map(\.key).sorted() == ["attn.qkv.bias", "attn.qkv.weight"])
            #expect(e.unused.contains("norm1.weight") && e.unused.contains("mlp.fc2.bias"))
            #expect(e.description.contains("timm_block.weights.safetensors"))
        }
        // Renames and ignore rules for checkpoint quirks.
        let renamed = try WeightLoader(
            try Checkpoint(directory: dir.appendingPathComponent("mlp.weights.safetensors")),
            renames: [("fc1.", "first.")], ignored: ["fc2."])
        _ = try Linear(renamed.root["first"], in: 32, out: 64)
        try renamed.finish()
    }

    /// A config far larger than its checkpoint (the fuzzers' 2000 layers of width 256000) stops at
    /// the first stand-in past the checkpoint's size, before allocating it, and names the file.
    @Test func configsLargerThanTheirWeightsStopBeforeAllocating() throws {
        let file = Fixtures.root.appendingPathComponent("core/layers/mlp.weights.safetensors")
        let loader = try WeightLoader(try Checkpoint(directory: file))
        _ = try loader.root.tensor("missing.small", shape: [8])
        do {
            _ = try Linear(loader.root["huge"], in: 256_000, out: 256_000)  // 244 GiB if allocated
            Issue.record("expected the binding to stop")
        } catch let e as WeightLoadError {
            #expect(e.missing == ["huge.weight", "missing.small"])
            #expect(e.stopped?.contains("config is larger than its weights") == true, "\(e)")
            #expect(e.description.contains("mlp.weights.safetensors"))
        }
        // A negative or overflowing extent is a reported problem, never a trap.
        for shape in [[-32, 4], [1 << 40, 1 << 40]] {
            #expect(throws: WeightLoadError.self) { try loader.root.tensor("fc1.weight", shape: shape) }
        }
        // Random weights stop at the memory limit.
        let random = try WeightLoader(.random(seed: 1))
        MemoryLimit.withLimit(1 << 20) {
            #expect(throws: MemoryLimitError.self) { try random.root.tensor("w", shape: [1024, 1024]) }
        }
    }
}
