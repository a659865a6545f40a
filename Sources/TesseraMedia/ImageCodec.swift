import CJPEG
import CPNG
import Foundation
import TesseraCore

/// Still-image formats Tessera decodes itself. Other containers (GIF, video) go through
/// ``VideoReader``.
public enum ImageFormat: String, Sendable {
    /// PNG (through libpng) and JPEG, baseline or progressive (through libjpeg).
    case png, jpeg

    /// The format a file's leading bytes announce, or nil.
    public static func sniff<C: Collection>(_ bytes: C) -> ImageFormat? where C.Element == UInt8 {
        let head = Array(bytes.prefix(8))
        if head.count >= 8, head == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] { return .png }
        if head.count >= 3, head[0] == 0xFF, head[1] == 0xD8, head[2] == 0xFF { return .jpeg }
        return nil
    }
}

/// Options for image decoding.
public struct ImageDecodingOptions: Sendable {
    /// Images with more pixels than this are refused before any pixel memory is allocated.
    /// The default is Pillow's decompression-bomb error threshold (2 × 89,478,485).
    public var maxPixels: Int = 178_956_970
    /// Apply the EXIF orientation of JPEG files (as Pillow's `exif_transpose`).
    public var applyOrientation: Bool = true

    /// Decoding options.
    /// - Parameters:
    ///   - maxPixels: Largest `width × height` accepted; the default is Pillow's decompression-bomb threshold.
    ///   - applyOrientation: Whether JPEG files are turned upright according to their EXIF orientation.
    public init(maxPixels: Int = 178_956_970, applyOrientation: Bool = true) {
        self.maxPixels = maxPixels
        self.applyOrientation = applyOrientation
    }
}

/// Header facts about an image file, read without decoding pixels.
public struct ImageInfo: Sendable, Equatable {
    /// The container format, sniffed from the leading bytes.
    public var format: ImageFormat
    /// Displayed size (after EXIF orientation).
    public var width: Int
    /// Displayed height in pixels (after EXIF orientation).
    public var height: Int
    /// Whether decoding yields RGBA.
    public var hasAlpha: Bool
    /// A short description of the stored pixel format, e.g. "RGB 8-bit interlaced".
    public var pixelFormat: String
    /// The EXIF orientation of a JPEG file (`.up` for PNG files and JPEG files without the tag).
    public var orientation: Orientation
}

extension Image {
    /// Decodes a PNG or JPEG file.
    public init(contentsOf url: URL, options: ImageDecodingOptions = .init()) throws {
        let bytes = try readMediaFile(url)
        try self.init(encoded: bytes, path: url.path, options: options)
    }

    /// Decodes PNG or JPEG bytes (the format is sniffed from the content).
    /// - Parameter path: names the source in errors.
    public init(encoded bytes: [UInt8], path: String = "<memory>", options: ImageDecodingOptions = .init()) throws {
        guard !bytes.isEmpty else { throw MediaError(.empty, path: path, "empty file (0 bytes)") }
        switch ImageFormat.sniff(bytes) {
        case .png: self = try decodePNG(bytes, path: path, options: options)
        case .jpeg: self = try decodeJPEG(bytes, path: path, options: options)
        case nil: throw MediaError(.unrecognized, path: path, "not a PNG or JPEG image")
        }
    }

    /// The image encoded as an 8-bit PNG.
    /// - Parameter compressionLevel: zlib level 0–9 (default 6, as libpng).
    public func pngData(compressionLevel: Int = 6) throws -> [UInt8] {
        var errBuf = [CChar](repeating: 0, count: 256)
        var out: UnsafeMutablePointer<UInt8>? = nil
        var size = 0
        let status = pixels.withUnsafeBufferPointer { px in
            tsr_png_encode(
                px.baseAddress, UInt32(width), UInt32(height), Int32(channels),
                Int32(max(0, min(9, compressionLevel))), &out, &size, &errBuf, errBuf.count)
        }
        guard status == 0, let out else {
            throw MediaError(.writeFailed, path: "<png>", "PNG encoding failed: \(cString(errBuf))")
        }
        defer { tsr_png_free(out) }
        return Array(UnsafeBufferPointer(start: out, count: size))
    }

    /// Writes the image as PNG, atomically (temporary file + rename).
    public func writePNG(to url: URL, compressionLevel: Int = 6) throws {
        let data = try pngData(compressionLevel: compressionLevel)
        do {
            try Data(data).write(to: url, options: .atomic)
        } catch {
            throw MediaError(.writeFailed, path: url.path, "cannot write (\(error.localizedDescription))")
        }
    }
}

extension ImageInfo {
    /// Reads an image file's header.
    public init(contentsOf url: URL) throws {
        try self.init(encoded: try readMediaFile(url), path: url.path)
    }

    /// Reads the header of PNG or JPEG bytes.
    public init(encoded bytes: [UInt8], path: String = "<memory>") throws {
        guard !bytes.isEmpty else { throw MediaError(.empty, path: path, "empty file (0 bytes)") }
        var errBuf = [CChar](repeating: 0, count: 256)
        switch ImageFormat.sniff(bytes) {
        case .png:
            var info = tsr_png_info()
            guard tsr_png_read_info(bytes, bytes.count, &info, &errBuf, errBuf.count) == 0 else {
                throw codecError(cString(errBuf), path: path, format: "PNG")
            }
            let kinds = [0: "gray", 2: "RGB", 3: "palette", 4: "gray+alpha", 6: "RGBA"]
            var desc = "\(kinds[Int(info.color_type)] ?? "?") \(info.bit_depth)-bit"
            if info.color_type != 4 && info.color_type != 6 && info.has_alpha != 0 { desc += " tRNS" }
            if info.interlaced != 0 { desc += " interlaced" }
            self.init(
                format: .png, width: Int(info.width), height: Int(info.height),
                hasAlpha: info.has_alpha != 0, pixelFormat: desc, orientation: .up)
        case .jpeg:
            var info = tsr_jpeg_info()
            guard tsr_jpeg_read_info(bytes, bytes.count, &info, &errBuf, errBuf.count) == 0 else {
                throw codecError(cString(errBuf), path: path, format: "JPEG")
            }
            let spaces = [1: "gray", 2: "YCbCr", 3: "YCbCr", 4: "CMYK", 5: "YCCK"]
            var desc = spaces[Int(info.color_space)] ?? "components=\(info.components)"
            if info.color_space == 2 { desc = "RGB" }
            if info.progressive != 0 { desc += " progressive" }
            let orientation = exifOrientation(inJPEG: bytes)
            let (w, h) =
                orientation.swapsAxes ? (Int(info.height), Int(info.width)) : (Int(info.width), Int(info.height))
            self.init(format: .jpeg, width: w, height: h, hasAlpha: false, pixelFormat: desc, orientation: orientation)
        case nil:
            throw MediaError(.unrecognized, path: path, "not a PNG or JPEG image")
        }
    }
}

// MARK: - Decoders

/// Reads a whole file, mapping failures to ``MediaError``.
func readMediaFile(_ url: URL) throws -> [UInt8] {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
        throw MediaError(.unreadable, path: url.path, "no such file")
    }
    guard !isDirectory.boolValue else { throw MediaError(.unreadable, path: url.path, "is a directory") }
    do {
        return [UInt8](try Data(contentsOf: url))
    } catch {
        throw MediaError(.unreadable, path: url.path, "cannot read (\(error.localizedDescription))")
    }
}

/// Classifies a codec library's message as truncation or corruption.
private func codecError(_ message: String, path: String, format: String) -> MediaError {
    let lower = message.lowercased()
    let kind: MediaError.Kind =
        lower.contains("truncated") || lower.contains("premature end")
            || lower.contains("unexpected end") || lower.contains("not enough") ? .truncated : .corrupt
    return MediaError(kind, path: path, "\(format): \(message)")
}

/// Refuses a size that is zero, above the pixel limit, or whose decoding (`bytesPerPixel` for the
/// decoder's buffers together) is above the ``MemoryLimit``.
private func checkSize(_ width: Int, _ height: Int, bytesPerPixel: Int, path: String, limit: Int) throws {
    guard width > 0, height > 0 else {
        throw MediaError(.corrupt, path: path, "image has zero size \(width)x\(height)")
    }
    let (pixels, overflow) = width.multipliedReportingOverflow(by: height)
    guard !overflow, pixels <= limit else {
        let count = overflow ? "more than \(Int.max)" : "\(pixels)"
        throw MediaError(
            .tooLarge, path: path, "image is \(width)x\(height) = \(count) pixels, above the limit of \(limit)")
    }
    try MemoryLimit.check(pixels * bytesPerPixel, for: "decoding the \(width)x\(height) image", path: path)
}

private func decodePNG(_ bytes: [UInt8], path: String, options: ImageDecodingOptions) throws -> Image {
    var errBuf = [CChar](repeating: 0, count: 256)
    var info = tsr_png_info()
    guard tsr_png_read_info(bytes, bytes.count, &info, &errBuf, errBuf.count) == 0 else {
        throw codecError(cString(errBuf), path: path, format: "PNG")
    }
    let width = Int(info.width), height = Int(info.height)
    let layout: Image.Layout = info.has_alpha != 0 ? .rgba : .rgb
    try checkSize(width, height, bytesPerPixel: layout.rawValue, path: path, limit: options.maxPixels)
    var pixels = [UInt8](repeating: 0, count: width * height * layout.rawValue)
    let status = pixels.withUnsafeMutableBufferPointer { out in
        tsr_png_decode(bytes, bytes.count, out.baseAddress, Int32(layout.rawValue), &errBuf, errBuf.count)
    }
    guard status == 0 else { throw codecError(cString(errBuf), path: path, format: "PNG") }
    return Image(width: width, height: height, layout: layout, pixels: pixels)
}

private func decodeJPEG(_ bytes: [UInt8], path: String, options: ImageDecodingOptions) throws -> Image {
    var errBuf = [CChar](repeating: 0, count: 256)
    var info = tsr_jpeg_info()
    guard tsr_jpeg_read_info(bytes, bytes.count, &info, &errBuf, errBuf.count) == 0 else {
        throw codecError(cString(errBuf), path: path, format: "JPEG")
    }
    let width = Int(info.width), height = Int(info.height)
    let isCMYK = info.color_space == 4 || info.color_space == 5  // JCS_CMYK, JCS_YCCK
    let components = info.color_space == 1 ? 1 : (isCMYK ? 4 : 3)
    // The decoded samples, then RGB (a conversion or an EXIF turn) next to them.
    try checkSize(width, height, bytesPerPixel: components + 3, path: path, limit: options.maxPixels)
    var raw = [UInt8](repeating: 0, count: width * height * components)
    let status = raw.withUnsafeMutableBufferPointer { out in
        tsr_jpeg_decode(bytes, bytes.count, out.baseAddress, out.count, &errBuf, errBuf.count)
    }
    guard status == 0 else { throw codecError(cString(errBuf), path: path, format: "JPEG") }

    var image: Image
    switch components {
    case 3:
        image = Image(width: width, height: height, layout: .rgb, pixels: raw)
    case 1:
        var rgb = [UInt8](repeating: 0, count: width * height * 3)
        rgb.withUnsafeMutableBufferPointer { dst in
            for i in 0..<(width * height) { let v = raw[i]; dst[3 * i] = v; dst[3 * i + 1] = v; dst[3 * i + 2] = v }
        }
        image = Image(width: width, height: height, layout: .rgb, pixels: rgb)
    default:
        image = Image(
            width: width, height: height, layout: .rgb,
            pixels: cmykToRGB(raw))
    }
    if options.applyOrientation {
        let orientation = exifOrientation(inJPEG: bytes)
        if orientation != .up { image = image.oriented(orientation) }
    }
    return image
}

/// CMYK to RGB as Pillow converts it. Pillow reads every 4-component JPEG as inverted
/// ("CMYK;I", the Adobe/Photoshop convention), so R = 255 − C' with C' = 255 − stored, …
private func cmykToRGB(_ cmyk: [UInt8]) -> [UInt8] {
    let n = cmyk.count / 4
    var out = [UInt8](repeating: 0, count: n * 3)
    @inline(__always) func muldiv255(_ a: Int, _ b: Int) -> Int { let t = a * b + 128; return ((t >> 8) + t) >> 8 }
    cmyk.withUnsafeBufferPointer { src in
        out.withUnsafeMutableBufferPointer { dst in
            for i in 0..<n {
                var v = (Int(src[4 * i]), Int(src[4 * i + 1]), Int(src[4 * i + 2]), Int(src[4 * i + 3]))
                v = (255 - v.0, 255 - v.1, 255 - v.2, 255 - v.3)
                let nk = 255 - v.3
                dst[3 * i] = UInt8(clamping: nk - muldiv255(v.0, nk))
                dst[3 * i + 1] = UInt8(clamping: nk - muldiv255(v.1, nk))
                dst[3 * i + 2] = UInt8(clamping: nk - muldiv255(v.2, nk))
            }
        }
    }
    return out
}

// MARK: - EXIF

/// The EXIF orientation stored in a JPEG's APP1 segment; `.up` when absent or unreadable.
func exifOrientation(inJPEG bytes: [UInt8]) -> Orientation {
    var pos = 2
    while pos + 4 <= bytes.count {
        guard bytes[pos] == 0xFF else { return .up }
        let marker = bytes[pos + 1]
        if marker == 0xFF { pos += 1; continue }  // fill byte
        if marker == 0xD8 || (0xD0...0xD7).contains(marker) || marker == 0x01 { pos += 2; continue }
        if marker == 0xDA || marker == 0xD9 { return .up }  // start of scan / end: no EXIF
        let length = Int(bytes[pos + 2]) << 8 | Int(bytes[pos + 3])
        guard length >= 2, pos + 2 + length <= bytes.count else { return .up }
        if marker == 0xE1, length >= 8,
            bytes[(pos + 4)..<(pos + 10)].elementsEqual([0x45, 0x78, 0x69, 0x66, 0, 0])
        {  // "Exif\0\0"
            return tiffOrientation(bytes[(pos + 10)..<(pos + 2 + length)]) ?? .up
        }
        pos += 2 + length
    }
    return .up
}

/// Orientation tag (0x0112) of IFD0 in a TIFF structure.
private func tiffOrientation(_ tiff: ArraySlice<UInt8>) -> Orientation? {
    let t = Array(tiff)
    guard t.count >= 8 else { return nil }
    let little: Bool
    switch (t[0], t[1]) {
    case (0x49, 0x49): little = true
    case (0x4D, 0x4D): little = false
    default: return nil
    }
    func u16(_ o: Int) -> Int? {
        guard o >= 0, o + 2 <= t.count else { return nil }
        return little ? Int(t[o]) | Int(t[o + 1]) << 8 : Int(t[o]) << 8 | Int(t[o + 1])
    }
    func u32(_ o: Int) -> Int? {
        guard let a = u16(o), let b = u16(o + 2) else { return nil }
        return little ? a | b << 16 : a << 16 | b
    }
    guard u16(2) == 42, let ifd = u32(4), let entries = u16(ifd) else { return nil }
    for i in 0..<min(entries, 1000) {
        let e = ifd + 2 + 12 * i
        guard let tag = u16(e) else { return nil }
        if tag == 0x0112, u16(e + 2) == 3, let value = u16(e + 8) { return Orientation(rawValue: value) }
    }
    return nil
}

/// The text of a NUL-terminated C buffer.
func cString(_ buffer: [CChar]) -> String {
    let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
    return String(decoding: bytes, as: UTF8.self)
}
