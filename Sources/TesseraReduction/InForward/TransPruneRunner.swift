// TransPrune's token transition variation measured during the one forward pass: each block's
// attention and MLP sublayers report their normalized inputs and outputs, which the runner
// feeds to ``TransPrune/Accumulator`` — no block is run twice.
import TesseraCore
import TesseraNN

/// Accumulates TransPrune's token transition variation (TTV) over the first `layers` blocks of
/// a forward pass, one accumulator per batch item; blocks after those run plainly.
public struct TransPruneRunner: BlockRunner {
    /// Blocks that add to the variation (the first `layers`).
    public let layers: Int
    /// The variation of every batch item after the blocks run so far.
    public private(set) var accumulators: [TransPrune.Accumulator] = []
    /// Blocks run through this runner (all of a forward pass, accumulating or not).
    public private(set) var blocksRun = 0
    /// A shape problem met while accumulating (none occurs for well-formed blocks).
    public private(set) var failure: ReductionError?

    /// A runner accumulating over the first `layers` blocks.
    public init(layers: Int) { self.layers = layers }

    /// Runs `block`; the first ``layers`` blocks also add each batch item's transition variation.
    ///
    /// Block 0 (or a change of batch size) starts new accumulators. A problem while accumulating is kept in
    /// ``failure`` rather than thrown, and the block's output is returned all the same.
    /// - Returns: The block's output (same tokens as `x`) and the attention probabilities `statistics` asks for.
    public mutating func run(_ block: TransformerBlock, _ x: Tensor, index: Int, statistics: AttentionStatistics)
        -> (output: Tensor, probabilities: Tensor?)
    {
        blocksRun += 1
        guard index < layers else { return block(x, statistics: statistics) }
        let (b, t, d) = (x.shape[0], x.shape[1], x.shape[2])
        if index == 0 || accumulators.count != b { accumulators = (0..<b).map { _ in .init(tokens: t) } }
        let a = block.attentionSublayer(x, statistics: statistics)
        var h = x
        h.add(a.output)
        let m = block.mlpSublayer(h)
        h.add(m.output)
        func item(_ tensor: Tensor, _ s: Int) -> Tensor { tensor.slice(axis: 0, s..<(s + 1)).reshaped([t, d]) }
        for s in 0..<b {
            do {
                try accumulators[s].add(
                    attentionInput: item(a.input, s), attentionOutput: item(a.output, s),
                    mlpInput: item(m.input, s), mlpOutput: item(m.output, s))
            } catch let error as ReductionError {
                failure = failure ?? error
            } catch {
                failure = failure ?? .shape("\(error)")
            }
        }
        return (h, a.probabilities)
    }
}
