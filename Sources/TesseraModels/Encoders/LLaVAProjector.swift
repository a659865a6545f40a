// LLaVA's multimodal projector (`mm_projector`, "mlp2x_gelu"): Linear → GELU → Linear from the
// vision tower's width to the language model's, read from a LLaVA checkpoint (which also holds
// the language model: every other key is left alone).
import Foundation
import TesseraCore
import TesseraNN

/// LLaVA's `mm_projector` ("mlp2x_gelu"): maps vision features to the language model's width.
public struct LLaVAProjector: Sendable {
    let first: Linear
    let second: Linear

    /// Loads `model.mm_projector.0.*` and `model.mm_projector.2.*` from a checkpoint directory
    /// or file; missing or misshapen keys are errors, other keys are ignored.
    public init(directory url: URL) throws {
        let checkpoint = try Checkpoint(directory: url)
        let loader = try WeightLoader(checkpoint, ignored: [""])
        let w = loader.root["model"]["mm_projector"]
        guard let s0 = w.shape(of: "0.weight"), s0.count == 2, let s2 = w.shape(of: "2.weight"), s2.count == 2 else {
            throw ModelConfigError(
                path: checkpoint.path, reason: "no LLaVA projector (model.mm_projector.0/2.weight [out, in])")
        }
        first = try Linear(w["0"], in: s0[1], out: s0[0])
        second = try Linear(w["2"], in: s2[1], out: s2[0])
        try loader.finish()
    }

    /// The vision width it takes.
    public var inputWidth: Int { first.inFeatures }
    /// The language model's width it gives.
    public var outputWidth: Int { second.outFeatures }

    /// `[..., vision width]` → `[..., language width]`.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        var h = first(x)
        h.activate(.gelu)
        return second(h)
    }
}
