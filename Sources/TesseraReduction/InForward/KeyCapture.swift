// Keeps the packed q/k/v projections of chosen blocks during the forward pass, for methods that
// rank or merge tokens by their keys (VisionZip, PruMerge): the projections the attention
// already computed, not a second projection.
import TesseraCore
import TesseraNN

/// Runs blocks plainly and keeps the packed `[B, N, 3D]` projections of the blocks in `layers`.
public struct KeyCapture: BlockRunner {
    /// Blocks whose projections to keep.
    public let layers: Set<Int>
    /// The kept projections by block index.
    public private(set) var projections: [Int: Tensor] = [:]

    /// A runner keeping the projections of `layers`.
    public init(layers: Set<Int>) { self.layers = layers }

    /// Runs `block` plainly, keeping its packed q/k/v projections `[B, N, 3D]` when `index` is in ``layers``.
    /// - Returns: The block's output (same tokens as `x`) and the attention probabilities `statistics` asks for.
    public mutating func run(_ block: TransformerBlock, _ x: Tensor, index: Int, statistics: AttentionStatistics)
        -> (output: Tensor, probabilities: Tensor?)
    {
        guard layers.contains(index) else { return block(x, statistics: statistics) }
        let a = block.attentionSublayer(x, statistics: statistics)
        projections[index] = a.qkv
        var h = x
        h.add(a.output)
        h.add(block.mlpSublayer(h).output)
        return (h, a.probabilities)
    }

    /// Block `index`'s keys `[B, N, D]` (heads contiguous), if kept.
    public func keys(_ index: Int) -> Tensor? { projections[index]?.projection(.key) }

    /// Block `index`'s queries `[B, N, D]`, if kept.
    public func queries(_ index: Int) -> Tensor? { projections[index]?.projection(.query) }
}
