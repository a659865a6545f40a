// A Hugging Face vision tower of either family, chosen by the directory's config.json: what the
// LLaVA-style token reduction pipeline runs.
import Foundation
import TesseraCore
import TesseraMedia
import TesseraNN
import TesseraReduction

/// A CLIP or SigLIP vision tower.
public enum VisionTower: Sendable {
    case clip(CLIPVisionTower)
    case siglip(SigLIPVisionTower)

    /// Loads the tower whose family `config.json` names.
    public init(directory: URL) throws {
        let config = try HFVisionConfig(directory: directory)
        self = config.modelType == "clip" ? .clip(try CLIPVisionTower(directory: directory))
                                          : .siglip(try SigLIPVisionTower(directory: directory))
    }

    public var config: HFVisionConfig {
        switch self { case .clip(let t): t.config; case .siglip(let t): t.config }
    }
    public var processor: HFImageProcessor {
        switch self { case .clip(let t): t.processor; case .siglip(let t): t.processor }
    }
    public var layers: [TransformerBlock] {
        switch self { case .clip(let t): t.layers; case .siglip(let t): t.layers }
    }
    /// Tokens before the patches: 1 (CLS) for CLIP, 0 for SigLIP.
    public var prefixTokens: Int {
        switch self { case .clip: 1; case .siglip: 0 }
    }
    public var hasClassToken: Bool { prefixTokens == 1 }

    /// `[B, 3, S, S]` through the first `layerCount` layers (see the towers' `forward`).
    public func forward(_ pixels: Tensor, layerCount: Int? = nil, statistics: AttentionStatistics = .none) -> VisionTowerOutput {
        switch self {
        case .clip(let t): t.forward(pixels, layerCount: layerCount, statistics: statistics)
        case .siglip(let t): t.forward(pixels, layerCount: layerCount, statistics: statistics)
        }
    }

    /// The forward pass with ToMe inside every layer.
    public func forward(_ pixels: Tensor, layerCount: Int? = nil, merging: TokenMerging) -> VisionTowerOutput {
        switch self {
        case .clip(let t): t.forward(pixels, layerCount: layerCount, merging: merging)
        case .siglip(let t): t.forward(pixels, layerCount: layerCount, merging: merging)
        }
    }
}
