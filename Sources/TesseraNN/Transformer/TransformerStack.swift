import TesseraCore

/// Runs one block of a forward pass. The stack's loop calls its runner for every block, so
/// token reduction (ToMe, TransPrune, key capture in `TesseraReduction`) happens inside the one
/// forward pass without the models knowing that it exists — as llama.cpp's graph callback and
/// ToMe's patched timm `Block` do.
public protocol BlockRunner {
    /// Runs `block` (number `index` in the stack) on `x`.
    /// - Returns: the block's output (which may have fewer tokens than `x`) and the attention
    ///   probabilities asked for by `statistics`.
    mutating func run(_ block: TransformerBlock, _ x: Tensor, index: Int, statistics: AttentionStatistics)
        -> (output: Tensor, probabilities: Tensor?)
}

/// The plain forward pass: every block as it is.
public struct PlainBlocks: BlockRunner {
    // One stored byte: ThreadSanitizer's instrumentation of an `inout` access to a zero-sized value
    // reads shadow memory for a meaningless address and crashes (Swift 6.3.1, `swift test
    // --sanitize=thread`, every `forward` through this runner).
    private var sanitizerPadding: UInt8 = 0

    /// The plain runner.
    public init() {}

    /// Runs the block as it is.
    public mutating func run(_ block: TransformerBlock, _ x: Tensor, index: Int, statistics: AttentionStatistics)
        -> (output: Tensor, probabilities: Tensor?)
    {
        block(x, statistics: statistics)
    }
}

/// What a forward pass through a ``TransformerStack`` produced.
public struct StackOutput: Sendable {
    /// The last block's output.
    public var last: Tensor
    /// The stack input followed by every block's output (`hidden_states`), when asked for.
    public var hiddenStates: [Tensor]
    /// The requested attention probabilities of every block run (empty when none were asked for).
    public var attentions: [Tensor]
    /// Number of blocks run.
    public var layersRun: Int
}

/// A stack of pre-norm blocks and the one forward loop every transformer in Tessera uses.
public struct TransformerStack: Sendable {
    /// The blocks in execution order.
    public var blocks: [TransformerBlock]

    /// A stack of already built blocks.
    public init(blocks: [TransformerBlock]) { self.blocks = blocks }

    /// Binds `count` blocks under `w.0`, `w.1`, … with the family's key layout.
    public init(_ w: WeightScope, count: Int, keys: BlockKeys, shape: BlockShape) throws {
        blocks = try (0..<max(0, count)).map { try TransformerBlock(w[$0], keys: keys, shape: shape) }
    }

    /// Number of blocks.
    public var depth: Int { blocks.count }

    /// Runs the first `layers` blocks (all when nil) on `x` through `runner`.
    /// - Parameters:
    ///   - x: `[B, N, D]` stack input.
    ///   - layers: how many blocks to run, from the first (clamped to the depth).
    ///   - statistics: attention probabilities to collect from every block.
    ///   - keepHiddenStates: also return the input and every block's output.
    ///   - runner: runs each block (``PlainBlocks`` for the plain pass).
    public func forward<Runner: BlockRunner>(
        _ x: Tensor, layers: Int? = nil, statistics: AttentionStatistics = .none,
        keepHiddenStates: Bool = false, runner: inout Runner
    ) -> StackOutput {
        let count = min(max(0, layers ?? depth), depth)
        var h = x, hidden = keepHiddenStates ? [x] : [], attentions: [Tensor] = []
        for i in 0..<count {
            let (output, probabilities) = runner.run(blocks[i], h, index: i, statistics: statistics)
            h = output
            if keepHiddenStates { hidden.append(h) }
            if let probabilities { attentions.append(probabilities) }
        }
        return StackOutput(last: h, hiddenStates: hidden, attentions: attentions, layersRun: count)
    }

    /// The plain forward pass through every block.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        var runner = PlainBlocks()
        return forward(x, runner: &runner).last
    }
}

extension TransformerStack {
    /// About the peak bytes of activations of one sequence of `tokens` through a pre-norm
    /// transformer of this `width` and MLP size (any of Tessera's: ViT, FlexTok's adaLN trunks): the
    /// residual stream, the norm output, q/k/v, the attention output and the MLP hidden layer before
    /// and after its activation, in float32; attention itself runs in 64-row query blocks.
    public static func activationBytes(tokens: Int, width: Int, mlpHidden: Int) -> Int {
        4 * tokens * (7 * width + 2 * mlpHidden + 64 * Threading.threadCount)
    }
}
