extension Tensor {
    /// Normalizes a possibly negative axis.
    @inlinable
    public func axis(_ a: Int) -> Int {
        let r = a < 0 ? a + rank : a
        precondition(r >= 0 && r < rank, "axis \(a) out of range for rank \(rank)")
        return r
    }

    /// Row-major strides of the shape.
    public var strides: [Int] {
        var s = [Int](repeating: 1, count: rank)
        var acc = 1
        for i in stride(from: rank - 1, through: 0, by: -1) { s[i] = acc; acc *= shape[i] }
        return s
    }

    /// Axes reordered (`torch.permute`), materialized contiguously.
    public func permuted(_ order: [Int]) -> Tensor {
        precondition(order.count == rank && Set(order) == Set(0..<rank), "bad permutation \(order) for rank \(rank)")
        if order == Array(0..<rank) { return self }
        let newShape = order.map { shape[$0] }
        let src = strides
        let srcStrides = order.map { src[$0] }
        var out = [Float](repeating: 0, count: count)
        let inner = newShape.last ?? 1, innerStride = srcStrides.last ?? 1
        let outerShape = Array(newShape.dropLast()), outerStrides = Array(srcStrides.dropLast())
        scalars.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { o in
                let p = UncheckedSendable((s.baseAddress!, o.baseAddress!))
                parallelChunks(count / max(1, inner), minChunk: 64) { range in
                    let (s, o) = p.value
                    for outer in range {
                        let base = batchOffset(outer, outerShape, outerStrides)
                        let d = o + outer * inner
                        for j in 0..<inner { d[j] = s[base + j * innerStride] }
                    }
                }
            }
        }
        return Tensor(shape: newShape, scalars: out)
    }

    /// Swaps two axes.
    public func transposed(_ a: Int = -2, _ b: Int = -1) -> Tensor {
        var order = Array(0..<rank)
        order.swapAt(axis(a), axis(b))
        return permuted(order)
    }

    /// Concatenation along an axis (`torch.cat`).
    public static func concatenate(_ tensors: [Tensor], axis a: Int) -> Tensor {
        precondition(!tensors.isEmpty, "concatenate needs at least one tensor")
        let first = tensors[0]
        let ax = first.axis(a)
        for t in tensors {
            precondition(
                t.rank == first.rank
                    && zip(t.shape, first.shape).enumerated().allSatisfy {
                        $0.offset == ax || $0.element.0 == $0.element.1
                    },
                "concatenate: shapes \(tensors.map(\.shape)) differ off axis \(ax)")
        }
        let outer = first.shape[..<ax].reduce(1, *)
        let inner = first.shape[(ax + 1)...].reduce(1, *)
        var out: [Float] = []
        out.reserveCapacity(tensors.reduce(0) { $0 + $1.count })
        for o in 0..<outer {
            for t in tensors {
                let len = t.shape[ax] * inner
                out += t.scalars[(o * len)..<((o + 1) * len)]
            }
        }
        var shape = first.shape
        shape[ax] = tensors.reduce(0) { $0 + $1.shape[ax] }
        return Tensor(shape: shape, scalars: out)
    }

    /// Elements `range` along an axis (`t.narrow`).
    public func slice(axis a: Int, _ range: Range<Int>) -> Tensor {
        let ax = axis(a)
        precondition(
            range.lowerBound >= 0 && range.upperBound <= shape[ax], "slice \(range) outside axis of size \(shape[ax])")
        let outer = shape[..<ax].reduce(1, *), inner = shape[(ax + 1)...].reduce(1, *)
        var out: [Float] = []
        out.reserveCapacity(outer * range.count * inner)
        for o in 0..<outer {
            let base = (o * shape[ax] + range.lowerBound) * inner
            out += scalars[base..<(base + range.count * inner)]
        }
        var newShape = shape
        newShape[ax] = range.count
        return Tensor(shape: newShape, scalars: out)
    }

    /// Splits into pieces of the given sizes along an axis (`torch.split`).
    public func split(_ sizes: [Int], axis a: Int) -> [Tensor] {
        let ax = axis(a)
        precondition(sizes.reduce(0, +) == shape[ax], "split sizes \(sizes) do not sum to \(shape[ax])")
        var start = 0
        return sizes.map { size in
            defer { start += size }
            return slice(axis: ax, start..<(start + size))
        }
    }

    /// Rows of axis `a` picked by `indices` (`torch.index_select`).
    public func indexSelect(axis a: Int, _ indices: [Int]) -> Tensor {
        let ax = axis(a)
        let outer = shape[..<ax].reduce(1, *), inner = shape[(ax + 1)...].reduce(1, *), n = shape[ax]
        var out = [Float]()
        out.reserveCapacity(outer * indices.count * inner)
        for o in 0..<outer {
            for i in indices {
                precondition(i >= 0 && i < n, "index \(i) out of range for axis of size \(n)")
                let base = (o * n + i) * inner
                out += scalars[base..<(base + inner)]
            }
        }
        var newShape = shape
        newShape[ax] = indices.count
        return Tensor(shape: newShape, scalars: out)
    }

    /// `torch.gather`: `out[..., j, ...] = self[..., index[..., j, ...], ...]` along an axis;
    /// `index` has the output's shape (given flat, row-major).
    public func gather(axis a: Int, index: [Int], indexShape: [Int]) -> Tensor {
        let ax = axis(a)
        precondition(
            indexShape.count == rank && index.count == indexShape.reduce(1, *), "gather: bad index shape \(indexShape)")
        let outer = indexShape[..<ax].reduce(1, *), inner = indexShape[(ax + 1)...].reduce(1, *), m = indexShape[ax]
        let selfInner = shape[(ax + 1)...].reduce(1, *)
        precondition(inner <= selfInner || rank == 1, "gather: index larger than input off the gather axis")
        var out = [Float](repeating: 0, count: index.count)
        let st = strides
        for o in 0..<outer {
            let outerOffset = batchOffset(o, Array(indexShape[..<ax]), Array(st[..<ax]))
            for j in 0..<m {
                for i in 0..<inner {
                    let k = (o * m + j) * inner + i
                    let idx = index[k]
                    precondition(idx >= 0 && idx < shape[ax], "gather index \(idx) out of range")
                    let innerOffset = batchOffset(i, Array(indexShape[(ax + 1)...]), Array(st[(ax + 1)...]))
                    out[k] = scalars[outerOffset + idx * st[ax] + innerOffset]
                }
            }
        }
        return Tensor(shape: indexShape, scalars: out)
    }

    /// `torch.scatter_add`: adds `source` into a copy of `self` at `index` along an axis
    /// (`index` and `source` share a shape).
    public func scatterAdd(axis a: Int, index: [Int], source: Tensor) -> Tensor {
        let ax = axis(a)
        let ishape = source.shape
        precondition(ishape.count == rank && index.count == source.count, "scatterAdd: index and source shapes differ")
        var out = self
        let st = strides
        let outer = ishape[..<ax].reduce(1, *), inner = ishape[(ax + 1)...].reduce(1, *), m = ishape[ax]
        for o in 0..<outer {
            let outerOffset = batchOffset(o, Array(ishape[..<ax]), Array(st[..<ax]))
            for j in 0..<m {
                for i in 0..<inner {
                    let k = (o * m + j) * inner + i
                    let idx = index[k]
                    precondition(idx >= 0 && idx < shape[ax], "scatterAdd index \(idx) out of range")
                    let innerOffset = batchOffset(i, Array(ishape[(ax + 1)...]), Array(st[(ax + 1)...]))
                    out.scalars[outerOffset + idx * st[ax] + innerOffset] += source.scalars[k]
                }
            }
        }
        return out
    }
}

extension Tensor {
    /// A `[1, …]` tensor repeated along axis 0 to `[count, …]` (`expand(count, …)`, materialised).
    public func expanded(batch count: Int) -> Tensor {
        precondition(rank >= 1 && shape[0] == 1 && count >= 0, "expanded(batch:) needs a [1, …] tensor, got \(shape)")
        guard count != 1 else { return self }
        var out = [Float]()
        out.reserveCapacity(count * self.count)
        for _ in 0..<count { out += scalars }
        var newShape = shape
        newShape[0] = count
        return Tensor(shape: newShape, scalars: out)
    }

    /// Patch tokens back to an image: `[B, gh·gw, p·p·C]` with each token laid out `(p1 p2 c)`
    /// becomes `[B, C, gh·p, gw·p]` (einops `b (h w) (p1 p2 c) -> b c (h p1) (w p2)`).
    public func unpatchified(patchSize p: Int, gridHeight gh: Int, gridWidth gw: Int, channels c: Int) -> Tensor {
        precondition(
            rank == 3 && shape[1] == gh * gw && shape[2] == p * p * c,
            "unpatchified: \(shape) is not [B, \(gh * gw), \(p * p * c)]")
        let b = shape[0], height = gh * p, width = gw * p
        var image = [Float](repeating: 0, count: b * c * height * width)
        scalars.withUnsafeBufferPointer { src in
            image.withUnsafeMutableBufferPointer { dst in
                for bi in 0..<b {
                    for hi in 0..<gh {
                        for wi in 0..<gw {
                            let token = ((bi * gh + hi) * gw + wi) * p * p * c
                            for p1 in 0..<p {
                                for p2 in 0..<p {
                                    for ch in 0..<c {
                                        let y = hi * p + p1, x = wi * p + p2
                                        dst[((bi * c + ch) * height + y) * width + x] =
                                            src[token + (p1 * p + p2) * c + ch]
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return Tensor(shape: [b, c, height, width], scalars: image)
    }
}

extension Tensor {
    /// `F.pad(x, (0, right, 0, bottom))` on `[..., H, W]`: zero rows below and zero columns to the
    /// right (the asymmetric padding of stride-2 downsampling convolutions).
    public func zeroPadded(bottom: Int, right: Int) -> Tensor {
        precondition(rank >= 2 && bottom >= 0 && right >= 0, "zeroPadded needs [..., H, W] and non-negative pads")
        let h = shape[rank - 2], w = shape[rank - 1], planes = count / Swift.max(1, h * w)
        let oh = h + bottom, ow = w + right
        var out = [Float](repeating: 0, count: planes * oh * ow)
        scalars.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for p in 0..<planes {
                    for y in 0..<h {
                        for x in 0..<w { dst[(p * oh + y) * ow + x] = src[(p * h + y) * w + x] }
                    }
                }
            }
        }
        var newShape = shape
        newShape[rank - 2] = oh
        newShape[rank - 1] = ow
        return Tensor(shape: newShape, scalars: out)
    }
}
