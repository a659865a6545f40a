// What a reduction request is: the method, its options, and why a request may not run.
import TesseraMedia

/// The reduction methods the pipeline runs on a vision encoder. Each case's implementation is
/// one file under `Methods/`; ``implementation`` is the only list that names them all.
public enum TokenReductionMethod: String, CaseIterable, Sendable {
    /// DivPrune / ToDRE k-center diversity on the features.
    case divprune
    /// VisionZip: dominant tokens by CLS attention + contextual merges (54:10).
    case visionzip
    /// HiPrune: anchors, buffers and registers from attention received.
    case hiprune
    /// Evenly spaced patches.
    case uniform
    /// Random patches (seeded).
    case random
    /// LLaVA-PruMerge: IQR outliers of the last layer's CLS attention, merged with neighbours.
    case prumerge
    /// PruMerge+: PruMerge plus spatially uniform samples.
    case prumergePlus = "prumerge+"
    /// TransPrune's token transition variation (no text term).
    case transprune
    /// HiRED: top CLS-attention tokens of the full view and, with tiles, of high-resolution tiles.
    case hired
    /// ToMe inside the tower's forward pass (r tokens merged per layer).
    case tome
    /// Video: ToMe inside every frame's forward pass, then TempMe merging of neighbouring clips across time.
    case tempme

    /// The method's implementation.
    public var implementation: any ReductionMethod {
        switch self {
        case .divprune: DivPruneMethod()
        case .visionzip: VisionZipMethod()
        case .hiprune: HiPruneMethod()
        case .uniform: UniformMethod()
        case .random: RandomMethod()
        case .prumerge: PruMergeMethod(variant: .pruMerge)
        case .prumergePlus: PruMergeMethod(variant: .pruMergePlus)
        case .transprune: TransPruneMethod()
        case .hired: HiREDMethod()
        case .tome: ToMeMethod()
        case .tempme: TempMeMethod()
        }
    }

    /// Methods that rank patches by the CLS token's attention. On encoders without a CLS token
    /// (SigLIP) they use the attention each patch receives instead (mean over all query rows),
    /// the stand-in the methods' follow-ups use for CLS-less encoders (Qwen2-VL, SigLIP).
    public var readsClassAttention: Bool { [.visionzip, .prumerge, .prumergePlus, .hired].contains(self) }
    @available(
        *, deprecated, renamed: "readsClassAttention", message: "every method now runs on towers without a CLS token"
    )
    /// Deprecated: see ``readsClassAttention``.
    public var needsClassToken: Bool { readsClassAttention }
    /// Methods that merge (and so report slots and sizes).
    public var merges: Bool { implementation.merges }
}

/// What to reduce and how.
public struct TokenReductionOptions: Sendable {
    /// The reduction method.
    public var method: TokenReductionMethod
    /// Patch tokens to keep (optional for prumerge/prumerge+ (adaptive), tome (given `r`), hired with tiles and
    /// tempme).
    public var keep: Int?
    /// Layer whose hidden states are the features; negative counts from the end (LLaVA: −2).
    public var layer: Int
    /// Seed of `random`.
    public var seed: UInt64
    /// ToMe / TempMe: tokens merged per layer (constant, or ramped with `inflect`).
    public var r: Int?
    /// ToMe's schedule inflection (`parse_r`): 0 = constant r.
    public var inflect: Double
    /// HiRED: high-resolution tiles (crops run through the tower) besides the full view.
    public var tiles: TileGrid?
    /// HiRED: choose the tile grid per image among these, as LLaVA-NeXT's anyres does
    /// (``TileGrid/bestFit(width:height:tileSize:among:)``; used when `tiles` is nil).
    public var tileChoices: [TileGrid] = []
    /// Whether HiRED runs on high-resolution tiles.
    public var usesTiles: Bool { tiles != nil || !tileChoices.isEmpty }
    /// HiRED: share of all tokens kept and the full view's share of it (upstream 0.2 and 0.5).
    public var budgetRate: Double
    /// HiRED: the full view's share of the budget.
    public var alpha: Double
    /// TempMe: clips merged per stage (product must divide the frame count); empty = the frame
    /// count's prime factors, smallest first (12 → 2, 2, 3 as upstream).
    public var groups: [Int]
    /// TempMe: proportions merged across clips and inside the merged clip at each stage.
    public var crossProportion: Double
    /// TempMe: the proportion merged inside the merged clip.
    public var intraProportion: Double

    /// - Parameters:
    ///   - method: the reduction method.
    ///   - keep: patch tokens to keep per image (see the method for when it is optional).
    ///   - layer: the feature layer, negative from the end (LLaVA: −2).
    ///   - seed: seed of `random`.
    ///   - r: ToMe / TempMe tokens merged per layer.
    ///   - inflect: ToMe's schedule inflection.
    ///   - tiles: HiRED's high-resolution tile grid.
    ///   - budgetRate: HiRED's share of all tokens kept.
    ///   - alpha: HiRED's share of the budget for the full view.
    ///   - groups: TempMe's clips per stage.
    ///   - crossProportion: TempMe's cross-clip merge proportion.
    ///   - intraProportion: TempMe's intra-clip merge proportion.
    public init(
        method: TokenReductionMethod, keep: Int? = nil, layer: Int = -2, seed: UInt64 = 0, r: Int? = nil,
        inflect: Double = 0, tiles: TileGrid? = nil, budgetRate: Double = 0.2, alpha: Double = 0.5,
        groups: [Int] = [], crossProportion: Double = 0.3, intraProportion: Double = 0.1
    ) {
        self.method = method
        self.keep = keep
        self.layer = layer
        self.seed = seed
        self.r = r
        self.inflect = inflect
        self.tiles = tiles
        self.budgetRate = budgetRate
        self.alpha = alpha
        self.groups = groups
        self.crossProportion = crossProportion
        self.intraProportion = intraProportion
    }
}

/// Why a reduction request cannot run on this encoder or input.
public struct TokenReductionError: Error, CustomStringConvertible, Equatable {
    /// What is wrong with the request.
    public var description: String
    /// An error with its description.
    public init(_ description: String) { self.description = description }
}
