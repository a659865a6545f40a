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

    struct Result: Encodable {
        var batch: Int
        var encode_ms: Double
        var encode_images_per_s: Double
        var decode_ms: Double?
        var decode_images_per_s: Double?
    }

    struct Report: Encodable {
        var model: String
        var results: [Result]
        var threads: Int
        var blas: String
        var peak_rss_mb: Double
    }

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
            if !encodeOnly {
                let decode = try Stopwatch.seconds(minimum: seconds) {
                    _ = try tokenizer.decode(tokens, options: decodeOptions)
                }
                result.decode_ms = decode * 1000
                result.decode_images_per_s = Double(b) / decode
            }
            results.append(result)
        }
        let report = Report(
            model: tokenizer.modelID, results: results, threads: Threading.threadCount, blas: BLAS.backend,
            peak_rss_mb: Double(peakResidentBytes()) / 1e6)
        if json { return try printJSON(report) }
        print("\(tokenizer.modelID), \(Threading.threadCount) threads, \(BLAS.backend)")
        for r in results {
            var line = String(
                format: "batch %d: encode %.1f ms/batch (%.2f img/s)", r.batch, r.encode_ms, r.encode_images_per_s)
            if let ms = r.decode_ms, let rate = r.decode_images_per_s {
                line += String(format: ", decode %.1f ms/batch (%.2f img/s)", ms, rate)
            }
            print(line)
        }
    }
}
