import ArgumentParser
import Foundation
import Tessera

struct BenchQuantize: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quantize",
        abstract:
            "Vectors/s of nearest-codeword search and FSQ/LFQ encode (Scripts/bench-quantize.sh adds "
            + "vector-quantize-pytorch)."
    )

    @Option(help: "Vectors to quantize.")
    var vectors: Int = 65536
    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    func run() throws {
        var results: [String: Double] = [:]
        for (k, d) in [(16384, 256), (262144, 8)] {
            let x = benchInput([vectors, d], seed: 7), book = benchInput([k, d], seed: 8)
            let vq = VectorQuantizer(codebook: book, metric: .euclidean(clampMin: 1e-8))
            results["vq_\(k)x\(d)"] =
                Double(vectors) / Stopwatch.seconds(minimum: 0, warmUp: false) { _ = vq.encode(x) }
        }
        let fsq = try FSQ(levels: [8, 8, 8, 5, 5, 5])
        let xf = benchInput([vectors, 6], seed: 9)
        results["fsq_888555"] =
            Double(vectors) / (try Stopwatch.seconds(minimum: 0, warmUp: false) { _ = try fsq.encode(xf) })
        let lfq = try LFQ(dimension: 16)
        let xl = benchInput([vectors, 16], seed: 10)
        results["lfq_16"] =
            Double(vectors) / (try Stopwatch.seconds(minimum: 0, warmUp: false) { _ = try lfq.encode(xl) })
        results["peak_rss_mb"] = Double(peakResidentBytes()) / 1e6
        if json { return try printJSON(results) }
        for (name, value) in results.sorted(by: { $0.key < $1.key }) {
            print(String(format: "%-16@ %14.0f", name, value))
        }
    }
}
