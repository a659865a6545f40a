import ArgumentParser
import Foundation
import Tessera

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show dimensions, format, frames, codec and duration of images and videos.")

    @Argument(help: "Image or video files, or folders (searched recursively).")
    var inputs: [String]

    @Flag(help: "One JSON object per file, one per line.")
    var json = false
    @OptionGroup var resources: ResourceOptions

    func run() throws {
        var failures = FailureLog()
        let files = try Media.expand(inputs)
        if !json {
            print(
                pad("file", 32), pad("kind", 6), pad("size", 11), pad("format", 24), pad("fps", 8), pad("frames", 7),
                "duration")
        }
        for file in files {
            do {
                let description = try Media.probe(file)
                if json { print(try jsonLine(file: file, description)) } else { print(row(file: file, description)) }
            } catch {
                failures.record(error, input: file.path)
            }
        }
        try failures.finish()
    }

    private func pad(_ s: String, _ n: Int) -> String {
        s.count >= n ? s : s + String(repeating: " ", count: n - s.count)
    }

    private func row(file: URL, _ d: MediaDescription) -> String {
        switch d {
        case .image(let i):
            var format = "\(i.format.rawValue) \(i.pixelFormat)"
            if i.orientation != .up { format += " exif=\(i.orientation.rawValue)" }
            return [
                pad(file.lastPathComponent, 32), pad("image", 6), pad("\(i.width)x\(i.height)", 11), pad(format, 24),
                pad("-", 8), pad("1", 7), "-",
            ].joined(separator: " ")
        case .video(let v):
            var format = "\(v.codec) \(v.pixelFormat)"
            if v.rotation != 0 { format += " rot=\(v.rotation)" }
            let frames = v.frameCount.map(String.init) ?? v.estimatedFrameCount.map { "~\($0)" } ?? "?"
            return [
                pad(file.lastPathComponent, 32), pad("video", 6), pad("\(v.width)x\(v.height)", 11), pad(format, 24),
                pad(v.fps.map { String(format: "%.3f", $0) } ?? "?", 8), pad(frames, 7),
                formatSeconds(v.duration) + "s",
            ]
            .joined(separator: " ")
        }
    }

    private func jsonLine(file: URL, _ d: MediaDescription) throws -> String {
        var object: [String: Any] = ["path": file.path]
        switch d {
        case .image(let i):
            object.merge([
                "kind": "image", "format": i.format.rawValue, "width": i.width, "height": i.height,
                "has_alpha": i.hasAlpha, "pixel_format": i.pixelFormat, "orientation": i.orientation.rawValue,
            ]) { $1 }
        case .video(let v):
            object.merge([
                "kind": "video", "container": v.container, "codec": v.codec, "width": v.width, "height": v.height,
                "coded_width": v.codedWidth, "coded_height": v.codedHeight, "rotation": v.rotation,
                "pixel_format": v.pixelFormat, "start_time": v.startTime,
            ]) { $1 }
            if let fps = v.fps { object["fps"] = fps }
            if let r = v.frameRate { object["frame_rate"] = r.description }
            if let d = v.duration { object["duration"] = d }
            if let n = v.frameCount { object["frame_count"] = n }
        }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }
}
