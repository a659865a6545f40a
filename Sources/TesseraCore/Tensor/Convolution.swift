extension Tensor {
    /// `F.linear`: `x[..., in] · weightᵀ + bias`, with `weight` as `[out, in]`.
    public func linear(weight: Tensor, bias: Tensor?) -> Tensor {
        precondition(weight.rank == 2, "linear weight must be [out, in], got \(weight.shape)")
        let inF = weight.shape[1], outF = weight.shape[0]
        precondition(shape.last == inF, "linear: input \(shape) does not end in \(inF)")
        precondition(bias == nil || bias!.count == outF, "linear: bias has \(bias!.count) elements, expected \(outF)")
        let rows = count / max(1, inF)
        // BLAS with beta 0 writes every element of C without reading it: skip the zero fill (it cost
        // as much as a tenth of a transformer's time in page zeroing and memset).
        var out =
            bias == nil && inF > 0
            ? [Float](unsafeUninitializedCapacity: rows * outF) { _, initialized in initialized = rows * outF }
            : [Float](repeating: 0, count: rows * outF)
        out.withUnsafeMutableBufferPointer { c in
            if let bias {
                bias.scalars.withUnsafeBufferPointer { b in
                    for r in 0..<rows { (c.baseAddress! + r * outF).update(from: b.baseAddress!, count: outF) }
                }
            }
            scalars.withUnsafeBufferPointer { a in
                weight.scalars.withUnsafeBufferPointer { w in
                    BLAS.sgemm(
                        transposeB: true, m: rows, n: outF, k: inF, a: a.baseAddress!, lda: inF,
                        b: w.baseAddress!, ldb: inF, beta: bias == nil ? 0 : 1, c: c.baseAddress!, ldc: outF)
                }
            }
        }
        return Tensor(shape: Array(shape.dropLast()) + [outF], scalars: out)
    }

    /// `F.conv2d` on `[N, C, H, W]` with `weight` `[O, C, kh, kw]` (groups = 1, dilation = 1).
    ///
    /// 3×3 stride-1 padding-1 convolutions over enough channels
    /// (``Winograd/applies(inputShape:weightShape:stride:padding:)``) and pixels run as Winograd
    /// F(4×4, 3×3), transforming `weight` on every call (layers keep the transform:
    /// ``conv2dWinograd(_:bias:)``); the rest as im2col + GEMM, where 1×1
    /// stride-1 skips im2col.
    public func conv2d(weight: Tensor, bias: Tensor?, stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0))
        -> Tensor
    {
        if Winograd.applies(inputShape: shape, weightShape: weight.shape, stride: stride, padding: padding)
            && Winograd.amortizesWeightTransform(inputShape: shape)
        {
            return conv2dWinograd(WinogradWeights(weight), bias: bias)
        }
        return conv2dIm2col(weight: weight, bias: bias, stride: stride, padding: padding)
    }

    /// ``conv2d(weight:bias:stride:padding:)`` by im2col + GEMM whatever the shapes.
    func conv2dIm2col(weight: Tensor, bias: Tensor?, stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0))
        -> Tensor
    {
        precondition(
            rank == 4 && weight.rank == 4,
            "conv2d needs [N,C,H,W] input and [O,C,kh,kw] weight, got \(shape), \(weight.shape)")
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let (o, kc, kh, kw) = (weight.shape[0], weight.shape[1], weight.shape[2], weight.shape[3])
        precondition(kc == c, "conv2d: input has \(c) channels, weight expects \(kc)")
        let (sh, sw) = stride, (ph, pw) = padding
        let oh = (h + 2 * ph - kh) / sh + 1, ow = (w + 2 * pw - kw) / sw + 1
        precondition(oh > 0 && ow > 0, "conv2d: kernel larger than padded input")
        let kdim = c * kh * kw, spatial = oh * ow
        let direct = kh == 1 && kw == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0
        var out = [Float](repeating: 0, count: n * o * spatial)
        // im2col in bands of output rows, so the column buffer stays cache-sized (a 256×256
        // 3×3 convolution over 128 channels would otherwise need a 300 MB buffer).
        let bandRows = direct ? oh : max(1, min(oh, (1 << 21) / max(1, kdim * ow)))
        var col = direct ? [] : [Float](repeating: 0, count: kdim * bandRows * ow)
        scalars.withUnsafeBufferPointer { src in
            weight.scalars.withUnsafeBufferPointer { wt in
                out.withUnsafeMutableBufferPointer { dst in
                    for img in 0..<n {
                        let x = src.baseAddress! + img * c * h * w
                        let y = dst.baseAddress! + img * o * spatial
                        if let bias {
                            for oc in 0..<o {
                                (y + oc * spatial).initialize(repeating: bias.scalars[oc], count: spatial)
                            }
                        }
                        if direct {
                            BLAS.sgemm(
                                m: o, n: spatial, k: kdim, a: wt.baseAddress!, lda: kdim, b: x, ldb: spatial,
                                beta: bias == nil ? 0 : 1, c: y, ldc: spatial)
                            continue
                        }
                        for band in Swift.stride(from: 0, to: oh, by: bandRows) {
                            let rows = min(bandRows, oh - band), cols = rows * ow
                            col.withUnsafeMutableBufferPointer { colBuf in
                                let p = UncheckedSendable((x, colBuf.baseAddress!))
                                parallelChunks(kdim, minChunk: 8) { range in
                                    let (x, cp) = p.value
                                    for row in range {
                                        let ch = row / (kh * kw), ky = (row / kw) % kh, kx = row % kw
                                        let dstRow = cp + row * cols
                                        for r in 0..<rows {
                                            let iy = (band + r) * sh - ph + ky
                                            let d = dstRow + r * ow
                                            guard iy >= 0 && iy < h else {
                                                d.initialize(repeating: 0, count: ow); continue
                                            }
                                            let srcRow = x + (ch * h + iy) * w
                                            if sw == 1 {
                                                // a contiguous run of the source row, zeros outside it
                                                let lo = Swift.max(0, pw - kx), hi = Swift.min(ow, w + pw - kx)
                                                if lo > 0 { d.initialize(repeating: 0, count: Swift.min(lo, ow)) }
                                                if hi > lo {
                                                    (d + lo).update(from: srcRow + (lo - pw + kx), count: hi - lo)
                                                }
                                                if hi < ow {
                                                    (d + Swift.max(hi, 0)).initialize(
                                                        repeating: 0, count: ow - Swift.max(hi, 0))
                                                }
                                            } else {
                                                // columns lo..<hi read inside the row: a branch-free strided copy
                                                let lo = Swift.min(ow, Swift.max(0, (pw - kx + sw - 1) / sw))
                                                let hi = Swift.max(lo, Swift.min(ow, (w + pw - kx + sw - 1) / sw))
                                                d.initialize(repeating: 0, count: lo)
                                                let s = srcRow - pw + kx
                                                for xx in lo..<hi { d[xx] = s[xx * sw] }
                                                (d + hi).initialize(repeating: 0, count: ow - hi)
                                            }
                                        }
                                    }
                                }
                                BLAS.sgemm(
                                    m: o, n: cols, k: kdim, a: wt.baseAddress!, lda: kdim, b: colBuf.baseAddress!,
                                    ldb: cols,
                                    beta: bias == nil ? 0 : 1, c: y + band * ow, ldc: spatial)
                            }
                        }
                    }
                }
            }
        }
        return Tensor(shape: [n, o, oh, ow], scalars: out)
    }

    /// Modes of `F.interpolate` without antialiasing (bicubic uses a = −0.75 and replicates
    /// the border, as PyTorch's `upsample_bicubic2d`).
    public enum InterpolationMode: Sendable {
        /// `"nearest"` samples source pixel ⌊i · scale⌋ (PyTorch's legacy rule); `"nearest-exact"` samples
        /// ⌊(i + 0.5) · scale⌋, the pixel centre.
        case nearest, nearestExact
        /// `"bilinear"`; `alignCorners` maps the corner pixels of input and output onto each other.
        case bilinear(alignCorners: Bool)
        /// `"bicubic"` (a = −0.75, border replicated); `alignCorners` as for ``bilinear(alignCorners:)``.
        case bicubic(alignCorners: Bool)
    }

    /// `F.interpolate(x, size=(outH, outW), mode=…)` on the last two axes.
    public func interpolated(height outH: Int, width outW: Int, mode: InterpolationMode) -> Tensor {
        precondition(rank >= 2 && outH > 0 && outW > 0, "interpolate needs [..., H, W] and a positive size")
        let h = shape[rank - 2], w = shape[rank - 1], planes = count / max(1, h * w)
        var out = [Float](repeating: 0, count: planes * outH * outW)
        switch mode {
        case .nearest, .nearestExact:
            // "nearest" samples at floor(i * scale) (PyTorch's legacy rule), "nearest-exact"
            // at floor((i + 0.5) * scale), the pixel centre.
            let offset: Float = { if case .nearestExact = mode { return 0.5 } else { return 0 } }()
            let sy = Float(h) / Float(outH), sx = Float(w) / Float(outW)
            let ys = (0..<outH).map { Swift.min(Int(((Float($0) + offset) * sy).rounded(.down)), h - 1) }
            let xs = (0..<outW).map { Swift.min(Int(((Float($0) + offset) * sx).rounded(.down)), w - 1) }
            for p in 0..<planes {
                for y in 0..<outH {
                    for x in 0..<outW { out[(p * outH + y) * outW + x] = scalars[(p * h + ys[y]) * w + xs[x]] }
                }
            }
        case .bilinear(let alignCorners):
            func source(_ i: Int, _ inSize: Int, _ outSize: Int) -> (Int, Int, Float) {
                let src: Float
                if alignCorners {
                    src = outSize > 1 ? Float(i) * Float(inSize - 1) / Float(outSize - 1) : 0
                } else {
                    src = Swift.max(0, (Float(i) + 0.5) * (Float(inSize) / Float(outSize)) - 0.5)
                }
                let i0 = Swift.min(Int(src), inSize - 1)
                let i1 = Swift.min(i0 + 1, inSize - 1)
                return (i0, i1, src - Float(i0))
            }
            let ys = (0..<outH).map { source($0, h, outH) }, xs = (0..<outW).map { source($0, w, outW) }
            for p in 0..<planes {
                let base = p * h * w
                for y in 0..<outH {
                    let (y0, y1, ly) = ys[y]
                    for x in 0..<outW {
                        let (x0, x1, lx) = xs[x]
                        let top = scalars[base + y0 * w + x0] * (1 - lx) + scalars[base + y0 * w + x1] * lx
                        let bottom = scalars[base + y1 * w + x0] * (1 - lx) + scalars[base + y1 * w + x1] * lx
                        out[(p * outH + y) * outW + x] = top * (1 - ly) + bottom * ly
                    }
                }
            }
        case .bicubic(let alignCorners):
            // Per output coordinate: the four clamped taps and their cubic weights.
            func taps(_ i: Int, _ inSize: Int, _ outSize: Int) -> ([Int], [Float]) {
                let src: Float =
                    alignCorners
                    ? (outSize > 1 ? Float(i) * Float(inSize - 1) / Float(outSize - 1) : 0)
                    : (Float(i) + 0.5) * (Float(inSize) / Float(outSize)) - 0.5
                let i0 = Int(src.rounded(.down)), t = src - Float(i0)
                let a: Float = -0.75
                func near(_ x: Float) -> Float { ((a + 2) * x - (a + 3)) * x * x + 1 }
                func far(_ x: Float) -> Float { ((a * x - 5 * a) * x + 8 * a) * x - 4 * a }
                let w: [Float] = [far(t + 1), near(t), near(1 - t), far(2 - t)]
                return ((-1...2).map { Swift.min(Swift.max(i0 + $0, 0), inSize - 1) }, w)
            }
            let ys = (0..<outH).map { taps($0, h, outH) }, xs = (0..<outW).map { taps($0, w, outW) }
            for p in 0..<planes {
                let base = p * h * w
                for y in 0..<outH {
                    let (yi, yw) = ys[y]
                    for x in 0..<outW {
                        let (xi, xw) = xs[x]
                        var acc: Float = 0
                        for r in 0..<4 {
                            let row = base + yi[r] * w
                            let v =
                                scalars[row + xi[0]] * xw[0] + scalars[row + xi[1]] * xw[1]
                                + scalars[row + xi[2]] * xw[2] + scalars[row + xi[3]] * xw[3]
                            acc += v * yw[r]
                        }
                        out[(p * outH + y) * outW + x] = acc
                    }
                }
            }
        }
        var newShape = shape
        newShape[rank - 2] = outH
        newShape[rank - 1] = outW
        return Tensor(shape: newShape, scalars: out)
    }
}
