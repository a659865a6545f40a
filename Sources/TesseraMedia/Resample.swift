import TesseraCore

/// Whose 8-bit resampling arithmetic to reproduce. Both use the same filters and coefficients;
/// they differ in fixed-point precision and pass order, which moves results by a level here and
/// there.
public enum ResampleEngine: Sendable {
    /// Pillow 13's `Image.resize`: 22-bit weights; vertical pass first when the height shrinks
    /// by more than twice the width's shrink.
    case pillow
    /// PyTorch's uint8 antialiased `interpolate` (torchvision v2 on tensors, transformers 5's
    /// image processors): int16 weights with the largest precision that fits, horizontal pass first.
    case pytorch
}

/// Resampling filters, with Pillow's definitions (bicubic uses a = −0.5).
///
/// Downscaling widens each filter by the scale factor (antialiasing), as Pillow and
/// `torchvision.transforms.functional.resize(..., antialias=True)` do.
public enum ResizeFilter: String, Sendable, CaseIterable {
    /// Nearest neighbour (the source pixel under each output pixel's centre), box, triangle,
    /// Hamming-windowed sinc, Keys cubic with a = −0.5, and Lanczos-3, each as Pillow's filter of that name.
    case nearest, box, bilinear, hamming, bicubic, lanczos

    /// Half-width of the filter at scale 1.
    var support: Double {
        switch self {
        case .nearest, .box: return 0.5
        case .bilinear, .hamming: return 1
        case .bicubic: return 2
        case .lanczos: return 3
        }
    }

    @inline(__always)
    func weight(_ x: Double) -> Double {
        switch self {
        case .nearest, .box:
            return x > -0.5 && x <= 0.5 ? 1 : 0
        case .bilinear:
            let a = abs(x)
            return a < 1 ? 1 - a : 0
        case .hamming:
            let a = abs(x)
            if a == 0 { return 1 }
            if a >= 1 { return 0 }
            let px = a * .pi
            return sin(px) / px * (0.54 + 0.46 * cos(px))
        case .bicubic:
            let a = abs(x), c = -0.5
            if a < 1 { return ((c + 2) * a - (c + 3)) * a * a + 1 }
            if a < 2 { return (((a - 5) * a + 8) * a - 4) * c }
            return 0
        case .lanczos:
            guard x >= -3 && x < 3 else { return 0 }
            return sinc(x) * sinc(x / 3)
        }
    }

    private func sinc(_ x: Double) -> Double {
        if x == 0 { return 1 }
        let px = x * .pi
        return sin(px) / px
    }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Per-output-sample source windows and weights for one axis (Pillow's `precompute_coeffs`).
struct ResampleCoefficients<T: BinaryFloatingPoint> {
    /// Taps per output sample (row stride of `weights`).
    let taps: Int
    /// First source index per output sample.
    let start: [Int]
    /// Number of source samples per output sample.
    let count: [Int]
    /// `outSize * taps` normalized weights.
    let weights: [T]

    /// Computes coefficients mapping `inSize` samples to `outSize`, all arithmetic in `T`
    /// (Double reproduces Pillow; Float reproduces PyTorch's antialiased interpolate), for the
    /// outputs `outputs` (default: all), indexed from 0: a window of a huge output costs only
    /// its own samples.
    init(inSize: Int, outSize: Int, filter: ResizeFilter, outputs: Range<Int>? = nil) {
        let outputs = outputs ?? 0..<outSize
        let scale = T(inSize) / T(outSize)
        let filterScale = max(scale, 1)
        let support = T(filter.support) * filterScale
        let taps = Int((support).rounded(.up)) * 2 + 1
        let inverse = 1 / filterScale
        var start = [Int](repeating: 0, count: outputs.count)
        var count = [Int](repeating: 0, count: outputs.count)
        var weights = [T](repeating: 0, count: outputs.count * taps)
        for (i, xx) in outputs.enumerated() {
            let center = (T(xx) + 0.5) * scale
            let xmin = max(0, Int(center - support + 0.5))
            let xmax = min(inSize, Int(center + support + 0.5)) - xmin
            var total: T = 0
            for x in 0..<max(0, xmax) {
                let w = T(filter.weight(Double((T(x + xmin) - center + 0.5) * inverse)))
                weights[i * taps + x] = w
                total += w
            }
            if total != 0 {
                for x in 0..<max(0, xmax) { weights[i * taps + x] /= total }
            }
            start[i] = xmin
            count[i] = max(0, xmax)
        }
        self.taps = taps
        self.start = start
        self.count = count
        self.weights = weights
    }
}

// MARK: - 8-bit resampling (bit-exact with Pillow)

/// Pillow's fixed-point precision for 8-bit resampling.
private let precisionBits = 32 - 8 - 2

/// Fixed-point weights and their precision: Pillow's fixed 22 bits, or PyTorch's largest
/// precision whose largest weight (over the whole output: `largestWeight` when `c` holds a
/// window of it) still fits in int16.
private func fixedPoint(_ c: ResampleCoefficients<Double>, engine: ResampleEngine, largestWeight: Double?) -> (
    weights: [Int32], precision: Int32
) {
    var precision = precisionBits
    if engine == .pytorch {
        let wMax = largestWeight ?? c.weights.max() ?? 0
        precision = 0
        while precision < 22 && Int(0.5 + wMax * Double(1 << (precision + 1))) < (1 << 15) { precision += 1 }
    }
    let scale = Double(1 << precision)
    return (c.weights.map { w in Int32(w < 0 ? (-0.5 + w * scale) : (0.5 + w * scale)) }, Int32(precision))
}

@inline(__always)
private func clip8(_ v: Int32, _ precision: Int32) -> UInt8 {
    let s = v >> precision
    return s < 0 ? 0 : (s > 255 ? 255 : UInt8(s))
}

extension Image {
    /// The image resized to `width`×`height`, bit-exact with Pillow 13's `Image.resize`
    /// (and so with torchvision's resize of PIL images): same coefficients, 22-bit fixed
    /// point, 8-bit intermediate, same pass order. RGBA is resized with premultiplied alpha,
    /// as Pillow does.
    public func resized(
        width outW: Int, height outH: Int, filter: ResizeFilter = .bicubic,
        engine: ResampleEngine = .pillow
    ) -> Image {
        resized(width: outW, height: outH, filter: filter, engine: engine, window: nil)
    }

    /// The pixels `window` (columns `x..<x+w`, rows `y..<y+h`) of the image resized to
    /// `width`×`height`, identical to cropping the full resize, in memory and time proportional
    /// to the window: a centre crop of an extreme aspect ratio (1×51452 to a 128-pixel shorter
    /// side is 843 M pixels in full) costs only the crop.
    /// - Precondition: the window lies inside the `width`×`height` output.
    public func resized(
        width fullW: Int, height fullH: Int, filter: ResizeFilter = .bicubic, engine: ResampleEngine = .pillow,
        window: (x: Int, y: Int, width: Int, height: Int)?
    ) -> Image {
        precondition(fullW > 0 && fullH > 0, "resize target must be positive, got \(fullW)x\(fullH)")
        let win = window ?? (0, 0, fullW, fullH)
        precondition(
            win.x >= 0 && win.y >= 0 && win.width > 0 && win.height > 0 && win.x + win.width <= fullW
                && win.y + win.height <= fullH, "resize window \(win) outside \(fullW)x\(fullH)")
        if fullW == width && fullH == height {
            return window == nil ? self : cropped(x: win.x, y: win.y, width: win.width, height: win.height)
        }
        if filter == .nearest { return resizedNearest(width: fullW, height: fullH, window: win) }
        // An axis that keeps its size is not resampled (as in Pillow): crop the source along it.
        let keepX = fullW == width, keepY = fullH == height
        var source = layout == .rgba ? premultiplied() : self
        if keepX || keepY {
            source = source.cropped(
                x: keepX ? win.x : 0, y: keepY ? win.y : 0, width: keepX ? win.width : width,
                height: keepY ? win.height : height)
        }
        let horizontal = ResampleCoefficients<Double>(
            inSize: width, outSize: fullW, filter: filter, outputs: win.x..<(win.x + win.width))
        let vertical = ResampleCoefficients<Double>(
            inSize: height, outSize: fullH, filter: filter, outputs: win.y..<(win.y + win.height))
        // PyTorch's fixed-point precision follows the largest weight over the whole output.
        let hWeight = engine == .pytorch && window != nil ? Self.largestWeight(width, fullW, filter) : nil
        let vWeight = engine == .pytorch && window != nil ? Self.largestWeight(height, fullH, filter) : nil
        let c = channels
        var current = source.pixels
        // Pillow 13 runs the vertical pass first when the height shrinks by more than twice
        // as many pixels as the width does; the order changes the rounded intermediate.
        let horizontalFirst = engine == .pytorch || !(height - fullH > 0 && height - fullH > (width - fullW) * 2)
        if horizontalFirst {
            var vStart = vertical.start
            var curW = source.width
            if !keepX {
                // Only the rows the vertical pass will read.
                let firstRow = keepY ? 0 : vertical.start[0]
                let lastRow = keepY ? source.height : vertical.start[win.height - 1] + vertical.count[win.height - 1]
                vStart = vStart.map { $0 - firstRow }
                current = resampleRows(
                    current, width: source.width, firstRow: firstRow, rows: lastRow - firstRow, channels: c,
                    outWidth: win.width, coefficients: horizontal, engine: engine, largestWeight: hWeight)
                curW = win.width
            }
            if !keepY {
                current = resampleColumns(
                    current, rowLength: curW * c, outRows: win.height, starts: vStart, coefficients: vertical,
                    engine: engine, largestWeight: vWeight)
            }
        } else {
            if !keepY {
                current = resampleColumns(
                    current, rowLength: source.width * c, outRows: win.height, starts: vertical.start,
                    coefficients: vertical, engine: engine, largestWeight: vWeight)
            }
            if !keepX {
                current = resampleRows(
                    current, width: source.width, firstRow: 0, rows: win.height, channels: c,
                    outWidth: win.width, coefficients: horizontal, engine: engine, largestWeight: hWeight)
            }
        }
        let result = Image(width: win.width, height: win.height, layout: layout, pixels: current)
        return layout == .rgba ? result.unpremultiplied() : result
    }

    /// The largest normalized weight of a resize from `inSize` to `outSize` over all outputs,
    /// computed one output at a time (PyTorch's fixed-point precision depends on it).
    private static func largestWeight(_ inSize: Int, _ outSize: Int, _ filter: ResizeFilter) -> Double {
        guard inSize != outSize else { return 0 }
        // The weights repeat with the period of the scale's fraction; scanning every output is
        // exact and costs the filter's taps per output without storing them.
        var largest = 0.0
        var start = 0
        while start < outSize {
            let end = min(outSize, start + 4096)
            let c = ResampleCoefficients<Double>(inSize: inSize, outSize: outSize, filter: filter, outputs: start..<end)
            largest = max(largest, c.weights.max() ?? 0)
            start = end
        }
        return largest
    }

    /// Pillow's NEAREST resize (an affine scale sampling each output pixel's centre), the
    /// pixels `window` of it.
    private func resizedNearest(
        width outW: Int, height outH: Int, window win: (x: Int, y: Int, width: Int, height: Int)
    ) -> Image {
        let c = channels
        let sx = Double(width) / Double(outW), sy = Double(height) / Double(outH)
        // Pillow accumulates the source coordinate by repeated addition; so do we, to pick
        // the same pixel when a coordinate lands on an integer boundary.
        var xs = [Int](repeating: 0, count: win.width)
        var xo = sx * 0.5
        for x in 0..<(win.x + win.width) {
            if x >= win.x { xs[x - win.x] = min(width - 1, max(0, Int(xo))) }
            xo += sx
        }
        var out = [UInt8](repeating: 0, count: win.width * win.height * c)
        var yo = sy * 0.5
        for y in 0..<(win.y + win.height) {
            let syi = min(height - 1, max(0, Int(yo)))
            yo += sy
            guard y >= win.y else { continue }
            for x in 0..<win.width {
                let s = (syi * width + xs[x]) * c, d = ((y - win.y) * win.width + x) * c
                for k in 0..<c { out[d + k] = pixels[s + k] }
            }
        }
        return Image(width: win.width, height: win.height, layout: layout, pixels: out)
    }

    /// RGBA → premultiplied RGBa, with Pillow's rounding.
    private func premultiplied() -> Image {
        var out = pixels
        for i in stride(from: 0, to: out.count, by: 4) {
            let a = Int(out[i + 3])
            for k in 0..<3 {
                let t = Int(out[i + k]) * a + 128
                out[i + k] = UInt8(((t >> 8) + t) >> 8)
            }
        }
        return Image(width: width, height: height, layout: .rgba, pixels: out)
    }

    /// Premultiplied RGBa → RGBA, with Pillow's rounding.
    private func unpremultiplied() -> Image {
        var out = pixels
        for i in stride(from: 0, to: out.count, by: 4) {
            let a = Int(out[i + 3])
            guard a != 0 && a != 255 else { continue }
            for k in 0..<3 { out[i + k] = UInt8(clamping: (255 * Int(out[i + k])) / a) }
        }
        return Image(width: width, height: height, layout: .rgba, pixels: out)
    }
}

/// Horizontal pass: each output sample is a fixed-point weighted sum along its row.
private func resampleRows(
    _ source: [UInt8], width: Int, firstRow: Int, rows: Int, channels c: Int,
    outWidth outW: Int, coefficients k: ResampleCoefficients<Double>, engine: ResampleEngine,
    largestWeight: Double?
) -> [UInt8] {
    var out = [UInt8](unsafeUninitializedCapacity: rows * outW * c) { _, n in n = rows * outW * c }
    let (weights, precision) = fixedPoint(k, engine: engine, largestWeight: largestWeight)
    let taps = k.taps
    source.withUnsafeBufferPointer { src in
        out.withUnsafeMutableBufferPointer { dst in
            weights.withUnsafeBufferPointer { kk in
                k.start.withUnsafeBufferPointer { starts in
                    k.count.withUnsafeBufferPointer { counts in
                        let ptrs = UncheckedSendable(
                            (
                                src.baseAddress!, dst.baseAddress!, kk.baseAddress!,
                                starts.baseAddress!, counts.baseAddress!
                            ))
                        parallelChunks(rows, minChunk: 8) { range in
                            let (s, d, kp, st, ct) = ptrs.value
                            let half: Int32 = precision > 0 ? 1 << (precision - 1) : 0
                            for y in range {
                                let srow = s + (y + firstRow) * width * c
                                var o = d + y * outW * c
                                for xx in 0..<outW {
                                    let n = ct[xx], w = kp + xx * taps
                                    var p = srow + st[xx] * c
                                    if c == 3 {
                                        var a0 = half, a1 = half, a2 = half
                                        for x in 0..<n {
                                            let wx = w[x]
                                            a0 &+= Int32(p[0]) &* wx; a1 &+= Int32(p[1]) &* wx; a2 &+= Int32(p[2]) &* wx
                                            p += 3
                                        }
                                        o[0] = clip8(a0, precision); o[1] = clip8(a1, precision);
                                        o[2] = clip8(a2, precision)
                                    } else {
                                        var a0 = half, a1 = half, a2 = half, a3 = half
                                        for x in 0..<n {
                                            let wx = w[x]
                                            a0 &+= Int32(p[0]) &* wx; a1 &+= Int32(p[1]) &* wx
                                            a2 &+= Int32(p[2]) &* wx; a3 &+= Int32(p[3]) &* wx
                                            p += 4
                                        }
                                        o[0] = clip8(a0, precision); o[1] = clip8(a1, precision)
                                        o[2] = clip8(a2, precision); o[3] = clip8(a3, precision)
                                    }
                                    o += c
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    return out
}

/// Vertical pass: whole rows are accumulated tap by tap, which vectorizes; the sums are the
/// same integers Pillow's per-pixel loop computes, so the result is identical.
private func resampleColumns(
    _ source: [UInt8], rowLength: Int, outRows: Int, starts: [Int],
    coefficients k: ResampleCoefficients<Double>, engine: ResampleEngine, largestWeight: Double?
) -> [UInt8] {
    var out = [UInt8](unsafeUninitializedCapacity: outRows * rowLength) { _, n in n = outRows * rowLength }
    let (weights, precision) = fixedPoint(k, engine: engine, largestWeight: largestWeight)
    let taps = k.taps
    source.withUnsafeBufferPointer { src in
        out.withUnsafeMutableBufferPointer { dst in
            weights.withUnsafeBufferPointer { kk in
                let ptrs = UncheckedSendable((src.baseAddress!, dst.baseAddress!, kk.baseAddress!))
                parallelChunks(outRows, minChunk: 4) { range in
                    let (s, d, kp) = ptrs.value
                    let acc = UnsafeMutablePointer<Int32>.allocate(capacity: rowLength)
                    defer { acc.deallocate() }
                    for yy in range {
                        acc.initialize(repeating: precision > 0 ? 1 << (precision - 1) : 0, count: rowLength)
                        let w = kp + yy * taps
                        for y in 0..<k.count[yy] {
                            let wy = w[y], row = s + (starts[yy] + y) * rowLength
                            for i in 0..<rowLength { acc[i] &+= Int32(row[i]) &* wy }
                        }
                        let o = d + yy * rowLength
                        for i in 0..<rowLength { o[i] = clip8(acc[i], precision) }
                    }
                }
            }
        }
    }
    return out
}

// MARK: - Float resampling (PyTorch antialiased interpolate)

extension Tensor {
    /// Resizes the last two axes (…, H, W) to `height`×`width` the way
    /// `torch.nn.functional.interpolate(..., antialias=True)` (and so torchvision's tensor
    /// `resize(..., antialias=True)`) does: separable, horizontal pass first, Pillow-style
    /// support widening on downscale, bicubic with a = −0.5. No clamping.
    public func resizedAntialiased(height outH: Int, width outW: Int, filter: ResizeFilter = .bicubic) -> Tensor {
        precondition(rank >= 2, "resize needs at least 2 axes, shape is \(shape)")
        precondition(
            filter == .bilinear || filter == .bicubic, "antialiased tensor resize supports bilinear and bicubic")
        let h = shape[rank - 2], w = shape[rank - 1]
        let planes = count / max(1, h * w)
        var result = self
        if outW != w {
            let k = ResampleCoefficients<Float>(inSize: w, outSize: outW, filter: filter)
            var out = [Float](repeating: 0, count: planes * h * outW)
            result.scalars.withUnsafeBufferPointer { src in
                out.withUnsafeMutableBufferPointer { dst in
                    nonisolated(unsafe) let s = src.baseAddress!, d = dst.baseAddress!
                    parallelChunks(planes * h, minChunk: 16) { range in
                        for row in range {
                            let sr = s + row * w, dr = d + row * outW
                            for xx in 0..<outW {
                                var acc: Float = 0
                                let base = xx * k.taps, xmin = k.start[xx]
                                for x in 0..<k.count[xx] { acc += sr[xmin + x] * k.weights[base + x] }
                                dr[xx] = acc
                            }
                        }
                    }
                }
            }
            var newShape = shape
            newShape[rank - 1] = outW
            result = Tensor(shape: newShape, scalars: out)
        }
        if outH != h {
            let k = ResampleCoefficients<Float>(inSize: h, outSize: outH, filter: filter)
            let rowLength = result.shape[rank - 1]
            var out = [Float](repeating: 0, count: planes * outH * rowLength)
            result.scalars.withUnsafeBufferPointer { src in
                out.withUnsafeMutableBufferPointer { dst in
                    nonisolated(unsafe) let s = src.baseAddress!, d = dst.baseAddress!
                    parallelChunks(planes * outH, minChunk: 4) { range in
                        for idx in range {
                            let p = idx / outH, yy = idx % outH
                            let sp = s + p * h * rowLength, dr = d + idx * rowLength
                            let base = yy * k.taps, ymin = k.start[yy]
                            for i in 0..<rowLength { dr[i] = 0 }
                            for y in 0..<k.count[yy] {
                                let wgt = k.weights[base + y], sr = sp + (ymin + y) * rowLength
                                for i in 0..<rowLength { dr[i] += sr[i] * wgt }
                            }
                        }
                    }
                }
            }
            var newShape = result.shape
            newShape[rank - 2] = outH
            result = Tensor(shape: newShape, scalars: out)
        }
        return result
    }
}
