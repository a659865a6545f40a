import ArgumentParser
import Foundation
import Tessera
import TesseraTestSupport
import Testing

@testable import TesseraCLI

/// `tessera frames`, `preprocess` and `info`: the files they write (names, sizes) and what they print.
@Suite struct MediaCommandTests {
    @Test func framesAreNamedByIndexAndTime() throws {
        let out = try scratch("frames")
        try Frames.parse([CLIFixtures.video.path, "--uniform", "3", "-o", out.path]).run()
        let names = try pngNames(in: out)
        #expect(names.count == 3)
        let pattern = /sample_(\d{6})_(\d+\.\d{3})s\.png/
        var indices: [Int] = [], times: [Double] = []
        for name in names {
            let match = try #require(name.wholeMatch(of: pattern), "\(name)")
            indices.append(Int(match.1)!)
            times.append(Double(match.2)!)
        }
        #expect(indices == indices.sorted() && Set(indices).count == 3)
        #expect(times == times.sorted() && times[0] < times[2])
        let first = try Image(contentsOf: out.appendingPathComponent(names[0]))
        #expect(first.width > 0 && first.height > 0)
    }

    @Test func framesTimeRangeIsRespected() throws {
        let out = try scratch("frames-range")
        try Frames.parse([CLIFixtures.video.path, "--every", "1", "--start", "0", "--end", "0.2", "-o", out.path]).run()
        let times = try pngNames(in: out).compactMap { name in
            name.wholeMatch(of: /sample_\d{6}_(\d+\.\d{3})s\.png/).map { Double($0.1)! }
        }
        #expect(!times.isEmpty)
        #expect(times.allSatisfy { $0 < 0.2 }, "\(times)")
    }

    @Test func samplingOptionsAreExclusive() {
        #expect(throws: (any Error).self) {
            try Frames.parse([CLIFixtures.video.path, "--uniform", "3", "--fps", "2", "-o", "out"])
        }
    }

    @Test func framesOfANonVideoFail() throws {
        let out = try scratch("frames-text")
        let notes = out.appendingPathComponent("notes.txt")
        try Data("not a video".utf8).write(to: notes)
        #expect(throws: ExitCode.self) { try Frames.parse([notes.path, "-o", out.path]).run() }
        #expect(try pngNames(in: out).isEmpty)
    }

    /// The built `tessera` executable next to this test bundle (nil when only the tests were built).
    static let executable: URL? = {
        let dir = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        let url = dir.appendingPathComponent("tessera")
        return FileManager.default.isExecutableFile(atPath: url.path) ? url : nil
    }()
    static let mallocDebug = "/usr/lib/x86_64-linux-gnu/libc_malloc_debug.so.0"

    /// Runs the `tessera` executable with glibc's heap checker; returns its exit status and stderr.
    func runChecked(_ arguments: [String]) throws -> (status: Int32, stderr: String) {
        let process = Process()
        guard let executable = Self.executable else { throw CocoaError(.fileNoSuchFile) }
        process.executableURL = executable
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["LD_PRELOAD"] = Self.mallocDebug
        environment["MALLOC_CHECK_"] = "3"
        environment["SWIFT_BACKTRACE"] = "enable=no"
        process.environment = environment
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let data = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Frames whose width is not a multiple of 16 (yuv420p) must not write past the RGB buffer. Run in a
    /// child process under glibc's heap checker, since the overflow corrupts the heap of whoever decodes.
    @Test(
        .enabled(if: executable != nil && FileManager.default.fileExists(atPath: mallocDebug)),
        arguments: ["Tests/Fixtures/media/videos/h264_gop5.mp4", "Assets/images/coffee.jpg"])
    func decodingOddWidthFramesKeepsTheHeapIntact(_ path: String) throws {
        let out = try scratch("frames-heap")
        let input = Fixtures.repository.appendingPathComponent(path).path
        let (status, stderr) = try runChecked(["frames", input, "--uniform", "1", "-o", out.path])
        #expect(status == 0, "exit status \(status): \(stderr.suffix(300))")
        // the same command on a 256-pixel-wide video is clean, so the check itself is sound
        let (clean, cleanErrors) = try runChecked(["frames", CLIFixtures.video.path, "--uniform", "1", "-o", out.path])
        #expect(clean == 0, "\(cleanErrors.suffix(300))")
    }

    @Test func preprocessResizesAndCrops() throws {
        let out = try scratch("preprocess")
        try Preprocess.parse([CLIFixtures.towerImages[1], "--size", "32", "-o", out.path]).run()
        let cropped = try Image(contentsOf: out.appendingPathComponent("chelsea_100x67.png"))
        #expect(cropped.width == 32 && cropped.height == 32)

        let shorter = try scratch("preprocess-none")
        try Preprocess.parse([CLIFixtures.towerImages[1], "--size", "33", "--crop", "none", "-o", shorter.path]).run()
        let kept = try Image(contentsOf: shorter.appendingPathComponent("chelsea_100x67.png"))
        #expect(kept.height == 33 && kept.width == 49)  // 100x67 → shorter side 33, aspect kept

        let plain = try scratch("preprocess-plain")
        try Preprocess.parse([CLIFixtures.towerImages[0], "-o", plain.path]).run()
        let decoded = try Image(contentsOf: plain.appendingPathComponent("astronaut_75x100.png"))
        let original = try Image(contentsOf: URL(fileURLWithPath: CLIFixtures.towerImages[0]))
        #expect(decoded.width == 75 && decoded.height == 100)
        #expect(decoded.rgb().pixels == original.rgb().pixels)
    }

    @Test func preprocessRefusesNonPositiveSizes() {
        #expect(throws: (any Error).self) { try Preprocess.parse(["a.png", "--size", "0", "-o", "out"]) }
    }

    /// Same-named images in different folders must all be written (none may overwrite another).
    @Test func preprocessKeepsSameNamedImagesApart() throws {
        let root = try scratch("preprocess-same-names")
        var inputs: [String] = []
        for folder in ["a", "b", "c"] {
            let dir = root.appendingPathComponent(folder)
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            let file = dir.appendingPathComponent("image.png")
            try FileManager.default.copyItem(atPath: CLIFixtures.towerImages[0], toPath: file.path)
            inputs.append(file.path)
        }
        let out = root.appendingPathComponent("out")
        try Preprocess.parse(inputs + ["-o", out.path]).run()
        let names = try pngNames(in: out)
        #expect(names.count == 3, "\(names)")
    }

    @Test func infoJSONDescribesImagesAndVideos() throws {
        let command = try Info.parse([CLIFixtures.towerImages[1], CLIFixtures.video.path, "--json"])
        let output = try OutputCapture.capture(STDOUT_FILENO) { try command.run() }
        let objects = output.split(separator: "\n").compactMap { line -> [String: Any]? in
            guard line.hasPrefix("{") else { return nil }
            return (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
        }
        let image = try #require(objects.first { $0["path"] as? String == CLIFixtures.towerImages[1] })
        #expect(image["kind"] as? String == "image")
        #expect(image["width"] as? Int == 100 && image["height"] as? Int == 67)
        #expect(image["format"] as? String == "png")
        let video = try #require(objects.first { $0["path"] as? String == CLIFixtures.video.path })
        #expect(video["kind"] as? String == "video")
        #expect((video["width"] as? Int ?? 0) > 0)
    }

    @Test func infoOnAMissingFileFails() throws {
        let missing = try scratch("info").appendingPathComponent("missing.png").path
        #expect(throws: ExitCode.self) { try Info.parse([missing]).run() }
    }
}
