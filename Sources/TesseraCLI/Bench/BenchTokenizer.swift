import ArgumentParser
import Foundation
import Tessera

struct BenchTokenizer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenizer",
        abstract:
            "Encode and decode images/s of any tokenizer (Scripts/bench-titok.sh adds the PyTorch comparison "
            + "for TiTok).",
        discussion:
            "Encode is preprocessed pixels → tokens (encoder and quantizer); decode is tokens → reconstructions.",
        aliases: ["titok"])

    @Option(help: "Tokenizer model directory (see `tessera models`).")
    var model: String
    @Option(help: "Batch sizes to measure.")
    var batch: [Int] = [1, 8]
    @Option(help: "Minimum seconds per measurement (at least one run each).")
    var seconds: Double = 5
    @Flag(help: "Print one JSON object instead of text.")
    var json = false
    @Flag(help: "Measure encoding only (for profiling the encoder).")
    var encodeOnly = false
    @Flag(
        inversion: .prefixedNo,
        help: "Run each decode once before timing it (slow decoders: --no-warm-up; encoding always warms up).")
    var warmUp = true
    @Option(help: "Video tokenizers (Emu3): also time one clip of this many frames (frames/s).")
    var clipFrames: Int?
    @Option(help: "Side of the clip's frames in pixels (default: the tokenizer's input size).")
    var clipSize: Int?

    struct Result: Encodable {
        var batch: Int
        var encode_ms: Double
        var encode_images_per_s: Double
        var decode_ms: Double?
        var decode_images_per_s: Double?
        var encode_gflops: Double?
        var decode_gflops: Double?
    }

    struct ClipResult: Encodable {
        var frames: Int
        var size: Int
        var clip_ms: Double
        var frames_per_s: Double
        /// Decoding the clip's codes back to its frames (once, no warm-up: it takes minutes).
        var decode_ms: Double?
        var decode_frames_per_s: Double?
        /// Direct-convolution operation counts per second (Winograd convolutions can exceed the SGEMM peak).
        var encode_gflops: Double?
        var decode_gflops: Double?
    }

    struct Report: Encodable {
        var model: String
        var results: [Result]
        var clip: ClipResult?
        var threads: Int
        var blas: String
        var peak_rss_mb: Double
        /// GFLOP/s of a 512×2304×768 SGEMM (FlexTok's q/k/v projection) in this run.
        var sgemm_peak_gflops: Double
    }
    @OptionGroup var resources: ResourceOptions

    func run() throws {
        let tokenizer = try TokenizerRegistry.load(URL(fileURLWithPath: model))
        let size = tokenizer.descriptor.inputSize
        var results: [Result] = []
        for b in batch {
            let pixels = (0..<b).map {
                benchInput([3, size.height, size.width], in: 0...1, seed: UInt64(b * 1000 + $0))
            }
            let encodeOptions = EncodeOptions(batchSize: b), decodeOptions = DecodeOptions(batchSize: b)
            var tokens: [Tokens] = []
            let encode = try Stopwatch.seconds(minimum: seconds) {
                tokens = try tokenizer.encode(preprocessed: pixels, options: encodeOptions)
            }
            var result = Result(batch: b, encode_ms: encode * 1000, encode_images_per_s: Double(b) / encode)
            // Operation counts where the family states them (FlexTok at upstream's README settings, the VQGANs).
            let flops =
                (tokenizer as? FlexTok)?.flops(steps: FlexTok.defaultSteps, guided: true)
                ?? (tokenizer as? Chameleon)?.flopsPerImage ?? (tokenizer as? Janus)?.flopsPerImage
                // Emu3 runs its spatial encoder once for the image's identical frames.
                ?? (tokenizer as? Emu3)?.flops(frames: 1, height: size.height, width: size.width)
            result.encode_gflops = flops.map { $0.encode * Double(b) / encode / 1e9 }
            // Encoder-only checkpoints (transformers' Chameleon) time encoding only; Emu3 decodes its clip
            // below (an image decodes only frame 0 here, 4 frames in transformers: not a like-for-like row).
            if !encodeOnly, (tokenizer as? Chameleon)?.canDecode != false, !(tokenizer is Emu3) {
                let decode = try Stopwatch.seconds(minimum: seconds, warmUp: warmUp) {
                    _ = try tokenizer.decode(tokens, options: decodeOptions)
                }
                result.decode_ms = decode * 1000
                result.decode_images_per_s = Double(b) / decode
                result.decode_gflops = flops.map { $0.decode * Double(b) / decode / 1e9 }
            }
            results.append(result)
        }
        var clip: ClipResult?
        if let frames = clipFrames {
            guard let video = tokenizer as? any VideoClipTokenizer else {
                throw ValidationError("--clip-frames: \(tokenizer.modelID) does not encode video clips")
            }
            let side = clipSize ?? size.height
            let input = benchInput([frames, 3, side, side], in: -1...1, seed: 7)
            var codes: Tokens?
            let encode = try Stopwatch.seconds(minimum: seconds) { codes = try video.encode(clip: input) }
            clip = ClipResult(frames: frames, size: side, clip_ms: encode * 1000, frames_per_s: Double(frames) / encode)
            let counts = (tokenizer as? Emu3)?.flops(frames: frames, height: side, width: side)
            clip?.encode_gflops = counts.map { $0.encode / encode / 1e9 }
            if !encodeOnly, let codes, (tokenizer as? Emu3)?.canDecode != false {
                var decoded = 0
                let decode = try Stopwatch.seconds(minimum: 0, warmUp: false) {
                    decoded = try video.decode(clip: codes).shape[0]
                }
                clip?.decode_ms = decode * 1000
                clip?.decode_frames_per_s = Double(decoded) / decode
                clip?.decode_gflops = (tokenizer as? Emu3).map {
                    $0.flops(frames: decoded, height: side, width: side).decode / decode / 1e9
                }
            }
        }
        let report = Report(
            model: tokenizer.modelID, results: results, clip: clip, threads: Threading.threadCount, blas: BLAS.backend,
            peak_rss_mb: Double(peakResidentBytes()) / 1e6,
            sgemm_peak_gflops: measureSGEMM(m: 512, n: 2304, k: 768, seconds: 1))
        if json { return try printJSON(report) }
        print(
            "\(tokenizer.modelID), \(Threading.threadCount) threads, \(BLAS.backend), SGEMM peak "
                + String(format: "%.0f GFLOP/s", report.sgemm_peak_gflops))
        for r in results {
            var line = String(
                format: "batch %d: encode %.1f ms/batch (%.2f img/s)", r.batch, r.encode_ms, r.encode_images_per_s)
            if let g = r.encode_gflops { line += String(format: " %.0f GFLOP/s", g) }
            if let ms = r.decode_ms, let rate = r.decode_images_per_s {
                line += String(format: ", decode %.1f ms/batch (%.2f img/s)", ms, rate)
                if let g = r.decode_gflops { line += String(format: " %.0f GFLOP/s", g) }
            }
            print(line)
        }
        if let c = clip {
            print(
                String(
                    format: "clip of %d frames at %d²: encode %.1f ms (%.2f frames/s)", c.frames, c.size, c.clip_ms,
                    c.frames_per_s)
                    + (c.encode_gflops.map { String(format: " %.0f GFLOP/s", $0) } ?? "")
                    + (c.decode_ms.map { String(format: ", decode %.1f ms", $0) } ?? "")
                    + (c.decode_frames_per_s.map { String(format: " (%.2f frames/s)", $0) } ?? "")
                    + (c.decode_gflops.map { String(format: " %.0f GFLOP/s", $0) } ?? ""))
        }
    }
}
