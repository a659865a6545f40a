extension Tensor {
    /// Applies `body` to each 1-D lane along `axis`: (lane elements, lane index).
    private func lanes<R>(along a: Int, _ body: ([Float]) -> R) -> (outer: Int, inner: Int, results: [R]) {
        let ax = axis(a)
        let n = shape[ax], outer = shape[..<ax].reduce(1, *), inner = shape[(ax + 1)...].reduce(1, *)
        var results: [R] = []
        results.reserveCapacity(outer * inner)
        var lane = [Float](repeating: 0, count: n)
        for o in 0..<outer {
            for i in 0..<inner {
                for j in 0..<n { lane[j] = scalars[(o * n + j) * inner + i] }
                results.append(body(lane))
            }
        }
        return (outer, inner, results)
    }

    private func reduced(_ a: Int, keepDims: Bool, _ f: ([Float]) -> Float) -> Tensor {
        let ax = axis(a)
        let r = lanes(along: ax, f)
        var newShape = shape
        if keepDims { newShape[ax] = 1 } else { newShape.remove(at: ax) }
        return Tensor(shape: newShape, scalars: r.results)
    }

    /// Sum along an axis.
    /// - Parameters:
    ///   - a: The axis to reduce; negative values count from the last axis.
    ///   - keepDims: Whether the reduced axis stays, with extent 1 (default `false`: it is removed).
    public func sum(axis a: Int, keepDims: Bool = false) -> Tensor {
        reduced(a, keepDims: keepDims) { $0.reduce(0, +) }
    }
    /// Arithmetic mean along an axis (NaN for an axis of extent 0).
    /// - Parameters:
    ///   - a: The axis to reduce; negative values count from the last axis.
    ///   - keepDims: Whether the reduced axis stays, with extent 1 (default `false`: it is removed).
    public func mean(axis a: Int, keepDims: Bool = false) -> Tensor {
        reduced(a, keepDims: keepDims) { $0.reduce(0, +) / Float($0.count) }
    }
    /// Maximum along an axis (NaN propagates, as in PyTorch).
    public func maximum(axis a: Int, keepDims: Bool = false) -> Tensor {
        reduced(a, keepDims: keepDims) { lane in lane.contains(where: \.isNaN) ? .nan : lane.max() ?? -.infinity }
    }
    /// Minimum along an axis (NaN propagates, as in PyTorch).
    public func minimum(axis a: Int, keepDims: Bool = false) -> Tensor {
        reduced(a, keepDims: keepDims) { lane in lane.contains(where: \.isNaN) ? .nan : lane.min() ?? .infinity }
    }
    /// Variance along an axis; `unbiased` divides by n − 1.
    public func variance(axis a: Int, unbiased: Bool = false, keepDims: Bool = false) -> Tensor {
        reduced(a, keepDims: keepDims) { lane in
            let m = lane.reduce(0, +) / Float(lane.count)
            let ss = lane.reduce(0) { $0 + ($1 - m) * ($1 - m) }
            return ss / Float(unbiased ? lane.count - 1 : lane.count)
        }
    }
    /// Sum of all elements.
    public func sum() -> Float { scalars.reduce(0, +) }

    /// Index of the largest element along an axis; the first on ties; NaN counts as largest.
    public func argmax(axis a: Int) -> [Int] {
        lanes(along: a) { lane -> Int in
            var best = 0
            for j in 1..<Swift.max(1, lane.count) where lane[j] > lane[best] || (lane[j].isNaN && !lane[best].isNaN) {
                best = j
            }
            return best
        }.results
    }

    /// Index of the smallest element along an axis; the first on ties; NaN counts as smallest.
    public func argmin(axis a: Int) -> [Int] {
        lanes(along: a) { lane -> Int in
            var best = 0
            for j in 1..<Swift.max(1, lane.count) where lane[j] < lane[best] || (lane[j].isNaN && !lane[best].isNaN) {
                best = j
            }
            return best
        }.results
    }

    /// The `k` largest (or smallest) elements along an axis, sorted, with their indices;
    /// ties keep the lower index first.
    public func topK(_ k: Int, axis a: Int = -1, largest: Bool = true) -> (values: Tensor, indices: [Int]) {
        let ax = axis(a)
        precondition(k >= 0 && k <= shape[ax], "topK: k = \(k) outside 0...\(shape[ax])")
        let r = sortedLanes(ax, descending: largest)
        return gatherLanes(r, ax, take: k)
    }

    /// Sorts along an axis (stable: equal elements keep their order), with the source indices.
    public func sorted(axis a: Int = -1, descending: Bool = false) -> (values: Tensor, indices: [Int]) {
        let ax = axis(a)
        return gatherLanes(sortedLanes(ax, descending: descending), ax, take: shape[ax])
    }

    private func sortedLanes(_ ax: Int, descending: Bool) -> (outer: Int, inner: Int, results: [[Int]]) {
        lanes(along: ax) { lane -> [Int] in
            // NaN sorts as larger than everything (PyTorch).
            func less(_ x: Float, _ y: Float) -> Bool { x.isNaN ? false : (y.isNaN ? true : x < y) }
            return Array(lane.indices).sorted { i, j in
                let (x, y) = (lane[i], lane[j])
                if descending ? less(y, x) : less(x, y) { return true }
                if descending ? less(x, y) : less(y, x) { return false }
                return i < j
            }
        }
    }

    private func gatherLanes(_ r: (outer: Int, inner: Int, results: [[Int]]), _ ax: Int, take k: Int) -> (
        values: Tensor, indices: [Int]
    ) {
        let n = shape[ax]
        var values = [Float](repeating: 0, count: r.outer * k * r.inner)
        var indices = [Int](repeating: 0, count: values.count)
        for o in 0..<r.outer {
            for i in 0..<r.inner {
                let order = r.results[o * r.inner + i]
                for j in 0..<k {
                    let dst = (o * k + j) * r.inner + i
                    indices[dst] = order[j]
                    values[dst] = scalars[(o * n + order[j]) * r.inner + i]
                }
            }
        }
        var newShape = shape
        newShape[ax] = k
        return (Tensor(shape: newShape, scalars: values), indices)
    }

    /// Running sum along an axis.
    public func cumulativeSum(axis a: Int) -> Tensor {
        let ax = axis(a)
        let n = shape[ax], outer = shape[..<ax].reduce(1, *), inner = shape[(ax + 1)...].reduce(1, *)
        var out = scalars
        for o in 0..<outer {
            for i in 0..<inner {
                var acc: Float = 0
                for j in 0..<n {
                    let k = (o * n + j) * inner + i
                    acc += out[k]
                    out[k] = acc
                }
            }
        }
        return Tensor(shape: shape, scalars: out)
    }
}
