import ArgumentParser
import Foundation
import Tessera

struct BenchViT: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vit",
        abstract: "Images/s and GFLOP/s of a timm ViT forward pass (Scripts/bench-vit.sh adds the timm comparison).")

    @Option(help: "timm hub model directory; without it, random weights for --architecture.")
    var model: String?
    @Option(help: "Architecture for random weights.")
    var architecture: String = "vit_base_patch16_224"
    @Option(help: "Batch sizes to measure.")
    var batch: [Int] = [1, 8]
    @Option(help: "Seconds to measure each batch size (after one warm-up pass).")
    var seconds: Double = 8
    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    struct Result: Encodable {
        var batch: Int
        var images_per_s: Double
        var gflops: Double
        var ms_per_batch: Double
    }

    struct Report: Encodable {
        var architecture: String
        var gflop_per_image: Double
        var results: [Result]
        var peak_rss_mb: Double
        var threads: Int
        var sgemm_gflops: Double
    }

    /// Multiply-adds × 2 of one image: patch embedding, per block qkv + proj + MLP + attention maps, head.
    static func flops(_ c: TimmViTConfig) -> Double {
        let n = Double(c.gridSize * c.gridSize + c.prefixTokens), d = Double(c.embedDim), hidden = Double(c.mlpHidden)
        let perBlock = 2 * n * (3 * d * d + d * d + 2 * d * hidden) + 4 * n * n * d
        return 2 * Double(c.gridSize * c.gridSize) * 3 * Double(c.patchSize * c.patchSize) * d
            + Double(c.depth) * perBlock + 2 * d * Double(c.numClasses)
    }

    func run() throws {
        let vit = try benchViT(model: model, architecture: architecture)
        let c = vit.config, flops = Self.flops(c)
        var results: [Result] = []
        for b in batch {
            let pixels = benchInput([b, 3, c.imageSize, c.imageSize], seed: UInt64(b))
            let perRun = Stopwatch.seconds(minimum: seconds) { _ = vit.logits(pixels) }
            let rate = Double(b) / perRun
            results.append(
                Result(batch: b, images_per_s: rate, gflops: rate * flops / 1e9, ms_per_batch: perRun * 1000))
        }
        let report = Report(
            architecture: c.architecture, gflop_per_image: flops / 1e9, results: results,
            peak_rss_mb: Double(peakResidentBytes()) / 1e6, threads: Threading.threadCount,
            sgemm_gflops: measureSGEMM(m: 1576, n: 3072, k: 768, seconds: 2))
        if json { return try printJSON(report) }
        print(String(format: "%@: %.2f GFLOP/image, %d threads", c.architecture, flops / 1e9, Threading.threadCount))
        for r in results {
            print(
                String(
                    format: "batch %2d: %7.2f images/s  %6.1f GFLOP/s  %8.1f ms/batch", r.batch, r.images_per_s,
                    r.gflops, r.ms_per_batch))
        }
        print(
            String(
                format: "peak RSS %.0f MB; SGEMM 1576x3072x768 on this machine: %.1f GFLOP/s", report.peak_rss_mb,
                report.sgemm_gflops))
    }
}
