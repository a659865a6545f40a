#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reconstruction quality between two images of the same size (RGB channels; alpha ignored).
public enum ImageQuality {
    /// Peak signal-to-noise ratio in dB over all RGB samples (data range 255); infinity for
    /// identical images.
    public static func psnr(_ a: Image, _ b: Image) -> Double {
        let (x, y) = (a.rgb().pixels, b.rgb().pixels)
        precondition(x.count == y.count, "PSNR needs images of the same size")
        var sum = 0.0
        for i in 0..<x.count { let d = Double(x[i]) - Double(y[i]); sum += d * d }
        let mse = sum / Double(max(1, x.count))
        return mse == 0 ? .infinity : 10 * log10(255 * 255 / mse)
    }

    /// Mean SSIM (Wang et al. 2004): 11×11 Gaussian window, σ 1.5, K1 0.01, K2 0.03, data range
    /// 255, computed per RGB channel over the valid region and averaged — the settings of
    /// `skimage.metrics.structural_similarity(..., gaussian_weights=True, sigma=1.5,
    /// use_sample_covariance=False, data_range=255, channel_axis=2)`.
    public static func ssim(_ a: Image, _ b: Image) -> Double {
        let (x, y) = (a.rgb(), b.rgb())
        precondition(x.width == y.width && x.height == y.height, "SSIM needs images of the same size")
        let w = x.width, h = x.height, radius = 5
        guard w > 2 * radius && h > 2 * radius else { return psnr(a, b) == .infinity ? 1 : 0 }
        var kernel = (-radius...radius).map { exp(-Double($0 * $0) / (2 * 1.5 * 1.5)) }
        let total = kernel.reduce(0, +)
        kernel = kernel.map { $0 / total }
        let c1 = pow(0.01 * 255, 2), c2 = pow(0.03 * 255, 2)
        var sum = 0.0
        var count = 0
        for c in 0..<3 {
            func plane(_ img: Image) -> [Double] { (0..<(w * h)).map { Double(img.pixels[$0 * 3 + c]) } }
            let px = plane(x), py = plane(y)
            func blur(_ v: [Double]) -> [Double] {
                var tmp = [Double](repeating: 0, count: w * h), out = tmp
                for r in 0..<h {
                    for col in radius..<(w - radius) {
                        var s = 0.0
                        for k in -radius...radius { s += kernel[k + radius] * v[r * w + col + k] }
                        tmp[r * w + col] = s
                    }
                }
                for r in radius..<(h - radius) {
                    for col in radius..<(w - radius) {
                        var s = 0.0
                        for k in -radius...radius { s += kernel[k + radius] * tmp[(r + k) * w + col] }
                        out[r * w + col] = s
                    }
                }
                return out
            }
            let mx = blur(px), my = blur(py)
            let sxx = blur(px.map { $0 * $0 }), syy = blur(py.map { $0 * $0 }), sxy = blur(zip(px, py).map { $0 * $1 })
            for r in radius..<(h - radius) {
                for col in radius..<(w - radius) {
                    let i = r * w + col
                    let vx = sxx[i] - mx[i] * mx[i], vy = syy[i] - my[i] * my[i], cov = sxy[i] - mx[i] * my[i]
                    sum +=
                        ((2 * mx[i] * my[i] + c1) * (2 * cov + c2))
                        / ((mx[i] * mx[i] + my[i] * my[i] + c1) * (vx + vy + c2))
                    count += 1
                }
            }
        }
        return sum / Double(count)
    }

    /// The two images side by side (left | right), padded to the taller height.
    public static func sideBySide(_ left: Image, _ right: Image) -> Image {
        let l = left.rgb(), r = right.rgb()
        let h = max(l.height, r.height), w = l.width + r.width
        var pixels = [UInt8](repeating: 0, count: w * h * 3)
        for y in 0..<l.height { for x in 0..<(l.width * 3) { pixels[y * w * 3 + x] = l.pixels[y * l.width * 3 + x] } }
        for y in 0..<r.height {
            for x in 0..<(r.width * 3) { pixels[y * w * 3 + l.width * 3 + x] = r.pixels[y * r.width * 3 + x] }
        }
        return Image(width: w, height: h, layout: .rgb, pixels: pixels)
    }
}
