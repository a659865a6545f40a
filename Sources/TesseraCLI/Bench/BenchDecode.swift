import ArgumentParser
import Foundation
import Tessera

struct BenchDecode: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode",
        abstract: "Images/s for decode + shorter-side resize + centre crop, and video frames/s.")

    @Argument(help: "Image files or folders (default: the bundled Assets/images).")
    var inputs: [String] = []
    @Option(help: "A video to measure decode + RGB conversion frames/s on (default: the bundled sample).")
    var video: String?
    @Option(help: "Resize target (shorter side) and crop size.")
    var size: Int = 256
    @Option(help: "Passes over the inputs (the first is a warm-up and not counted).")
    var repeats: Int = 4
    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    struct Report: Encodable {
        var images: Int
        var size: Int
        var cores: Int
        var sequential_images_per_s: Double
        var parallel_images_per_s: Double
        var video_frames_per_s: Double?
        var video_frames: Int?
    }

    func run() throws {
        // the bundled assets are the default inputs (and the default video when no inputs are given)
        let assets = inputs.isEmpty ? try locateAssets(nil) : nil
        let paths = assets.map { [$0.appendingPathComponent("images").path] } ?? inputs
        let files = try Media.expand(paths).filter(Media.isImage)
        guard !files.isEmpty else { throw ValidationError("no images to measure") }
        let blobs = try files.map { [UInt8](try Data(contentsOf: $0)) }
        let pipeline = Preprocessing(resize: .shorterSide(size), filter: .bicubic, centerCrop: PixelSize(size))
        let passes = max(2, repeats)

        // Sequential, one image at a time (the per-image latency view, like a Pillow loop).
        Threading.threadCount = 1
        var sequential = 0.0
        for pass in 0..<passes {
            let start = Date()
            for (blob, file) in zip(blobs, files) { _ = pipeline.image(try Image(encoded: blob, path: file.path)) }
            if pass > 0 { sequential += Date().timeIntervalSince(start) }
        }
        // Images in parallel across cores (the batch-job view).
        let cores = ProcessInfo.processInfo.activeProcessorCount
        var parallel = 0.0
        for pass in 0..<passes {
            let start = Date()
            let results = decodeInParallel(Array(blobs.indices)) { i in
                pipeline.image(try Image(encoded: blobs[i], path: files[i].path))
            }
            if pass > 0 { parallel += Date().timeIntervalSince(start) }
            for case .failure(let error) in results { throw error }
        }
        let counted = Double(blobs.count) * Double(passes - 1)
        var report = Report(
            images: blobs.count, size: size, cores: cores, sequential_images_per_s: counted / sequential,
            parallel_images_per_s: counted / parallel)
        if let videoPath = video ?? assets?.appendingPathComponent("video/sample.mp4").path,
            FileManager.default.fileExists(atPath: videoPath)
        {
            Threading.threadCount = 1
            let start = Date()
            var frames = try VideoReader(url: URL(fileURLWithPath: videoPath)).frames(.all)
            var count = 0
            while try frames.next() != nil { count += 1 }
            report.video_frames = count
            report.video_frames_per_s = Double(count) / Date().timeIntervalSince(start)
        }
        if json { return try printJSON(report) }
        print(
            String(
                format:
                    "decode + resize %d + crop: %.1f images/s (1 thread), %.1f images/s (%d cores, images in parallel)",
                size, report.sequential_images_per_s, report.parallel_images_per_s, cores))
        if let rate = report.video_frames_per_s, let count = report.video_frames {
            print(String(format: "video decode + RGB: %.1f frames/s (1 thread, %d frames)", rate, count))
        }
    }
}
