// The LLaVA-style token reduction pipeline: run a vision encoder on an image (or the frames of a
// video), take the patch features of one layer and keep or merge them with one of
// TesseraReduction's methods (the glue of each is one file under Methods/), returning the
// reduced features with the original positions. `tessera prune` is a thin layer over this.
import Foundation
import TesseraCore
import TesseraMedia
import TesseraModels
import TesseraReduction

/// Runs a vision encoder and one reduction method (see ``TokenReductionMethod``).
///
/// ```swift
/// let encoder = try VisionEncoderRegistry.load(URL(fileURLWithPath: "clip-vit-large-patch14-336"))
/// let reducer = try VisionTokenReducer(encoder: encoder, options: .init(method: .divprune, keep: 64))
/// let reduced = try reducer.reduce(try Image(contentsOf: photo))   // 64 features + their positions
/// ```
public struct VisionTokenReducer: Sendable {
    /// The encoder.
    public let encoder: any VisionEncoder
    /// The validated request.
    public let options: TokenReductionOptions
    /// What the method sees: encoder, options and the feature block.
    public let context: ReductionContext
    let method: any ReductionMethod

    /// The feature block (0-based).
    public var block: Int { context.block }
    /// Patch grid side.
    public var grid: Int { context.grid }
    /// Patch tokens per view.
    public var patches: Int { context.patches }

    /// Validates the options against the encoder.
    /// - Throws: ``TokenReductionError`` naming the problem (keep out of range, missing or
    ///   impossible r, bad layer, bad tiles).
    public init(encoder: any VisionEncoder, options: TokenReductionOptions) throws {
        self.encoder = encoder
        self.options = options
        let d = encoder.descriptor, o = options, n = d.patchTokens
        let block = o.layer < 0 ? d.depth + o.layer : o.layer
        guard block >= 0 && block < d.depth else {
            throw TokenReductionError(
                "layer \(o.layer) is outside the tower's \(d.depth) layers (use 0..<\(d.depth) or -\(d.depth)...-1)")
        }
        if let keep = o.keep, !(keep >= 1 && keep <= n) {
            throw TokenReductionError("keep \(keep) is outside 1...\(n) (the tower has \(n) patch tokens)")
        }
        if o.r != nil && !o.method.merges {
            let merging = TokenReductionMethod.allCases.filter(\.merges).map(\.rawValue).joined(separator: " and ")
            throw TokenReductionError("r only applies to \(merging)")
        }
        if o.usesTiles && o.method != .hired { throw TokenReductionError("tiles only apply to hired") }
        context = ReductionContext(encoder: encoder, options: options, block: block)
        method = o.method.implementation
        try method.validate(context)
    }

    /// The ToMe schedule the options ask for (merging methods only).
    public var mergingSchedule: TokenMerging? { method.mergingSchedule(context) }

    /// Checks that a LLaVA projector takes the encoder's width.
    public func check(projector: LLaVAProjector) throws {
        guard projector.inputWidth == encoder.descriptor.width else {
            throw TokenReductionError(
                "the projector takes \(projector.inputWidth) channels; the tower gives \(encoder.descriptor.width)")
        }
    }

    /// `[1, 3, S, S]` model input of an image.
    public func pixels(_ image: Image) -> Tensor { context.pixels(image) }

    /// Reduces one image's tokens (HiRED with tiles: its anyres views).
    public func reduce(_ image: Image) throws -> ReducedVisionTokens { try method.reduce(image: image, context) }

    /// Reduces the tokens of `[1, 3, S, S]` pixels (single view).
    public func reduce(pixels: Tensor) throws -> ReducedVisionTokens { try method.reduce(pixels: pixels, context) }

    /// Reduces the frames of a video: `tempme` merges them across time; every other method
    /// reduces each frame on its own (indices `frame · N + patch`, positions `(frame, h, w)`).
    public func reduce(frames: [Image]) throws -> ReducedVisionTokens {
        guard !frames.isEmpty else { throw TokenReductionError("no frames") }
        return try method.reduce(frames: frames, context)
    }

    // MARK: Views (for pictures of the selection)

    /// The image the encoder sees for a single view (resized and cropped, RGB).
    public func view(_ image: Image) -> Image { encoder.preprocessing.image(image).rgb() }

    /// The tile grid HiRED uses for an image.
    public func tileGrid(for image: Image) -> TileGrid { context.tileGrid(for: image) }

    /// LLaVA-NeXT's base view as an image (the whole image resized to `S × S`).
    public func baseViewImage(_ image: Image) -> Image { context.anyResViews.basePreprocessing.image(image).rgb() }

    /// The canvas the high-resolution tiles are cut from.
    public func highResolutionView(_ image: Image, _ tiles: TileGrid) -> Image {
        context.anyResViews.canvas(image, tiles)
    }
}
