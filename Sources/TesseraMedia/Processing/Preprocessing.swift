import TesseraCore

extension Image {
    /// Resizes so the shorter side becomes `size`, keeping the aspect ratio the way
    /// `torchvision.transforms.functional.resize(img, size)` computes it: the longer side
    /// is `Int(size * long / short)` (truncated).
    public func resizedShorterSide(to size: Int, filter: ResizeFilter = .bicubic, engine: ResampleEngine = .pillow)
        -> Image
    {
        let (w, h) = shorterSideTarget(size)
        return resized(width: w, height: h, filter: filter, engine: engine)
    }

    /// Output size of ``resizedShorterSide(to:filter:engine:)``.
    public func shorterSideTarget(_ size: Int) -> (width: Int, height: Int) {
        precondition(size > 0, "size must be positive")
        if width <= height {
            return (size, Int(Double(size) * Double(height) / Double(width)))
        } else {
            return (Int(Double(size) * Double(width) / Double(height)), size)
        }
    }

    /// Size after scaling so the shorter side is `size` with each side `round(scale · side)` (half to
    /// even, Python's `round`), as facebookresearch/chameleon's `_vqgan_input_from`.
    public func shorterSideRoundedTarget(_ size: Int) -> (width: Int, height: Int) {
        let scale = Double(size) / Double(min(width, height))
        return (Self.pythonRound(scale * Double(width)), Self.pythonRound(scale * Double(height)))
    }

    /// Size after scaling so the longer side is `size` with each side `max(round(side · scale), minimum)`,
    /// as Janus' `VLMImageProcessor` (transformers' `JanusImageProcessor`).
    public func longerSideTarget(_ size: Int, minimum: Int) -> (width: Int, height: Int) {
        let scale = Double(size) / Double(max(width, height))
        return (
            max(Self.pythonRound(Double(width) * scale), minimum),
            max(Self.pythonRound(Double(height) * scale), minimum)
        )
    }

    static func pythonRound(_ x: Double) -> Int { Int(x.rounded(.toNearestOrEven)) }

    /// `smart_resize` of Emu3's image processor (Qwen2-VL's rule): each side `round(side / factor) · factor`;
    /// when the area exceeds `maxPixels`, `floor(side / β / factor) · factor` (at least `factor`) with
    /// β = √(area / max); when below `minPixels`, `ceil(side · β / factor) · factor` with β = √(min / area).
    public func smartResizeTarget(factor: Int, minPixels: Int, maxPixels: Int) -> (width: Int, height: Int) {
        let f = Double(factor), h = Double(height), w = Double(width)
        var hBar = Self.pythonRound(h / f) * factor, wBar = Self.pythonRound(w / f) * factor
        if hBar * wBar > maxPixels {
            let beta = (h * w / Double(maxPixels)).squareRoot()
            hBar = max(factor, Int((h / beta / f).rounded(.down)) * factor)
            wBar = max(factor, Int((w / beta / f).rounded(.down)) * factor)
        } else if hBar * wBar < minPixels {
            let beta = (Double(minPixels) / (h * w)).squareRoot()
            hBar = Int((h * beta / f).rounded(.up)) * factor
            wBar = Int((w * beta / f).rounded(.up)) * factor
        }
        return (wBar, hBar)
    }

    /// The image composited on white the way facebookresearch/chameleon's `_whiten_transparency`
    /// does: untouched when fully opaque (alpha dropped), else `(1 − a)·255 + a·rgb` in double
    /// precision with a = alpha/255, truncated to 8 bits.
    public func whitened() -> Image {
        guard layout == .rgba else { return self }
        var opaque = true
        for i in 0..<(width * height) where pixels[4 * i + 3] < 255 {
            opaque = false
            break
        }
        guard !opaque else { return rgb() }
        var out = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) {
            let a = Double(pixels[4 * i + 3]) / 255.0
            for k in 0..<3 { out[3 * i + k] = UInt8((1 - a) * 255 + a * Double(pixels[4 * i + k])) }
        }
        return Image(width: width, height: height, layout: .rgb, pixels: out)
    }

    /// The image composited on opaque white as Pillow's `alpha_composite` does it (transformers'
    /// `convert_to_rgb` since v5): 7-bit fixed-point coefficients, rounded division by 255.
    public func compositedOnWhite() -> Image {
        guard layout == .rgba else { return self }
        var out = [UInt8](repeating: 255, count: width * height * 3)
        for i in 0..<(width * height) {
            let a = UInt32(pixels[4 * i + 3])
            guard a > 0 else { continue }  // Pillow keeps the destination (white) for transparent pixels
            let blend = 255 * (255 - a), outA255 = a * 255 + blend
            let coef1 = a * 255 * 255 * 128 / outA255, coef2 = 255 * 128 - coef1
            for k in 0..<3 {
                let t = UInt32(pixels[4 * i + k]) * coef1 + 255 * coef2 + (0x80 << 7)
                out[3 * i + k] = UInt8(truncatingIfNeeded: (((t >> 8) + t) >> 8) >> 7)
            }
        }
        return Image(width: width, height: height, layout: .rgb, pixels: out)
    }

    /// The image centred on a `side × side` square filled with `value` (offset `(side − size) / 2`,
    /// floored), as Janus' `pad_to_square`; itself when already square.
    public func paddedToSquare(value: UInt8) -> Image {
        guard width != height else { return self }
        let side = max(width, height)
        let left = (side - width) / 2, top = (side - height) / 2
        return padded(left: left, top: top, right: side - width - left, bottom: side - height - top, value: value)
    }

    /// The centre `width`×`height` region, as torchvision's `center_crop`: the offset is
    /// `round((size - crop) / 2)` (half to even), and a crop larger than the image pads it with
    /// zeros first (left/top get `(crop - size) / 2`, right/bottom the rest).
    public func centerCropped(width cw: Int, height ch: Int) -> Image {
        precondition(cw > 0 && ch > 0, "crop size must be positive")
        var source = self
        if cw > width || ch > height {
            let padX = max(0, cw - width), padY = max(0, ch - height)
            source = padded(left: padX / 2, top: padY / 2, right: (padX + 1) / 2, bottom: (padY + 1) / 2)
            if source.width == cw && source.height == ch { return source }
        }
        let top = Int((Double(source.height - ch) / 2).rounded(.toNearestOrEven))
        let left = Int((Double(source.width - cw) / 2).rounded(.toNearestOrEven))
        return source.cropped(x: left, y: top, width: cw, height: ch)
    }

    /// The region `x..<x+width`, `y..<y+height`. - Precondition: it lies inside the image.
    public func cropped(x: Int, y: Int, width cw: Int, height ch: Int) -> Image {
        precondition(
            x >= 0 && y >= 0 && cw >= 0 && ch >= 0 && x + cw <= width && y + ch <= height,
            "crop \(cw)x\(ch)+\(x)+\(y) outside \(width)x\(height)")
        let c = channels
        var out = [UInt8](repeating: 0, count: cw * ch * c)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for row in 0..<ch {
                    let s = ((y + row) * width + x) * c
                    (dst.baseAddress! + row * cw * c).update(from: src.baseAddress! + s, count: cw * c)
                }
            }
        }
        return Image(width: cw, height: ch, layout: layout, pixels: out)
    }

    /// The image surrounded by a border filled with `value` in every channel.
    public func padded(left: Int, top: Int, right: Int, bottom: Int, value: UInt8 = 0) -> Image {
        precondition(left >= 0 && top >= 0 && right >= 0 && bottom >= 0, "padding must be non-negative")
        let ow = width + left + right, oh = height + top + bottom, c = channels
        var out = [UInt8](repeating: value, count: ow * oh * c)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for row in 0..<height {
                    (dst.baseAddress! + ((row + top) * ow + left) * c)
                        .update(from: src.baseAddress! + row * width * c, count: width * c)
                }
            }
        }
        return Image(width: ow, height: oh, layout: layout, pixels: out)
    }
}

/// How pixel values map to tensor values.
public enum PixelNormalization: Sendable, Equatable {
    /// x / 255, in [0, 1] (torchvision `to_tensor`).
    case unit
    /// x / 255 * 2 − 1, in [−1, 1].
    case symmetric
    /// (x / 255 − mean[c]) / std[c] (torchvision `Normalize` after `to_tensor`).
    case meanStd(mean: [Float], std: [Float])
    /// (x − 255·mean[c]) / (255·std[c]): transformers' image processors, which fuse rescale and
    /// normalize in this order (the Float32 rounding differs from ``meanStd(mean:std:)``).
    case scaledMeanStd(mean: [Float], std: [Float])
    /// (Float32(x · factor) − mean[c]) / std[c] with the product in double precision: transformers'
    /// `rescale` (float64, then float32) followed by `normalize` (Chameleon: factor 0.0078, mean = std = 1).
    case rescaled(factor: Double, mean: [Float], std: [Float])
    /// x / 255 · 2 − 1 in double precision, then Float32 (numpy's float64 arithmetic, as Chameleon's
    /// original preprocessing); at most one Float32 step from ``symmetric``.
    case symmetricDouble

    /// OpenAI CLIP's mean/std.
    public static let clip = PixelNormalization.meanStd(
        mean: [0.48145466, 0.4578275, 0.40821073], std: [0.26862954, 0.26130258, 0.27577711])
    /// ImageNet mean/std (timm's default).
    public static let imagenet = PixelNormalization.meanStd(mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225])

    /// The tensor values pixel values 0 and 255 map to (per channel, the widest span).
    public var range: ClosedRange<Float> {
        func span(_ low: [Float], _ high: [Float]) -> ClosedRange<Float> {
            (low.min() ?? 0)...(high.max() ?? 1)
        }
        switch self {
        case .unit: return 0...1
        case .symmetric, .symmetricDouble: return -1...1
        case .meanStd(let m, let s), .scaledMeanStd(let m, let s):
            return span(zip(m, s).map { -$0 / $1 }, zip(m, s).map { (1 - $0) / $1 })
        case .rescaled(let factor, let m, let s):
            let top = Float(255 * factor)
            return span(zip(m, s).map { -$0 / $1 }, zip(m, s).map { (top - $0) / $1 })
        }
    }
}

extension Image {
    /// The RGB channels as a `[3, height, width]` Float32 tensor (alpha is dropped, as
    /// Pillow's `convert("RGB")` does).
    public func tensor(_ normalization: PixelNormalization = .unit) -> Tensor {
        let plane = width * height, c = channels
        var out = [Float](repeating: 0, count: 3 * plane)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for k in 0..<3 {
                    let d = dst.baseAddress! + k * plane, s = src.baseAddress! + k
                    // Same operation order as the reference (torchvision divides, then shifts and
                    // scales; transformers shifts and scales the 0–255 values) so Float32 rounding matches.
                    switch normalization {
                    case .unit:
                        for i in 0..<plane { d[i] = Float(s[i * c]) / 255 }
                    case .symmetric:
                        for i in 0..<plane { d[i] = Float(s[i * c]) / 255 * 2 - 1 }
                    case .meanStd(let mean, let std):
                        let m = mean.indices.contains(k) ? mean[k] : 0, sd = std.indices.contains(k) ? std[k] : 1
                        for i in 0..<plane { d[i] = (Float(s[i * c]) / 255 - m) / sd }
                    case .scaledMeanStd(let mean, let std):
                        let m = (mean.indices.contains(k) ? mean[k] : 0) * 255
                        let sd = (std.indices.contains(k) ? std[k] : 1) * 255
                        for i in 0..<plane { d[i] = (Float(s[i * c]) - m) / sd }
                    case .rescaled(let factor, let mean, let std):
                        let m = mean.indices.contains(k) ? mean[k] : 0, sd = std.indices.contains(k) ? std[k] : 1
                        for i in 0..<plane { d[i] = (Float(Double(s[i * c]) * factor) - m) / sd }
                    case .symmetricDouble:
                        for i in 0..<plane { d[i] = Float(Double(s[i * c]) / 255 * 2 - 1) }
                    }
                }
            }
        }
        return Tensor(shape: [3, height, width], scalars: out)
    }
}

/// A width and height in pixels.
public struct PixelSize: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// Width in pixels.
    public var width: Int
    /// Height in pixels.
    public var height: Int
    /// A size of `width × height` pixels.
    public init(width: Int, height: Int) { self.width = width; self.height = height }
    /// A square size.
    public init(_ side: Int) { self.init(width: side, height: side) }
    /// `W×H`.
    public var description: String { "\(width)×\(height)" }
}

/// A model's input pipeline: resize, crop, convert to a normalized CHW tensor — one value for
/// every model family (timm, TiTok, CLIP/SigLIP processors, LLaVA-NeXT views).
public struct Preprocessing: Sendable, Equatable {
    /// How the image is resized before cropping.
    public enum Resize: Sendable, Equatable {
        /// The image keeps its size.
        case none
        /// Shorter side to the given size, aspect kept (torchvision `Resize(int)`).
        case shorterSide(Int)
        /// Exactly this size (aspect not kept).
        case exact(width: Int, height: Int)
        /// Shorter side to the given size, both sides `round(scale · side)` (Chameleon's original).
        case shorterSideRounded(Int)
        /// Longer side to the given size, both sides `max(round(scale · side), minimum)` (Janus).
        case longerSide(Int, minimum: Int)
        /// Qwen2-VL / Emu3 `smart_resize`: both sides multiples of `factor`, the area within the bounds,
        /// the aspect ratio kept as closely as possible (``Image/smartResizeTarget(factor:minPixels:maxPixels:)``).
        case smart(factor: Int, minPixels: Int, maxPixels: Int)
    }

    /// What happens to transparency before resizing.
    public enum Alpha: Sendable, Equatable {
        /// Dropped (Pillow's `convert("RGB")`).
        case drop
        /// Composited on white, truncated (Chameleon's `_whiten_transparency`, ``Image/whitened()``).
        case whiten
        /// Composited on white as Pillow's `alpha_composite` (transformers v5, ``Image/compositedOnWhite()``).
        case compositeOnWhite
    }

    /// How a centre crop places its window.
    public enum CropRule: Sendable, Equatable {
        /// torchvision `center_crop`: offset `round((size − crop) / 2)` (half to even).
        case torchvision
        /// transformers' `center_crop`: offset `floor((size − crop) / 2)`.
        case transformers
    }

    /// How the image is resized before cropping.
    public var resize: Resize
    /// The resampling filter of the resize.
    public var filter: ResizeFilter
    /// Which resampler reproduces the reference bit for bit (Pillow or PyTorch's uint8 kernel).
    public var engine: ResampleEngine
    /// Centre crop to this size after resizing, if set.
    public var centerCrop: PixelSize?
    /// How the centre crop's offset rounds (``CropRule``).
    public var cropRule: CropRule
    /// How pixel values map to tensor values.
    public var normalization: PixelNormalization
    /// What happens to transparency before resizing.
    public var alpha: Alpha = .drop
    /// After resizing, pad to a centred square with this value in every channel (Janus), if set.
    public var padToSquare: UInt8?

    /// A model's input pipeline; the defaults keep the image's size and map pixels to [0, 1].
    /// - Parameters:
    ///   - resize: the resize before cropping.
    ///   - filter: the resampling filter.
    ///   - engine: the resampler whose rounding to follow.
    ///   - centerCrop: the crop size after resizing (nil: no crop).
    ///   - cropRule: how the crop window's offset rounds.
    ///   - normalization: pixel values to tensor values.
    public init(
        resize: Resize = .none, filter: ResizeFilter = .bicubic, engine: ResampleEngine = .pillow,
        centerCrop: PixelSize? = nil, cropRule: CropRule = .torchvision,
        normalization: PixelNormalization = .unit
    ) {
        self.resize = resize
        self.filter = filter
        self.engine = engine
        self.centerCrop = centerCrop
        self.cropRule = cropRule
        self.normalization = normalization
    }

    /// The resized and cropped image (before tensor conversion).
    public func image(_ input: Image) -> Image {
        let image: Image
        switch alpha {
        case .drop: image = input
        case .whiten: image = input.whitened()
        case .compositeOnWhite: image = input.compositedOnWhite()
        }
        let target: (width: Int, height: Int)?
        switch resize {
        case .none: target = nil
        case .shorterSide(let s): target = image.shorterSideTarget(s)
        case .exact(let w, let h): target = (w, h)
        case .shorterSideRounded(let s): target = image.shorterSideRoundedTarget(s)
        case .longerSide(let s, let minimum): target = image.longerSideTarget(s, minimum: minimum)
        case .smart(let factor, let minPixels, let maxPixels):
            target = image.smartResizeTarget(factor: factor, minPixels: minPixels, maxPixels: maxPixels)
        }
        guard let (w, h) = target else { return crop(padded(image)) }
        // A crop inside the resized image: resize only the crop's window (identical pixels, memory
        // for the crop alone, whatever the aspect ratio).
        if let crop = centerCrop, padToSquare == nil, w >= crop.width, h >= crop.height {
            let (x, y) = cropOrigin(width: w, height: h, crop: crop)
            return image.resized(
                width: w, height: h, filter: filter, engine: engine, window: (x, y, crop.width, crop.height))
        }
        return crop(padded(image.resized(width: w, height: h, filter: filter, engine: engine)))
    }

    /// `image` padded to a square when ``padToSquare`` is set.
    private func padded(_ image: Image) -> Image {
        padToSquare.map { image.rgb().paddedToSquare(value: $0) } ?? image
    }

    /// The centre crop of `image`, when ``centerCrop`` is set.
    private func crop(_ image: Image) -> Image {
        guard let crop = centerCrop else { return image }
        guard image.width >= crop.width && image.height >= crop.height else {
            return image.centerCropped(width: crop.width, height: crop.height)  // pads as torchvision does
        }
        let (x, y) = cropOrigin(width: image.width, height: image.height, crop: crop)
        return image.cropped(x: x, y: y, width: crop.width, height: crop.height)
    }

    /// Where a centre crop of an image at least as large as `crop` starts, by ``cropRule``.
    private func cropOrigin(width: Int, height: Int, crop: PixelSize) -> (x: Int, y: Int) {
        switch cropRule {
        case .transformers: return ((width - crop.width) / 2, (height - crop.height) / 2)
        case .torchvision:
            return (
                Int((Double(width - crop.width) / 2).rounded(.toNearestOrEven)),
                Int((Double(height - crop.height) / 2).rounded(.toNearestOrEven))
            )
        }
    }

    /// The model input: a `[3, H, W]` tensor.
    public func tensor(_ image: Image) -> Tensor {
        self.image(image).tensor(normalization)
    }
}
