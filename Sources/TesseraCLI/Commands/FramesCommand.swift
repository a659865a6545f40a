import ArgumentParser
import Foundation
import Tessera

/// Video frame-sampling options shared by every command that reads video.
struct SamplingOptions: ParsableArguments {
    @Option(help: "Take every n-th frame.")
    var every: Int?
    @Option(help: "Take about this many frames per second.")
    var fps: Double?
    @Option(help: "Take this many frames spread evenly over the video (or the time range).")
    var uniform: Int?
    @Flag(help: "Take keyframes only (fast: other frames are not decoded).")
    var keyframes = false
    @Option(help: "Start time in seconds.")
    var start: Double?
    @Option(help: "End time in seconds (exclusive).")
    var end: Double?

    func validate() throws {
        let chosen = [every != nil, fps != nil, uniform != nil, keyframes].filter { $0 }.count
        guard chosen <= 1 else { throw ValidationError("choose at most one of --every, --fps, --uniform, --keyframes") }
    }

    var sampling: FrameSampling {
        if let every { return .everyNth(every) }
        if let fps { return .fps(fps) }
        if let uniform { return .uniform(count: uniform) }
        if keyframes { return .keyframes }
        return .all
    }
}

struct Frames: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write sampled video frames as PNG, named by index and timestamp.")

    @Argument(help: "Video files.")
    var videos: [String]

    @OptionGroup var sampling: SamplingOptions

    @Option(name: .shortAndLong, help: "Output folder.")
    var output: String
    @OptionGroup var resources: ResourceOptions

    func run() throws {
        let out = try makeOutputDirectory(output)
        var failures = FailureLog()
        for path in videos {
            let url = URL(fileURLWithPath: path)
            let stem = url.deletingPathExtension().lastPathComponent
            do {
                let reader = try VideoReader(url: url)
                var frames = try reader.frames(sampling.sampling, from: sampling.start, to: sampling.end)
                var written = 0
                while let frame = try frames.next() {
                    let name = String(format: "%@_%06d_%.3fs.png", stem, frame.index, frame.timestamp)
                    try frame.image.writePNG(to: out.appendingPathComponent(name), compressionLevel: 3)
                    written += 1
                }
                print("\(path): \(written) frame(s) -> \(out.path)")
            } catch {
                failures.record(error, input: path)
            }
        }
        try failures.finish()
    }
}
