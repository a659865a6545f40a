import Foundation
import TesseraCore
import TesseraTestSupport
import Testing

@testable import TesseraMedia

struct VideoCase: Decodable, Sendable, CustomTestStringConvertible {
    struct Frame: Decodable, Sendable { var index: Int; var pts_seconds: Double; var key: Bool }
    var file: String
    var codec: String
    var width: Int
    var height: Int
    var fps: [Int]?
    var frame_count: Int?
    var rotation: Int
    var frames: [Frame]
    var expected: String
    var max_abs_diff: Int
    var testDescription: String { file }
}

func videoURL(_ name: String) -> URL { Fixtures.url("media/videos/" + name) }

/// Decoded frames equal PyAV's (ffmpeg CLI's for rotation), with the same timestamps.
@Suite struct VideoDecodingTests {
    static let cases: [VideoCase] = Fixtures.load("media/videos/videos.json") ?? []

    @Test func manifestIsPresent() { #expect(Self.cases.count >= 6) }

    @Test(arguments: cases)
    func everyFrameMatchesPyAV(_ entry: VideoCase) throws {
        let reader = try VideoReader(url: videoURL(entry.file))
        #expect(reader.info.codec == entry.codec)
        #expect(reader.info.width == entry.width && reader.info.height == entry.height, "\(reader.info)")
        // The manifest gives the display matrix angle as ffprobe prints it (counter-clockwise);
        // VideoInfo.rotation is the clockwise turn applied for display.
        #expect(reader.info.rotation == (360 - entry.rotation) % 360)
        if let n = reader.info.frameCount, entry.codec != "gif" { #expect(n == entry.frames.count) }
        let expected = try Fixtures.npy("media/videos/" + entry.expected)
        let frameBytes = entry.width * entry.height * 3
        var frames = try reader.frames(.all)
        var i = 0
        while let frame = try frames.next() {
            guard i < entry.frames.count else { Issue.record("extra frame \(i)"); break }
            #expect(frame.index == i)
            #expect(abs(frame.timestamp - entry.frames[i].pts_seconds) < 1e-6, "frame \(i) at \(frame.timestamp)")
            #expect(frame.isKeyframe == entry.frames[i].key, "frame \(i) key flag")
            #expect(frame.image.width == entry.width && frame.image.height == entry.height)
            let ref = Array(expected.data[(i * frameBytes)..<((i + 1) * frameBytes)])
            let diff = maxAbsDiff(frame.image.pixels, ref)
            #expect(diff <= entry.max_abs_diff, "\(entry.file) frame \(i): max abs diff \(diff)")
            i += 1
        }
        #expect(i == entry.frames.count)
    }
}

/// Each sampling strategy picks the frames its definition says.
@Suite struct FrameSamplingTests {
    static let gop = VideoDecodingTests.cases.first { $0.file == "h264_gop5.mp4" }

    private func sample(
        _ sampling: FrameSampling, start: Double? = nil, end: Double? = nil,
        file: String = "h264_gop5.mp4"
    ) throws -> [VideoFrame] {
        var it = try VideoReader(url: videoURL(file)).frames(sampling, from: start, to: end)
        var out: [VideoFrame] = []
        while let f = try it.next() { out.append(f) }
        return out
    }

    /// Frames must be the reference's frames at those indices.
    private func checkPixels(_ frames: [VideoFrame], file: String = "h264_gop5.mp4") throws {
        let entry = try #require(VideoDecodingTests.cases.first { $0.file == file })
        let expected = try Fixtures.npy("media/videos/" + entry.expected)
        let n = entry.width * entry.height * 3
        for f in frames {
            #expect(
                maxAbsDiff(f.image.pixels, Array(expected.data[(f.index * n)..<((f.index + 1) * n)]))
                    <= entry.max_abs_diff,
                "frame \(f.index)")
            #expect(abs(f.timestamp - entry.frames[f.index].pts_seconds) < 1e-6)
        }
    }

    @Test func everyNth() throws {
        let frames = try sample(.everyNth(4))
        #expect(frames.map(\.index) == [0, 4, 8, 12])
        try checkPixels(frames)
    }

    @Test func targetFPS() throws {
        // 10 fps source, 3 fps grid 0, 0.333, 0.667, 1.0, 1.333: first frame at or after each
        let frames = try sample(.fps(3))
        #expect(frames.map(\.index) == [0, 4, 7, 10, 14])
        let all = try sample(.fps(50))
        #expect(all.count == 15)  // above the source rate: every frame once
    }

    @Test func uniform() throws {
        // round(linspace(0, 14, 4)) = [0, 5, 9, 14]
        let frames = try sample(.uniform(count: 4))
        #expect(frames.map(\.index) == [0, 5, 9, 14])
        try checkPixels(frames)
        let many = try sample(.uniform(count: 100))
        #expect(many.count == 15)
    }

    @Test func timeRangeSeeks() throws {
        let frames = try sample(.all, start: 0.55, end: 1.2)
        #expect(frames.map(\.index) == [6, 7, 8, 9, 10, 11])
        try checkPixels(frames)
        // 12 fps with B-frames: 0.3 s falls between frames 3 (0.25) and 4 (0.333)
        let bframes = try sample(.everyNth(2), start: 0.3, end: 1.0, file: "h264_bframes.mp4")
        #expect(bframes.map(\.index) == [4, 6, 8, 10])
        try checkPixels(bframes, file: "h264_bframes.mp4")
    }

    @Test func keyframesOnly() throws {
        let frames = try sample(.keyframes)
        #expect(frames.map(\.index) == [0, 5, 10])
        #expect(frames.allSatisfy { $0.isKeyframe })
        try checkPixels(frames)
    }

    @Test func seekToTimestamp() throws {
        let reader = try VideoReader(url: videoURL("h264_bframes.mp4"))
        let frame = try #require(try reader.frame(at: 0.74))  // 12 fps: frame 9 is at 0.75
        #expect(frame.index == 9)
        try checkPixels([frame], file: "h264_bframes.mp4")
        let past = try reader.frame(at: 99)
        #expect(past == nil)
    }

    @Test func invalidRequestsAreErrors() throws {
        let reader = try VideoReader(url: videoURL("h264_gop5.mp4"))
        #expect(throws: MediaError.self) { try reader.frames(.everyNth(0)) }
        #expect(throws: MediaError.self) { try reader.frames(.fps(-1)) }
        #expect(throws: MediaError.self) { try reader.frames(.all, from: 1, to: 0.5) }
    }

    @Test func asyncSequence() async throws {
        var count = 0
        for try await _ in try VideoReader(url: videoURL("vp9.webm")).frames(.everyNth(3)) { count += 1 }
        #expect(count > 0)
    }
}

@Suite struct BadVideoTests {
    @Test func audioOnlyFileHasNoVideoStream() {
        #expect(throws: MediaError.self) { try VideoReader(url: videoURL("no_video_stream.m4a")) }
        do {
            _ = try VideoReader(url: videoURL("no_video_stream.m4a"))
        } catch let e as MediaError {
            #expect(e.kind == .noVideoStream && e.path.hasSuffix("no_video_stream.m4a"))
        } catch { Issue.record("\(error)") }
    }

    @Test func truncatedVideoReportsAnError() throws {
        var frames = try VideoReader(url: videoURL("truncated.mp4")).frames(.all)
        var decoded = 0
        do {
            while try frames.next() != nil { decoded += 1 }
            Issue.record("truncated video decoded \(decoded) frames without an error")
        } catch let e as MediaError {
            #expect(e.kind == .truncated || e.kind == .corrupt, "\(e)")
            #expect(e.path.hasSuffix("truncated.mp4"))
        }
    }

    @Test func nonVideoFiles() {
        for name in ["../images/not_an_image.jpg", "../images/zero-byte.png", "missing.mp4"] {
            #expect(throws: MediaError.self, "\(name)") { try VideoReader(url: videoURL(name)) }
        }
    }
}
