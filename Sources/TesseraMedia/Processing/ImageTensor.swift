import TesseraCore

extension Image {
    /// A `[3, H, W]` float tensor whose values span `range` (TiTok: `0...1`; FlexTok and the
    /// VQGANs: `-1...1`) converted to an 8-bit RGB image: mapped to [0, 1], clamped, ×255, then
    /// truncated (as TiTok's `(x * 255).to(torch.uint8)`) or rounded half to even.
    /// - Precondition: `tensor` is `[3, H, W]`.
    public init(tensor: Tensor, range: ClosedRange<Float> = 0...1, rounding: Bool = false) {
        precondition(tensor.rank == 3 && tensor.shape[0] == 3, "image tensor must be [3, H, W], got \(tensor.shape)")
        let h = tensor.shape[1], w = tensor.shape[2], plane = h * w
        let low = range.lowerBound, span = range.upperBound - range.lowerBound
        let unit = low == 0 && span == 1
        var pixels = [UInt8](repeating: 0, count: plane * 3)
        tensor.scalars.withUnsafeBufferPointer { src in
            for i in 0..<plane {
                for c in 0..<3 {
                    let x = unit ? src[c * plane + i] : (src[c * plane + i] - low) / span
                    let v = Swift.min(Swift.max(x, 0), 1) * 255
                    pixels[i * 3 + c] = UInt8(rounding ? v.rounded(.toNearestOrEven) : v.rounded(.towardZero))
                }
            }
        }
        self.init(width: w, height: h, layout: .rgb, pixels: pixels)
    }
}
