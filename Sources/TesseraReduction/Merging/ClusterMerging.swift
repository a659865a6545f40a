// ClustViT's non-learned core (cluster merging and regeneration). ClustViT predicts a cluster id
// per patch with a learned clustering module; given those ids (0 = keep the patch as it is),
// every cluster is replaced by the mean of its members and the sequence becomes
// `[CLS, kept…, cluster means…]` (kept patches in original order, clusters by ascending id,
// empty ids skipped). Regeneration scatters the kept outputs back to their positions and
// broadcasts each cluster's output to all of its members, restoring the dense grid.
import TesseraCore

/// ClustViT cluster merging from given assignments, and regeneration.
public struct ClusterMerging: Sendable, Equatable {
    /// Whether the sequence starts with a class token (never merged, always output 0).
    public let classToken: Bool
    /// Patch indices (0-based over patches) kept unmerged, ascending.
    public let kept: [Int]
    /// Non-empty cluster ids, ascending: output rows after the kept patches.
    public let clusters: [Int]
    /// The map over the whole input sequence (CLS included when `classToken`).
    public let mergeMap: MergeMap

    /// The merge that a cluster assignment of the patches describes.
    /// - Parameters:
    ///   - assignments: cluster id per patch (`[N]`); 0 keeps the patch, ids ≥ 1 merge.
    ///   - classToken: the sequence to merge is `[CLS, patches…]`.
    /// - Throws: ``ReductionError/parameter(_:)`` for a negative id.
    public init(assignments: [Int], classToken: Bool = true) throws {
        guard assignments.allSatisfy({ $0 >= 0 }) else { throw ReductionError.parameter("cluster ids must be ≥ 0") }
        self.classToken = classToken
        kept = assignments.indices.filter { assignments[$0] == 0 }
        clusters = Array(Set(assignments.filter { $0 > 0 })).sorted()
        let prefix = classToken ? 1 : 0
        var clusterSlot: [Int: Int] = [:]
        for (i, id) in clusters.enumerated() { clusterSlot[id] = prefix + kept.count + i }
        var slots = classToken ? [0] : []
        var next = prefix
        for id in assignments {
            if id == 0 { slots.append(next); next += 1 } else { slots.append(clusterSlot[id]!) }
        }
        mergeMap = MergeMap(unchecked: slots, outputCount: prefix + kept.count + clusters.count)
    }

    /// `[CLS, kept…, cluster means…]` and each output's size (member count).
    /// `x` is `[N(+1), C]` in input order.
    public func merge(_ x: Tensor) -> (tokens: Tensor, sizes: [Float]) {
        (mergeMap.mergeMean(x), mergeMap.counts.map(Float.init))
    }

    /// Scatters `[outputCount, C]` outputs back to `[N(+1), C]`: kept tokens to their positions,
    /// each cluster's output to all its members.
    public func regenerate(_ y: Tensor) -> Tensor { mergeMap.unmerge(y) }
}
