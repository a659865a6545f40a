import TesseraCore

/// A decoded image: 8-bit samples, interleaved, rows top to bottom.
///
/// Decoders produce `.rgba` when the file carries transparency (an alpha channel or a PNG
/// tRNS chunk) and `.rgb` otherwise; gray and palette images are expanded to RGB.
public struct Image: Sendable, Equatable {
    /// Channel layout of `pixels`.
    public enum Layout: Int, Sendable {
        /// Red, green, blue: three bytes per pixel.
        case rgb = 3
        /// Red, green, blue, alpha (straight, not premultiplied): four bytes per pixel.
        case rgba = 4
    }

    /// Width in pixels.
    public let width: Int
    /// Height in pixels.
    public let height: Int
    /// Channel layout of ``pixels``.
    public let layout: Layout
    /// `height * width * channels` bytes, row-major, channels interleaved.
    public var pixels: [UInt8]

    /// Samples per pixel (3 or 4).
    public var channels: Int { layout.rawValue }

    /// An image from interleaved pixels.
    /// - Precondition: `pixels.count == width * height * layout.rawValue`.
    public init(width: Int, height: Int, layout: Layout, pixels: [UInt8]) {
        precondition(
            width >= 0 && height >= 0 && pixels.count == width * height * layout.rawValue,
            "pixel buffer does not match \(width)x\(height) \(layout)")
        self.width = width
        self.height = height
        self.layout = layout
        self.pixels = pixels
    }

    /// A black (and, for RGBA, transparent) image.
    public init(width: Int, height: Int, layout: Layout = .rgb) {
        self.init(
            width: width, height: height, layout: layout,
            pixels: [UInt8](repeating: 0, count: width * height * layout.rawValue))
    }

    /// The image without its alpha channel (alpha dropped, not composited), or itself if RGB.
    public func rgb() -> Image {
        guard layout == .rgba else { return self }
        var out = [UInt8](repeating: 0, count: width * height * 3)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for i in 0..<(width * height) {
                    dst[3 * i] = src[4 * i]; dst[3 * i + 1] = src[4 * i + 1]; dst[3 * i + 2] = src[4 * i + 2]
                }
            }
        }
        return Image(width: width, height: height, layout: .rgb, pixels: out)
    }

    /// The image with an opaque alpha channel added, or itself if already RGBA.
    public func rgba() -> Image {
        guard layout == .rgb else { return self }
        var out = [UInt8](repeating: 255, count: width * height * 4)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for i in 0..<(width * height) {
                    dst[4 * i] = src[3 * i]; dst[4 * i + 1] = src[3 * i + 1]; dst[4 * i + 2] = src[3 * i + 2]
                }
            }
        }
        return Image(width: width, height: height, layout: .rgba, pixels: out)
    }
}

/// A problem with a media file, naming the file.
public struct MediaError: Error, CustomStringConvertible, Equatable, Sendable {
    /// What kind of problem it is, for callers that branch on it.
    public enum Kind: String, Sendable {
        /// The path cannot be opened or read.
        case unreadable
        /// The file has no bytes.
        case empty
        /// The content is not an image or video format Tessera reads.
        case unrecognized
        /// The file ends before its data does.
        case truncated
        /// The content is damaged or invalid for its format.
        case corrupt
        /// The image is larger than the configured pixel limit.
        case tooLarge
        /// A container without a decodable video stream.
        case noVideoStream
        /// A request that does not fit the media (bad option, out-of-range time, …).
        case invalidRequest
        /// Writing an output failed.
        case writeFailed
    }

    /// The file the problem is in (or a placeholder such as `"<memory>"` or `"<png>"`).
    public let path: String
    /// What kind of problem it is.
    public let kind: Kind
    /// What is wrong, in words.
    public let reason: String

    /// An error of the given kind about the file at `path`.
    /// - Parameters:
    ///   - kind: What kind of problem it is.
    ///   - path: The file the problem is in.
    ///   - reason: What is wrong, in words.
    public init(_ kind: Kind, path: String, _ reason: String) {
        self.kind = kind
        self.path = path
        self.reason = reason
    }

    /// `path: reason`.
    public var description: String { "\(path): \(reason)" }
}

/// How an image's stored pixels map to its displayed orientation (EXIF tag 0x0112).
public enum Orientation: Int, Sendable {
    /// EXIF 1: stored as displayed.
    case up = 1
    /// EXIF 2–8, in order, named by the transform that displays the stored pixels: horizontal mirror,
    /// 180° rotation, vertical mirror, transpose, 90° clockwise, transverse, 90° counter-clockwise.
    case upMirrored, down, downMirrored, leftMirrored, right, rightMirrored, left

    /// Whether the displayed image swaps width and height.
    public var swapsAxes: Bool { rawValue >= 5 }
}

extension Image {
    /// The image transformed for display according to an EXIF orientation
    /// (the same transposition as Pillow's `ImageOps.exif_transpose`).
    public func oriented(_ orientation: Orientation) -> Image {
        let w = width, h = height, c = channels
        let (ow, oh) = orientation.swapsAxes ? (h, w) : (w, h)
        // source (x, y) for each output (x, y)
        let map: (Int, Int) -> (Int, Int)
        switch orientation {
        case .up: return self
        case .upMirrored: map = { x, y in (w - 1 - x, y) }
        case .down: map = { x, y in (w - 1 - x, h - 1 - y) }
        case .downMirrored: map = { x, y in (x, h - 1 - y) }
        case .leftMirrored: map = { x, y in (y, x) }  // transpose
        case .right: map = { x, y in (y, h - 1 - x) }  // rotate 90° clockwise
        case .rightMirrored: map = { x, y in (w - 1 - y, h - 1 - x) }  // transverse
        case .left: map = { x, y in (w - 1 - y, x) }  // rotate 90° counter-clockwise
        }
        var out = [UInt8](repeating: 0, count: pixels.count)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for y in 0..<oh {
                    for x in 0..<ow {
                        let (sx, sy) = map(x, y)
                        let s = (sy * w + sx) * c, d = (y * ow + x) * c
                        for k in 0..<c { dst[d + k] = src[s + k] }
                    }
                }
            }
        }
        return Image(width: ow, height: oh, layout: layout, pixels: out)
    }
}
