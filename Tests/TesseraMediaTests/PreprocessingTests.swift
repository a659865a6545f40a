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
