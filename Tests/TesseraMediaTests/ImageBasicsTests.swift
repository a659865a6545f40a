import Foundation
import TesseraCore
import Testing

@testable import TesseraMedia

/// A small image whose every sample differs, so transposition bugs show.
func gradientImage(width: Int, height: Int, layout: Image.Layout = .rgb) -> Image {
    var pixels: [UInt8] = []
    for y in 0..<height {
        for x in 0..<width {
            pixels += [
                UInt8(truncatingIfNeeded: x * 17 + y), UInt8(truncatingIfNeeded: y * 23 + x),
                UInt8(truncatingIfNeeded: x * y),
            ]
            if layout == .rgba { pixels.append(UInt8(truncatingIfNeeded: 255 - x * 9)) }
        }
    }
    return Image(width: width, height: height, layout: layout, pixels: pixels)
}

@Suite struct ImageBasicsTests {
    @Test func pngRoundTrip() throws {
        for layout in [Image.Layout.rgb, .rgba] {
            let image = gradientImage(width: 13, height: 7, layout: layout)
            let decoded = try Image(encoded: try image.pngData())
            #expect(decoded == image)
        }
    }

    @Test func orientationsMatchTheirDefinitions() {
        let img = gradientImage(width: 3, height: 2)
        func px(_ i: Image, _ x: Int, _ y: Int) -> [UInt8] {
            Array(i.pixels[((y * i.width + x) * 3)..<((y * i.width + x) * 3 + 3)])
        }
        // rotate 90° clockwise: the bottom-left pixel becomes the top-left one
        let right = img.oriented(.right)
        #expect(right.width == 2 && right.height == 3)
        #expect(px(right, 0, 0) == px(img, 0, 1))
        #expect(px(right, 1, 0) == px(img, 0, 0))
        // rotate 90° counter-clockwise: the top-right pixel becomes the top-left one
        #expect(px(img.oriented(.left), 0, 0) == px(img, 2, 0))
        #expect(px(img.oriented(.upMirrored), 0, 0) == px(img, 2, 0))
        #expect(px(img.oriented(.downMirrored), 0, 0) == px(img, 0, 1))
        #expect(px(img.oriented(.down), 0, 0) == px(img, 2, 1))
        #expect(px(img.oriented(.leftMirrored), 1, 2) == px(img, 2, 1))  // transpose
        #expect(px(img.oriented(.rightMirrored), 0, 0) == px(img, 2, 1))  // transverse
        // four clockwise turns are the identity, two mirrors too
        #expect(img.oriented(.right).oriented(.right).oriented(.right).oriented(.right) == img)
        #expect(img.oriented(.upMirrored).oriented(.upMirrored) == img)
        #expect(img.oriented(.right).oriented(.left) == img)
    }

    @Test func cropAndPad() {
        let img = gradientImage(width: 5, height: 4)
        let crop = img.cropped(x: 1, y: 2, width: 3, height: 2)
        #expect(crop.pixels[0..<3] == img.pixels[((2 * 5 + 1) * 3)..<((2 * 5 + 1) * 3 + 3)])
        let padded = img.padded(left: 1, top: 2, right: 3, bottom: 0)
        #expect(padded.width == 9 && padded.height == 6)
        #expect(padded.pixels[0..<3].allSatisfy { $0 == 0 })
        #expect(padded.cropped(x: 1, y: 2, width: 5, height: 4) == img)
        // centre crop larger than the image pads (left/top get the smaller half)
        let big = img.centerCropped(width: 8, height: 4)
        #expect(big.width == 8 && big.cropped(x: 1, y: 0, width: 5, height: 4) == img)
    }

    @Test func tensorConversion() {
        let img = Image(width: 2, height: 1, layout: .rgba, pixels: [0, 51, 255, 9, 255, 102, 0, 9])
        let unit = img.tensor(.unit)
        #expect(unit.shape == [3, 1, 2])
        #expect(unit.scalars == [0, 1, 0.2, 0.4, 1, 0])
        let a: Float = 0.2 * 2 - 1, b: Float = 0.4 * 2 - 1
        let expected: [Float] = [-1, 1, a, b, 1, -1]
        #expect(img.tensor(.symmetric).scalars == expected)
    }

    @Test func identityResizeAndShorterSideTarget() {
        let img = gradientImage(width: 10, height: 4)
        #expect(img.resized(width: 10, height: 4) == img)
        #expect(img.shorterSideTarget(2) == (5, 2))
        #expect(gradientImage(width: 3, height: 7).shorterSideTarget(2) == (2, 4))  // int(2 * 7 / 3) = 4
    }

    @Test func uniformIndicesFollowLinspaceRound() {
        #expect(DecodeState.uniformIndices(count: 5, total: 20) == [0, 5, 10, 14, 19])  // 4.75, 9.5→10, 14.25
        #expect(DecodeState.uniformIndices(count: 1, total: 9) == [0])
        #expect(DecodeState.uniformIndices(count: 30, total: 4) == [0, 1, 2, 3])
        #expect(DecodeState.uniformIndices(count: 3, total: 0) == [])
    }
}

@Suite struct BadInputTests {
    @Test func emptyGarbageAndMissingFiles() throws {
        #expect(throws: MediaError(.empty, path: "a.png", "empty file (0 bytes)")) {
            try Image(encoded: [], path: "a.png")
        }
        #expect(throws: MediaError.self) { try Image(encoded: Array("hello".utf8), path: "t.txt") }
        let missing = URL(fileURLWithPath: "/nonexistent/x.jpg")
        do {
            _ = try Image(contentsOf: missing)
            Issue.record("expected an error")
        } catch let e as MediaError {
            #expect(e.kind == .unreadable && e.path == missing.path)
        }
        do {
            _ = try Image(contentsOf: URL(fileURLWithPath: "/tmp"))
            Issue.record("expected an error")
        } catch let e as MediaError {
            #expect(e.kind == .unreadable)
        }
    }

    @Test func everyPrefixOfAPNGFailsCleanly() throws {
        let png = try gradientImage(width: 9, height: 5).pngData(compressionLevel: 0)
        for cut in stride(from: 0, to: png.count - 12, by: 3) {  // the last 12 bytes are IEND
            #expect(throws: MediaError.self, "cut at \(cut)") {
                try Image(encoded: Array(png.prefix(cut)), path: "cut.png")
            }
        }
    }

    @Test func pixelLimitIsCheckedBeforeDecoding() throws {
        let png = try gradientImage(width: 20, height: 20).pngData()
        do {
            _ = try Image(encoded: png, path: "big.png", options: ImageDecodingOptions(maxPixels: 399))
            Issue.record("expected an error")
        } catch let e as MediaError {
            #expect(e.kind == .tooLarge)
            #expect(e.description.contains("big.png"))
        }
        #expect(try Image(encoded: png, options: ImageDecodingOptions(maxPixels: 400)).width == 20)
    }
}
