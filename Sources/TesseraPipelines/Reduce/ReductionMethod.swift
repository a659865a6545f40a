// The extension point for reduction methods: validation against the encoder, and the reduction
// of one view (and, where a method needs more, of a whole image or of a video's frames).
import TesseraCore
import TesseraMedia
import TesseraModels
import TesseraNN
import TesseraReduction

/// One reduction method's glue between the pipeline and its algorithm in `TesseraReduction`.
/// A new method is one file under `Methods/` conforming to this, plus one case in
/// ``TokenReductionMethod`` (and its line in ``TokenReductionMethod/implementation``).
public protocol ReductionMethod: Sendable {
    /// Checks the options against the encoder (the pipeline has checked the layer, `keep`'s
    /// range, and that `r` and tiles are only given to methods that take them).
    func validate(_ context: ReductionContext) throws
    /// Reduces one view: `[1, 3, H, W]` preprocessed pixels.
    func reduce(pixels: Tensor, _ context: ReductionContext) throws -> ReducedVisionTokens
    /// Reduces one image (default: its preprocessed pixels through ``reduce(pixels:_:)``).
    func reduce(image: Image, _ context: ReductionContext) throws -> ReducedVisionTokens
    /// Reduces a video's frames (default: every frame on its own, indices `frame · N + patch`).
    func reduce(frames: [Image], _ context: ReductionContext) throws -> ReducedVisionTokens
    /// Whether the method merges tokens (its results carry slots and sizes; it takes `r`).
    var merges: Bool { get }
    /// The ToMe schedule the method runs inside the forward pass, if any (reported in the output).
    func mergingSchedule(_ context: ReductionContext) -> TokenMerging?
}

extension ReductionMethod {
    /// Default: a pruning method.
    public var merges: Bool { false }

    /// Default: none.
    public func mergingSchedule(_ context: ReductionContext) -> TokenMerging? { nil }

    /// Default: the method needs `keep`.
    public func validate(_ context: ReductionContext) throws {
        guard context.options.keep != nil else {
            throw TokenReductionError("\(context.options.method.rawValue) needs keep (tokens to keep per image)")
        }
    }

    /// Default: the image's preprocessed pixels through ``reduce(pixels:_:)``.
    public func reduce(image: Image, _ context: ReductionContext) throws -> ReducedVisionTokens {
        try reduce(pixels: context.pixels(image), context)
    }

    /// Default: ``reduceEachFrame(_:_:)``.
    public func reduce(frames: [Image], _ context: ReductionContext) throws -> ReducedVisionTokens {
        try reduceEachFrame(frames, context)
    }

    /// Every frame reduced on its own through ``reduce(image:_:)``: indices `frame · N + patch`,
    /// positions `(frame, h, w)`.
    public func reduceEachFrame(_ frames: [Image], _ context: ReductionContext) throws -> ReducedVisionTokens {
        var rows: [Tensor] = [], indices: [Int] = [], positions: [[Int]] = [], slots: [Int] = [], sizes: [Float] = []
        var offset = 0
        for (f, frame) in frames.enumerated() {
            let r = try reduce(image: frame, context)
            rows.append(r.features)
            indices += r.indices.map { f * r.inputTokens + $0 }
            positions += r.positions.map { [f, $0[1], $0[2]] }
            if let s = r.slots { slots += s.map { offset + $0 } }
            if let s = r.sizes { sizes += s }
            offset += r.features.shape[0]
        }
        let merges = self.merges
        return ReducedVisionTokens(
            features: Tensor.concatenate(rows, axis: 0), indices: indices, positions: positions,
            slots: merges ? slots : nil, sizes: merges ? sizes : nil, partitions: nil,
            grid: context.grid, inputTokens: frames.count * context.patches)
    }
}

/// Everything a method needs about the request: the encoder, the options and the feature block,
/// with the helpers every method shares.
public struct ReductionContext: Sendable {
    /// The encoder the method runs.
    public let encoder: any VisionEncoder
    /// The request.
    public let options: TokenReductionOptions
    /// The block whose output is the feature layer (0-based).
    public let block: Int

    /// The encoder's sizes and token layout.
    public var descriptor: EncoderDescriptor { encoder.descriptor }
    /// Patch grid side (encoders are square).
    public var grid: Int { descriptor.gridColumns }
    /// Patch tokens per view.
    public var patches: Int { descriptor.patchTokens }
    /// Tokens before the patches (CLS).
    public var prefix: Int { descriptor.prefixTokens }

    /// `[1, 3, S, S]` model input of an image.
    public func pixels(_ image: Image) -> Tensor {
        let t = encoder.preprocessing.tensor(image)
        return t.reshaped([1] + t.shape)
    }

    /// The statistics that rank patches: the CLS row, or for encoders without a CLS token the
    /// column means (attention received).
    public var importanceStatistics: AttentionStatistics { descriptor.hasClassToken ? .rows([0]) : .columnMeans }

    /// Head-summed patch importance from ``importanceStatistics`` (`[1, H, 1, T]` or `[1, H, T]`):
    /// the CLS token's attention to each patch, or the attention each patch receives.
    public func importance(_ statistics: Tensor) throws -> [Float] {
        let h = statistics.shape[1], t = statistics.shape[statistics.rank - 1]
        return try HiRED.patchScores(statistics.reshaped([h, t]), patches: patches)
    }

    /// Runs the first `block + 1` blocks (or `layers`) through `runner`.
    public func forward<Runner: BlockRunner>(
        _ pixels: Tensor, layers: Int? = nil,
        statistics: AttentionStatistics = .none, keepHiddenStates: Bool = false,
        runner: inout Runner
    ) -> VisionEncoderOutput {
        encoder.forward(
            pixels, layers: layers ?? block + 1, statistics: statistics, keepHiddenStates: keepHiddenStates,
            runner: &runner)
    }

    /// The plain forward pass through the first `block + 1` blocks (or `layers`).
    public func forward(
        _ pixels: Tensor, layers: Int? = nil, statistics: AttentionStatistics = .none,
        keepHiddenStates: Bool = false
    ) -> VisionEncoderOutput {
        encoder.forward(pixels, layers: layers ?? block + 1, statistics: statistics, keepHiddenStates: keepHiddenStates)
    }

    /// One image's tokens `[T, C]` from a `[1, T, C]` hidden state.
    public func tokens(_ hidden: Tensor) -> Tensor { hidden.reshaped(Array(hidden.shape.dropFirst())) }

    /// The patch rows `[N, C]` of one image's `[1, prefix + N, C]` hidden state.
    public func patchFeatures(_ hidden: Tensor) -> Tensor { tokens(hidden).slice(axis: 0, prefix..<(prefix + patches)) }

    /// `(0, row, column)` of a patch index on the grid.
    public func position(_ index: Int) -> [Int] { [0, index / grid, index % grid] }

    /// The result of a pruning method: kept patch indices (sorted) and their features (default:
    /// those rows of `features`; methods that merge pass their own rows).
    public func pruned(_ kept: [Int], from features: Tensor, reduced: Tensor? = nil) -> ReducedVisionTokens {
        ReducedVisionTokens(
            features: reduced ?? features.indexSelect(axis: 0, kept), indices: kept,
            positions: kept.map(position), slots: nil, sizes: nil, partitions: nil,
            grid: grid, inputTokens: patches)
    }
}
