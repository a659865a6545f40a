import ArgumentParser
import Foundation
import Tessera

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure throughput. Compare with PyTorch/Pillow via Scripts/bench-*.sh.",
        subcommands: [BenchDecode.self])
}

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

    func run() throws {
        let assets = try? locateAssets(nil)
        let files = inputs.isEmpty ? try Media.expand([assets?.appendingPathComponent("images").path ?? "Assets/images"]).filter(Media.isImage)
                                   : try Media.expand(inputs).filter(Media.isImage)
        guard !files.isEmpty else { throw ValidationError("no images to measure") }
        let blobs = try files.map { [UInt8](try Data(contentsOf: $0)) }
        let pipeline = Preprocessing(resize: .shorterSide(size), filter: .bicubic, centerCrop: PixelSize(size))

        // Sequential, one image at a time (the per-image latency view, like a Pillow loop).
        Threading.threadCount = 1
        var sequential = 0.0
        for pass in 0..<max(2, repeats) {
            let start = Date()
            for (blob, file) in zip(blobs, files) {
                _ = pipeline.image(try Image(encoded: blob, path: file.path))
            }
            if pass > 0 { sequential += Date().timeIntervalSince(start) }
        }
        let passes = Double(max(2, repeats) - 1)
        let sequentialRate = Double(blobs.count) * passes / sequential

        // Images in parallel across cores (the batch-job view).
        let cores = ProcessInfo.processInfo.activeProcessorCount
        var parallel = 0.0
        for pass in 0..<max(2, repeats) {
            let start = Date()
            DispatchQueue.concurrentPerform(iterations: blobs.count) { i in
                _ = try? pipeline.image(Image(encoded: blobs[i], path: files[i].path))
            }
            if pass > 0 { parallel += Date().timeIntervalSince(start) }
        }
        let parallelRate = Double(blobs.count) * passes / parallel

        var videoRate: Double? = nil
        var videoFrames = 0
        let videoPath = video ?? assets?.appendingPathComponent("video/sample.mp4").path
        if let videoPath, FileManager.default.fileExists(atPath: videoPath) {
            Threading.threadCount = 1
            let start = Date()
            var frames = try VideoReader(url: URL(fileURLWithPath: videoPath)).frames(.all)
            while try frames.next() != nil { videoFrames += 1 }
            videoRate = Double(videoFrames) / Date().timeIntervalSince(start)
        }
        if json {
            var object: [String: Any] = ["images": blobs.count, "size": size, "sequential_images_per_s": sequentialRate,
                                         "parallel_images_per_s": parallelRate, "cores": cores]
            if let videoRate { object["video_frames_per_s"] = videoRate; object["video_frames"] = videoFrames }
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print(String(format: "decode + resize %d + crop: %.1f images/s (1 thread), %.1f images/s (%d cores, images in parallel)",
                         size, sequentialRate, parallelRate, cores))
            if let videoRate { print(String(format: "video decode + RGB: %.1f frames/s (1 thread, %d frames)", videoRate, videoFrames)) }
        }
    }
}
