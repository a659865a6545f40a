// The result of any token merge as data: for every input token the output slot it went to.
// tomesd's random 2D merging, TempMe's temporal merging and ClustViT's cluster merging all
// produce one; merging, size tracking, composition and unmerging are shared here.
import TesseraCore

/// Where each of `inputCount` tokens went when they were merged into `outputCount` tokens.
///
/// `unmerge(y) = y[slotOf]` restores the input length (every member of a merged group receives
/// the group's output), as ToMe's and tomesd's `unmerge`.
public struct MergeMap: Sendable, Equatable {
    /// `slotOf[i]` is the output row that input token `i` was merged into.
    public let slotOf: [Int]
    /// Number of output tokens.
    public let outputCount: Int

    /// A map from explicit slots.
    /// - Throws: ``ReductionError/shape(_:)`` when a slot is outside `0..<outputCount` or an
    ///   output slot receives no input token.
    public init(slotOf: [Int], outputCount: Int) throws {
        var used = [Bool](repeating: false, count: outputCount)
        for s in slotOf {
            guard s >= 0 && s < outputCount else { throw ReductionError.shape("slot \(s) outside 0..<\(outputCount)") }
            used[s] = true
        }
        guard used.allSatisfy({ $0 }) else { throw ReductionError.shape("an output slot receives no input token") }
        self.slotOf = slotOf
        self.outputCount = outputCount
    }

    init(unchecked slotOf: [Int], outputCount: Int) {
        self.slotOf = slotOf
        self.outputCount = outputCount
    }

    /// The identity map on `n` tokens.
    public static func identity(_ n: Int) -> MergeMap { MergeMap(unchecked: Array(0..<n), outputCount: n) }

    /// Number of input tokens.
    public var inputCount: Int { slotOf.count }

    /// How many input tokens each output slot holds (ToMe's `size` for unit input sizes).
    public var counts: [Int] {
        var c = [Int](repeating: 0, count: outputCount)
        for s in slotOf { c[s] += 1 }
        return c
    }

    /// Input tokens of each output slot, ascending.
    public var members: [[Int]] {
        var m = [[Int]](repeating: [], count: outputCount)
        for (i, s) in slotOf.enumerated() { m[s].append(i) }
        return m
    }

    /// `scatter_reduce(…, "sum")`: output row = sum of its members' rows. `x` is `[inputCount, C]`.
    public func mergeSum(_ x: Tensor) -> Tensor {
        precondition(x.rank == 2 && x.shape[0] == inputCount, "x must be [\(inputCount), C], got \(x.shape)")
        let c = x.shape[1]
        var out = [Float](repeating: 0, count: outputCount * c)
        x.scalars.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for (i, s) in slotOf.enumerated() {
                    for j in 0..<c { dst[s * c + j] += src[i * c + j] }
                }
            }
        }
        return Tensor(shape: [outputCount, c], scalars: out)
    }

    /// `scatter_reduce(…, "mean", include_self=True)` as tomesd uses it: the plain average of
    /// each slot's members.
    public func mergeMean(_ x: Tensor) -> Tensor {
        var out = mergeSum(x)
        let c = x.shape[1], n = counts
        for s in 0..<outputCount { for j in 0..<c { out.scalars[s * c + j] /= Float(n[s]) } }
        return out
    }

    /// ToMe's `merge_wavg`: size-weighted average `merge(x·s, sum) / merge(s, sum)` and the
    /// merged sizes. `sizes` defaults to ones.
    public func mergeWeighted(_ x: Tensor, sizes: [Float]? = nil) -> (tokens: Tensor, sizes: [Float]) {
        let c = x.shape[1]
        let s = sizes ?? [Float](repeating: 1, count: inputCount)
        precondition(s.count == inputCount, "sizes must have \(inputCount) entries")
        var weighted = x
        weighted.scalars.withUnsafeMutableBufferPointer { p in
            for i in 0..<inputCount { for j in 0..<c { p[i * c + j] *= s[i] } }
        }
        var merged = mergeSum(weighted)
        var newSizes = [Float](repeating: 0, count: outputCount)
        for (i, slot) in slotOf.enumerated() { newSizes[slot] += s[i] }
        merged.scalars.withUnsafeMutableBufferPointer { p in
            for i in 0..<outputCount { for j in 0..<c { p[i * c + j] /= newSizes[i] } }
        }
        return (merged, newSizes)
    }

    /// `y[slotOf]`: every input position receives its slot's row. `y` is `[outputCount, C]`.
    public func unmerge(_ y: Tensor) -> Tensor {
        precondition(y.rank == 2 && y.shape[0] == outputCount, "y must be [\(outputCount), C], got \(y.shape)")
        return y.indexSelect(axis: 0, slotOf)
    }

    /// This merge followed by `next` (whose inputs are this map's outputs).
    public func then(_ next: MergeMap) -> MergeMap {
        precondition(
            next.inputCount == outputCount, "maps do not chain: \(outputCount) outputs, \(next.inputCount) inputs")
        return MergeMap(unchecked: slotOf.map { next.slotOf[$0] }, outputCount: next.outputCount)
    }
}

extension BipartiteMatching {
    /// The matching as a ``MergeMap`` (output order `concat(A[unm], B)`, as ToMe).
    public var mergeMap: MergeMap { MergeMap(unchecked: slotOf, outputCount: outputCount) }
}
