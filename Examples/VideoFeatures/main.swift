// Example: sample frames from a video, preprocess them the way a timm ViT was trained, and
// print the CLS embedding of each frame — the library used the way a user's program would.
//
//   swift run -c release video-features <timm-model-dir> <video> [frames]
//   swift run -c release video-features Tests/Fixtures/vit/model Assets/video/sample.mp4 4
import Foundation
import Tessera

let arguments = CommandLine.arguments
guard arguments.count >= 3 else {
    print("usage: video-features <timm-model-dir> <video> [frames]")
    exit(2)
}
do {
    let model = try TimmViT(directory: URL(fileURLWithPath: arguments[1]))
    let video = try VideoReader(url: URL(fileURLWithPath: arguments[2]))
    print("\(video.info.codec) \(video.info.width)x\(video.info.height), \(video.info.frameCount ?? 0) frames")

    var frames = try video.frames(.uniform(count: arguments.count > 3 ? Int(arguments[3]) ?? 4 : 4))
    var batch: [Tensor] = []
    var times: [Double] = []
    while let frame = try frames.next() {
        batch.append(model.pixels([frame.image]))
        times.append(frame.timestamp)
    }
    let out = model.forward(Tensor.concatenate(batch, axis: 0))  // final tokens [frames, N, D]
    guard let cls = out.pooled else { throw VisionEncoderError("\(model.descriptor.modelID) has no pooled output") }
    let d = model.config.embedDim
    for (i, t) in times.enumerated() {
        let row = cls.scalars[(i * d)..<((i + 1) * d)]
        let norm = row.reduce(0) { $0 + $1 * $1 }.squareRoot()
        print(
            String(
                format: "t = %6.3fs  |cls| = %.4f  first values: %@", t, norm,
                row.prefix(4).map { String(format: "%+.4f", $0) }.joined(separator: " ")))
    }
} catch {
    print("error: \(error)")
    exit(1)
}
