import Foundation
import TesseraCore
import TesseraTestSupport
import Testing

@testable import TesseraMedia

/// Every PNG/JPEG variant decodes to Pillow's pixels (Tests/Fixtures/media/images/images.json).
struct ImageCase: Decodable, Sendable, CustomTestStringConvertible {
    var file: String
    var expected: String
    var max_abs_diff: Int?
    var testDescription: String { file }
}

struct BadFileCase: Decodable, Sendable, CustomTestStringConvertible {
    var file: String
    var kind: String
    var testDescription: String { file }
}

@Suite struct ImageDecodingTests {
    static let cases: [ImageCase] = Fixtures.load("media/images/images.json") ?? []

    @Test func manifestIsPresent() {
        #expect(Self.cases.count >= 40)
    }

    @Test(arguments: cases)
    func matchesPillow(_ entry: ImageCase) throws {
        let file = entry.file
        let expected = try Fixtures.npy("media/images/" + entry.expected)
        let tolerance = entry.max_abs_diff ?? 0
        let image = try Image(contentsOf: Fixtures.url("media/images/" + file))
        #expect(expected.shape == [image.height, image.width, image.channels], "\(file)")
        guard expected.shape == [image.height, image.width, image.channels] else { return }
        let diff = maxAbsDiff(image.pixels, expected.data)
        #expect(diff <= tolerance, "\(file): max abs diff \(diff) > \(tolerance)")
        // The header reader agrees with the decoder.
        let info = try ImageInfo(contentsOf: Fixtures.url("media/images/" + file))
        #expect(
            info.width == image.width && info.height == image.height && info.hasAlpha == (image.layout == .rgba),
            "\(file)")
    }
}

/// Broken and hostile files give a typed error naming the file, never a crash.
@Suite struct BadImageFileTests {
    static let cases: [BadFileCase] = Fixtures.load("media/images/bad.json") ?? []

    @Test func manifestIsPresent() { #expect(Self.cases.count >= 6) }

    @Test(arguments: cases)
    func failsCleanly(_ entry: BadFileCase) throws {
        let file = entry.file, kind = entry.kind
        let url = Fixtures.url("media/images/" + file)
        do {
            let image = try Image(contentsOf: url)
            // libpng, like Pillow, accepts a few damaged-but-decodable files (e.g. a wrong CRC
            // on an ancillary chunk); anything else must fail.
            Issue.record("\(file) (\(kind)) decoded to \(image.width)x\(image.height) instead of failing")
        } catch let error as MediaError {
            #expect(error.path == url.path)
            // A damaged header may read as "not an image" (as Pillow's "cannot identify").
            let allowed: [String: Set<MediaError.Kind>] = [
                "empty": [.empty], "truncated": [.truncated], "too_large": [.tooLarge],
                "not_an_image": [.unrecognized], "corrupt": [.corrupt, .unrecognized],
            ]
            let kinds = try #require(allowed[kind], "unknown kind \(kind) in bad.json")
            #expect(kinds.contains(error.kind), "\(file): \(error.kind) \(error)")
        }
    }
}
