import Foundation
import TesseraCore
import TesseraMedia
import TesseraNN

/// What a vision encoder is, in numbers: enough for the pipelines and the command line to use
/// any encoder without knowing its family.
public struct EncoderDescriptor: Sendable, Equatable {
    /// The family (`timm-vit`, `clip`, `siglip`).
    public var family: String
    /// The model (timm architecture name, or the directory name).
    public var modelID: String
    /// Token width.
    public var width: Int
    /// Number of transformer blocks.
    public var depth: Int
    /// Attention heads per block.
    public var heads: Int
    /// The model input.
    public var inputSize: PixelSize
    /// Patch side in pixels.
    public var patchSize: Int
    /// Tokens before the patch tokens (CLS and register tokens).
    public var prefixTokens: Int
    /// Whether token 0 is a CLS token (protected by ToMe; ranked by pruning methods).
    public var hasClassToken: Bool

    /// - Parameters:
    ///   - family: the family (`timm-vit`, `clip`, `siglip`).
    ///   - modelID: the model (architecture name or directory name).
    ///   - width: token width.
    ///   - depth: transformer blocks.
    ///   - heads: attention heads per block.
    ///   - inputSize: the model input.
    ///   - patchSize: patch side in pixels.
    ///   - prefixTokens: tokens before the patches (CLS, registers).
    ///   - hasClassToken: whether token 0 is a CLS token.
    public init(
        family: String, modelID: String, width: Int, depth: Int, heads: Int, inputSize: PixelSize,
        patchSize: Int, prefixTokens: Int, hasClassToken: Bool
    ) {
        self.family = family
        self.modelID = modelID
        self.width = width
        self.depth = depth
        self.heads = heads
        self.inputSize = inputSize
        self.patchSize = patchSize
        self.prefixTokens = prefixTokens
        self.hasClassToken = hasClassToken
    }

    /// Patches per column: the patch convolution's floor (SigLIP so400m: 384 / 14 → 27).
    public var gridRows: Int { PatchEmbedding.grid(inputSize.height, patchSize: patchSize) }
    /// Patches per row.
    public var gridColumns: Int { PatchEmbedding.grid(inputSize.width, patchSize: patchSize) }
    /// Patch tokens per image.
    public var patchTokens: Int { gridRows * gridColumns }
    /// All tokens per image (prefix + patches).
    public var tokens: Int { prefixTokens + patchTokens }
}

/// What ``VisionEncoder/forward(_:layers:statistics:keepHiddenStates:runner:)`` returns.
public struct VisionEncoderOutput: Sendable {
    /// `hidden_states` when asked for: the encoder input, then every block's output (`[B, N, D]`).
    public var hiddenStates: [Tensor]
    /// The requested attention statistics of every block run.
    public var attentions: [Tensor]
    /// After every block: the family's final tokens (`last_hidden_state`, `forward_features`);
    /// after fewer blocks: the last block's output as it is.
    public var lastHiddenState: Tensor
    /// The pooled output (CLIP: post-normalized CLS; SigLIP: attention-pooling head; timm: the
    /// global pool before the classifier), when every block ran and the model has one.
    public var pooled: Tensor?
    /// The last block's output as it is (`hidden_states[layersRun]`), before any finish.
    public var blockOutput: Tensor
    /// Blocks run.
    public var layersRun: Int
}

/// A ViT-style vision encoder: patch embedding, a ``TransformerStack`` and a family-specific
/// finish (final norm, pooling). Conformers are one file each under `Encoders/` plus one line in
/// ``VisionEncoderRegistry``; `tessera features` and `tessera prune` then accept them.
public protocol VisionEncoder: Sendable {
    /// Family, sizes and token layout.
    var descriptor: EncoderDescriptor { get }
    /// The model's own image preprocessing (`[3, H, W]` output).
    var preprocessing: Preprocessing { get }
    /// The transformer blocks.
    var stack: TransformerStack { get }
    /// `[B, 3, H, W]` pixels → `[B, N, D]` stack input (patches, prefix tokens, positions).
    func embed(_ pixels: Tensor) -> Tensor
    /// The last block's output → the final tokens and the pooled output, if any.
    func finish(_ hidden: Tensor) -> (last: Tensor, pooled: Tensor?)
}

extension VisionEncoder {
    /// Runs `[B, 3, H, W]` pixels through the first `layers` blocks (all by default), each block
    /// through `runner`; ``VisionEncoder/finish(_:)`` applies when every block ran.
    /// - Parameters:
    ///   - pixels: preprocessed images, `[B, 3, H, W]`.
    ///   - layers: blocks to run from the first (nil: all).
    ///   - statistics: attention statistics to collect from every block.
    ///   - keepHiddenStates: also return the input and every block's output.
    ///   - runner: runs each block (ToMe, TransPrune, key capture, or ``PlainBlocks``).
    public func forward<Runner: BlockRunner>(
        _ pixels: Tensor, layers: Int? = nil,
        statistics: AttentionStatistics = .none, keepHiddenStates: Bool = false,
        runner: inout Runner
    ) -> VisionEncoderOutput {
        let out = stack.forward(
            embed(pixels), layers: layers, statistics: statistics,
            keepHiddenStates: keepHiddenStates, runner: &runner)
        let complete = out.layersRun == stack.depth
        let (last, pooled) = complete ? finish(out.last) : (out.last, nil)
        return VisionEncoderOutput(
            hiddenStates: out.hiddenStates, attentions: out.attentions, lastHiddenState: last,
            pooled: pooled, blockOutput: out.last, layersRun: out.layersRun)
    }

    /// The plain forward pass (see ``forward(_:layers:statistics:keepHiddenStates:runner:)``).
    public func forward(
        _ pixels: Tensor, layers: Int? = nil, statistics: AttentionStatistics = .none,
        keepHiddenStates: Bool = false
    ) -> VisionEncoderOutput {
        var plain = PlainBlocks()
        return forward(
            pixels, layers: layers, statistics: statistics, keepHiddenStates: keepHiddenStates,
            runner: &plain)
    }

    /// A batch of images preprocessed as the model expects, `[B, 3, H, W]`.
    public func pixels(_ images: [Image]) -> Tensor {
        Tensor.concatenate(
            images.map {
                let t = preprocessing.tensor($0); return t.reshaped([1] + t.shape)
            }, axis: 0)
    }

    /// A block index from a layer number: negative counts from the end (`-2`: LLaVA's layer).
    /// - Throws: ``VisionEncoderError`` when the layer is outside the encoder.
    public func block(forLayer layer: Int) throws -> Int {
        let depth = descriptor.depth, block = layer < 0 ? depth + layer : layer
        guard block >= 0 && block < depth else {
            throw VisionEncoderError(
                "layer \(layer) is outside \(descriptor.modelID)'s \(depth) blocks (use 0..<\(depth) or -\(depth)...-1)"
            )
        }
        return block
    }
}

/// A request the encoder cannot serve (a layer outside it). Pixels of the wrong shape are a

/// How ``VisionEncoder/features(_:block:pooling:)`` reduces a layer's tokens per image.
public enum FeaturePooling: String, Sendable, CaseIterable {
    /// The class token (SigLIP, which has none: the attention-pooled output of the final tokens).
    case cls
    /// The mean of the patch tokens.
    case mean
    /// Every token.
    case none
}

extension VisionEncoder {
    /// Fails when `pooling` cannot apply to block `block`'s output (nil: the final tokens): `cls`
    /// of a model without a class token is its pooling head, which only follows the final tokens.
    public func checkPooling(block: Int?, _ pooling: FeaturePooling) throws {
        if pooling == .cls && descriptor.prefixTokens == 0 && block != nil {
            throw VisionEncoderError(
                "\(descriptor.modelID) has no class token; cls pooling takes the pooled output of the final "
                    + "tokens only: pool mean or none at a layer")
        }
    }

    /// Features of preprocessed pixels `[B, 3, H, W]` (``pixels(_:)``): the output of block `block`
    /// as it is (nil: the model's final tokens, after its last norm), pooled per image:
    /// `[B, tokens, width]` for `.none`, `[B, width]` otherwise.
    public func features(_ pixels: Tensor, block: Int?, pooling: FeaturePooling) throws -> Tensor {
        try checkPooling(block: block, pooling)
        let out = forward(pixels, layers: block.map { $0 + 1 })
        let tokens = block == nil ? out.lastHiddenState : out.blockOutput
        let (b, n, c) = (tokens.shape[0], tokens.shape[1], tokens.shape[2])
        switch pooling {
        case .cls where descriptor.prefixTokens == 0:
            guard let pooled = out.pooled else {
                throw VisionEncoderError("\(descriptor.modelID) has no class token or pooled output")
            }
            return pooled  // SigLIP: the pooling head
        case .cls: return tokens.slice(axis: 1, 0..<1).reshaped([b, c])
        case .mean: return tokens.slice(axis: 1, descriptor.prefixTokens..<n).mean(axis: 1)
        case .none: return tokens
        }
    }
}

/// programming error (``VisionEncoder/pixels(_:)`` and ``VisionEncoder/preprocessing`` give the right one).
public struct VisionEncoderError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What cannot be done.
    public var description: String
    /// An error with its description.
    public init(_ description: String) { self.description = description }
}

/// Checks that `pixels` is `[B, 3, H, W]` at the encoder's input size.
func requireInput(_ pixels: Tensor, _ descriptor: EncoderDescriptor) {
    let size = descriptor.inputSize
    precondition(
        pixels.rank == 4 && pixels.shape[1] == 3 && pixels.shape[2] == size.height && pixels.shape[3] == size.width,
        "\(descriptor.modelID) input must be [B, 3, \(size.height), \(size.width)], got \(pixels.shape)")
}
