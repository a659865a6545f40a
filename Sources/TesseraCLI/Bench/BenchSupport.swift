// What every benchmark shares: timing loops, seeded inputs, the machine's SGEMM peak, peak
// memory and JSON reports.
import Foundation
import Tessera

enum Stopwatch {
    /// Seconds per run of `body`: one warm-up run (when `warmUp`), then runs until `minimum`
    /// seconds have passed (at least one).
    static func seconds(minimum: Double, warmUp: Bool = true, _ body: () throws -> Void) rethrows -> Double {
        if warmUp { try body() }
        var runs = 0
        let start = Date()
        repeat {
            try body()
            runs += 1
        } while Date().timeIntervalSince(start) < minimum
        return Date().timeIntervalSince(start) / Double(runs)
    }
}

/// Seeded uniform inputs for benchmarks.
func benchInput(_ shape: [Int], in range: ClosedRange<Float> = -1...1, seed: UInt64) -> Tensor {
    var random = SeededRandom(seed: seed)
    return random.uniformTensor(shape, in: range)
}

/// Peak resident set size of this process (Linux: VmHWM).
func peakResidentBytes() -> Int {
    // 0 where there is no /proc (macOS): the reports then say 0 MB rather than fail the benchmark
    guard let data = FileManager.default.contents(atPath: "/proc/self/status") else { return 0 }
    let status = String(decoding: data, as: UTF8.self)
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        return (line.split(separator: " ").compactMap { Int($0) }.first ?? 0) * 1024
    }
    return 0
}

/// GFLOP/s of a plain SGEMM of the given shape through Tessera's BLAS path (the machine's peak
/// for the ratios the benchmarks report).
func measureSGEMM(m: Int, n: Int, k: Int, seconds: Double) -> Double {
    let a = [Float](repeating: 0.5, count: m * k), b = [Float](repeating: 0.25, count: k * n)
    var c = [Float](repeating: 0, count: m * n)
    var runs = 0
    let start = Date()
    a.withUnsafeBufferPointer { pa in
        b.withUnsafeBufferPointer { pb in
            c.withUnsafeMutableBufferPointer { pc in
                guard let pa = pa.baseAddress, let pb = pb.baseAddress, let pc = pc.baseAddress else { return }
                repeat {
                    BLAS.sgemm(m: m, n: n, k: k, a: pa, lda: k, b: pb, ldb: n, c: pc, ldc: n)
                    runs += 1
                } while Date().timeIntervalSince(start) < seconds
            }
        }
    }
    return 2 * Double(m * n * k) * Double(runs) / Date().timeIntervalSince(start) / 1e9
}

/// One JSON line on standard output (sorted keys, the form Scripts/bench-*.sh read).
func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

/// A timm ViT from a hub directory, or with random weights for an architecture name.
func benchViT(model: String?, architecture: String) throws -> TimmViT {
    if let model { return try TimmViT(directory: URL(fileURLWithPath: model)) }
    return try TimmViT(config: try TimmViTConfig(architecture: architecture), weights: .random(seed: 0x5EED))
}
