import Foundation
import TesseraCore
import TesseraMedia
import TesseraNN
import TesseraReduction
import TesseraTestSupport
import Testing

@testable import TesseraModels

/// A whole timm ViT (vit_tiny layout, depth 2, random weights) against timm on real images
/// (Tests/Fixtures/vit, made by Tests/Reference/make_core_fixtures.py).
@Suite struct TimmViTTests {
    static let dir = Fixtures.root.appendingPathComponent("vit")

    @Test func configFromHubDirectory() throws {
        let config = try TimmViTConfig(directory: Self.dir.appendingPathComponent("model"))
        #expect(config.depth == 2 && config.embedDim == 192 && config.heads == 3 && config.numClasses == 10)
        #expect(config.imageSize == 224 && config.patchSize == 16 && config.cropPercent == 0.9)
    }

    @Test func preprocessingMatchesTimmTransform() throws {
        let config = try TimmViTConfig(directory: Self.dir.appendingPathComponent("model"))
        let expected = try SafeTensorsFile(url: Self.dir.appendingPathComponent("expected.safetensors")).tensor(
            "pixel_values")
        for (i, name) in ["astronaut.jpg", "chelsea.png"].enumerated() {
            let image = try Image(contentsOf: Self.dir.appendingPathComponent("images/\(name)"))
            let pixels = config.preprocessing.tensor(image)
            let reference = expected.slice(axis: 0, i..<(i + 1)).reshaped([3, 224, 224])
            #expect(maxDifference(pixels, reference) <= 1e-6, "\(name)")
        }
    }

    @Test func outputsMatchTimm() throws {
        let model = try TimmViT(directory: Self.dir.appendingPathComponent("model"))
        let expected = try SafeTensorsFile(url: Self.dir.appendingPathComponent("expected.safetensors"))
        let pixels = try expected.tensor("pixel_values")
        let out = model.forward(pixels, keepHiddenStates: true)
        let hidden = out.hiddenStates
        #expect(hidden.count == 3)
        for (name, value) in [
            ("blocks.0", hidden[1]), ("blocks.1", hidden[2]), ("forward_features", out.lastHiddenState),
        ] {
            let err = relativeError(value, try expected.tensor(name))
            #expect(err <= 1e-4, "\(name): relative error \(err)")
        }
        let pooled = try #require(out.pooled)
        #expect(relativeError(pooled, try expected.tensor("pre_logits")) <= 1e-4)
        let logits = model.logits(pixels)
        let err = relativeError(logits, try expected.tensor("logits"))
        #expect(err <= 1e-4, "logits: relative error \(err)")
    }

    @Test func halfPrecisionCheckpointsWidenOnLoad() throws {
        let expected = try SafeTensorsFile(url: Self.dir.appendingPathComponent("expected.safetensors"))
        let pixels = try expected.tensor("pixel_values")
        let config = try TimmViTConfig(directory: Self.dir.appendingPathComponent("model"))
        for (file, key) in [("model.f16.safetensors", "logits_f16w"), ("model.bf16.safetensors", "logits_bf16w")] {
            let model = try TimmViT(
                config: config, checkpoint: Checkpoint(directory: Self.dir.appendingPathComponent(file)))
            let err = relativeError(model.logits(pixels), try expected.tensor(key))
            #expect(err <= 1e-4, "\(file): relative error \(err)")
        }
    }
}

/// ToMe inside the timm ViT against facebookresearch/ToMe's timm patch on the same checkpoint
/// (Tests/Reference/make_tome_vit_fixture.py).
@Suite struct TimmViTToMeTests {
    static let dir = Fixtures.root.appendingPathComponent("vit")

    @Test(arguments: [
        ("r16", MergeSchedule.perLayer(r: 16, layers: 2), true),
        ("sched", MergeSchedule.perLayer(r: 40, inflect: -0.5, layers: 2), true),
        ("noprop", MergeSchedule.perLayer(r: 16, layers: 2), false),
    ])
    func matchesToMe(_ c: (String, [Int], Bool)) throws {
        let (suffix, schedule, proportional) = c
        let url = Self.dir.appendingPathComponent("tome_expected.safetensors")
        let e = try SafeTensorsFile(url: url)
        let model = try TimmViT(directory: Self.dir.appendingPathComponent("model"))
        let pixels = try SafeTensorsFile(url: Self.dir.appendingPathComponent("expected.safetensors")).tensor(
            "pixel_values")
        var runner = ToMeRunner(
            merging: .init(schedule: schedule, proportionalAttention: proportional), classToken: true)
        let out = model.forward(pixels, runner: &runner)
        let tokens = out.lastHiddenState
        let trace = try #require(runner.trace)
        let (sizes, slots) = (trace.sizes, trace.slotOf)
        let ref = try e.tensor("features_\(suffix)")
        #expect(tokens.shape == ref.shape)
        #expect(relativeError(tokens, ref) <= 1e-4, "\(suffix): relative error \(relativeError(tokens, ref))")
        #expect(sizes.flatMap { $0 } == (try e.tensor("size_\(suffix)")).scalars)
        // source_<suffix> is ToMe's one-hot [B, T_out, T_in]; our slot map must agree
        let source = try e.tensor("source_\(suffix)")
        let (tOut, tIn) = (source.shape[1], source.shape[2])
        for b in 0..<slots.count {
            for i in 0..<tIn {
                #expect(source.scalars[(b * tOut + slots[b][i]) * tIn + i] == 1, "sample \(b) token \(i)")
            }
        }
        #expect(relativeError(model.logits(out), try e.tensor("logits_\(suffix)")) <= 1e-4)
    }
}
