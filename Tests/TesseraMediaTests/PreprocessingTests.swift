import Foundation
import TesseraCore
import TesseraTestSupport
import Testing

@testable import TesseraMedia

struct ResizeCase: Decodable, Sendable, CustomTestStringConvertible {
    var source: String
    var op: String
    var width: Int?
    var height: Int?
    var filter: String?
    var antialias: Bool?
    var size: Int?
    var crop: Int?
    var expected: String
    var expected_intermediate: String?
    var max_abs_diff: Double
    var mean: [Float]?
    var std: [Float]?
    var testDescription: String { expected }
}

/// Resizing, cropping and tensor conversion against Pillow/torchvision outputs
/// (Tests/Fixtures/media/preprocess/resize.json).
@Suite struct PreprocessingTests {
    static let cases: [ResizeCase] = Fixtures.load("media/preprocess/resize.json") ?? []

    @Test func manifestIsPresent() { #expect(Self.cases.count >= 30) }

    @Test(arguments: cases)
    func matchesReference(_ entry: ResizeCase) throws {
        let source = try Image(contentsOf: Fixtures.url("media/preprocess/" + entry.source))
        let expected = try Fixtures.npy("media/preprocess/" + entry.expected)
        func checkImage(_ image: Image, _ reference: NPYArray) {
            #expect(reference.shape == [image.height, image.width, image.channels], "\(entry.expected)")
            guard reference.shape == [image.height, image.width, image.channels] else { return }
            let diff = maxAbsDiff(image.pixels, reference.data)
            #expect(Double(diff) <= entry.max_abs_diff, "\(entry.expected): max abs diff \(diff)")
        }
        func checkTensor(_ tensor: Tensor) {
            #expect(tensor.shape == expected.shape, "\(entry.expected)")
            guard tensor.shape == expected.shape else { return }
            let diff = maxAbsDiff(tensor.scalars, expected.floats())
            #expect(Double(diff) <= entry.max_abs_diff, "\(entry.expected): max abs diff \(diff)")
        }
        let filter = try #require(ResizeFilter(rawValue: entry.filter ?? "bicubic"))
        switch entry.op {
        case "resize":
            checkImage(source.resized(width: entry.width!, height: entry.height!, filter: filter), expected)
        case "resize_shorter_side_center_crop":
            let resized = source.resizedShorterSide(to: entry.size!, filter: filter)
            checkImage(resized, try Fixtures.npy("media/preprocess/" + entry.expected_intermediate!))
            let pipeline = Preprocessing(
                resize: .shorterSide(entry.size!), filter: filter, centerCrop: PixelSize(entry.crop!))
            checkImage(pipeline.image(source), expected)
        case "center_crop":
            checkImage(source.centerCropped(width: entry.width!, height: entry.height!), expected)
        case "tensor_resize":
            let t = source.tensor(.unit)
            if entry.antialias == true {
                checkTensor(t.resizedAntialiased(height: entry.height!, width: entry.width!, filter: filter))
            } else {
                let mode: Tensor.InterpolationMode =
                    filter == .bicubic ? .bicubic(alignCorners: false) : .bilinear(alignCorners: false)
                checkTensor(t.interpolated(height: entry.height!, width: entry.width!, mode: mode))
            }
        case "to_tensor": checkTensor(source.tensor(.unit))
        case "to_tensor_2x_minus_1": checkTensor(source.tensor(.symmetric))
        case "normalize_clip": checkTensor(source.tensor(.meanStd(mean: entry.mean!, std: entry.std!)))
        default: Issue.record("unknown op \(entry.op)")
        }
    }
}

/// Extreme aspect ratios under the pixel limit (Tests/Fixtures/hostile): resizing a 1×51452 JPEG to
/// a 128-pixel shorter side is 843 M pixels (2.5 GB) before the centre crop; only the crop's
/// window is computed now, identical to Pillow's full resize + crop
/// (Tests/Reference/make_hostile_fixtures.py).
@Suite struct ExtremeAspectTests {
    /// The process's peak resident set (VmHWM), 0 without /proc.
    static func peakResidentBytes() -> Int {
        guard let data = FileManager.default.contents(atPath: "/proc/self/status") else { return 0 }
        let line = String(decoding: data, as: UTF8.self).split(separator: "\n").first { $0.hasPrefix("VmHWM:") }
        return (line?.split(separator: " ").compactMap { Int($0) }.first ?? 0) * 1024
    }

    @Test(arguments: ["tall-1x51452.jpg", "wide-65500x1.png"])
    func cropWindowMatchesPillowInBoundedMemory(_ name: String) throws {
        let image = try Image(contentsOf: Fixtures.url("hostile/" + name))
        let before = Self.peakResidentBytes()
        for filter in [ResizeFilter.bicubic, .bilinear] {
            let p = Preprocessing(resize: .shorterSide(128), filter: filter, centerCrop: PixelSize(128))
            let out = p.image(image)
            let stem = String(name.split(separator: ".")[0])
            let expected = try Image(contentsOf: Fixtures.url("hostile/\(stem)-\(filter.rawValue)-128.png"))
            #expect(out.width == 128 && out.height == 128)
            #expect(out.rgb().pixels == expected.rgb().pixels, "\(name) \(filter)")
        }
        // The full resize would raise the peak by 2.5 GB.
        #expect(Self.peakResidentBytes() - before < 1 << 30)
    }

    /// A window of a resize equals the same crop of the full resize, for every filter, both
    /// engines, both pass orders, RGBA, and axes that keep their size.
    @Test func windowEqualsCropOfFullResize() {
        var rng = SeededRandom(seed: 11)
        for (w, h, layout) in [(7, 300, Image.Layout.rgb), (300, 9, .rgba), (40, 40, .rgb)] {
            let pixels = (0..<(w * h * (layout == .rgba ? 4 : 3))).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let image = Image(width: w, height: h, layout: layout, pixels: pixels)
            for filter in ResizeFilter.allCases {
                for engine in [ResampleEngine.pillow, .pytorch] {
                    for (fw, fh) in [(3 * w, 2 * h), (w, h / 3), (w / 2, h), (w + 5, h / 2 + 1)] where fw > 4 && fh > 4
                    {
                        let full = image.resized(width: fw, height: fh, filter: filter, engine: engine)
                        let (x, y, cw, ch) = (fw / 3, fh / 4, fw / 2, fh / 2)
                        let window = image.resized(
                            width: fw, height: fh, filter: filter, engine: engine, window: (x, y, cw, ch))
                        #expect(
                            window == full.cropped(x: x, y: y, width: cw, height: ch),
                            "\(w)x\(h) → \(fw)x\(fh) \(filter) \(engine)")
                    }
                }
            }
        }
    }
}
