import ArgumentParser
import Foundation
import Tessera

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure throughput. Compare with PyTorch/Pillow via Scripts/bench-*.sh.",
        subcommands: [BenchDecode.self, BenchViT.self, BenchReduce.self, BenchTiTok.self, BenchQuantize.self])
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

struct BenchViT: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vit",
        abstract: "Images/s and GFLOP/s of a timm ViT forward pass (Scripts/bench-vit.sh adds the timm comparison).")

    @Option(help: "timm hub model directory; without it, random weights for --architecture are generated.")
    var model: String?
    @Option(help: "Architecture for random weights.")
    var architecture: String = "vit_base_patch16_224"
    @Option(help: "Batch sizes to measure.")
    var batch: [Int] = [1, 8]
    @Option(help: "Seconds to measure each batch size (after one warm-up pass).")
    var seconds: Double = 8
    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    func run() throws {
        let vit: TimmViT
        if let model {
            vit = try TimmViT(directory: URL(fileURLWithPath: model))
        } else {
            let config = try TimmViTConfig(architecture: architecture)
            vit = try TimmViT(config: config, checkpoint: try randomCheckpoint(for: config))
        }
        let c = vit.config
        let n = c.gridSize * c.gridSize + c.prefixTokens
        let d = Double(c.embedDim), tokens = Double(n), hidden = Double(c.mlpHidden)
        // Multiply-adds × 2: patch embedding, per block qkv + proj + MLP + attention maps, head.
        let perBlock = 2 * tokens * (3 * d * d + d * d + 2 * d * hidden) + 4 * tokens * tokens * d
        let flops = 2 * Double(c.gridSize * c.gridSize) * 3 * Double(c.patchSize * c.patchSize) * d
            + Double(c.depth) * perBlock + 2 * d * Double(c.numClasses)
        var results: [[String: Any]] = []
        for b in batch {
            var rng = Xorshift(seed: UInt64(b))
            let pixels = Tensor(shape: [b, 3, c.imageSize, c.imageSize],
                                scalars: (0..<(b * 3 * c.imageSize * c.imageSize)).map { _ in Float.random(in: -1...1, using: &rng) })
            _ = vit.logits(pixels)
            var runs = 0
            let start = Date()
            repeat {
                _ = vit.logits(pixels)
                runs += 1
            } while Date().timeIntervalSince(start) < seconds
            let elapsed = Date().timeIntervalSince(start)
            let imagesPerSecond = Double(runs * b) / elapsed
            results.append(["batch": b, "images_per_s": imagesPerSecond, "gflops": imagesPerSecond * flops / 1e9,
                            "ms_per_batch": elapsed / Double(runs) * 1000])
        }
        let rss = peakResidentBytes()
        let peak = measureSGEMM(m: 1576, n: 3072, k: 768, seconds: 2)
        if json {
            let object: [String: Any] = ["architecture": c.architecture, "gflop_per_image": flops / 1e9, "results": results,
                                         "peak_rss_mb": Double(rss) / 1e6, "threads": Threading.threadCount,
                                         "sgemm_gflops": peak]
            print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
        } else {
            print(String(format: "%@: %.2f GFLOP/image, %d threads", c.architecture, flops / 1e9, Threading.threadCount))
            for r in results {
                print(String(format: "batch %2d: %7.2f images/s  %6.1f GFLOP/s  %8.1f ms/batch", r["batch"] as! Int,
                             r["images_per_s"] as! Double, r["gflops"] as! Double, r["ms_per_batch"] as! Double))
            }
            print(String(format: "peak RSS %.0f MB; SGEMM 1576x3072x768 on this machine: %.1f GFLOP/s", Double(rss) / 1e6, peak))
        }
    }
}

/// A random-weight checkpoint in timm's layout for a ViT config (written to a temporary file).
func randomCheckpoint(for c: TimmViTConfig) throws -> Checkpoint {
    let d = c.embedDim, h = c.mlpHidden
    var shapes: [(String, [Int])] = [
        ("patch_embed.proj.weight", [d, 3, c.patchSize, c.patchSize]), ("patch_embed.proj.bias", [d]),
        ("cls_token", [1, 1, d]), ("pos_embed", [1, c.gridSize * c.gridSize + 1, d]),
        ("norm.weight", [d]), ("norm.bias", [d]), ("head.weight", [c.numClasses, d]), ("head.bias", [c.numClasses]),
    ]
    for i in 0..<c.depth {
        let p = "blocks.\(i)."
        shapes += [(p + "norm1.weight", [d]), (p + "norm1.bias", [d]), (p + "attn.qkv.weight", [3 * d, d]), (p + "attn.qkv.bias", [3 * d]),
                   (p + "attn.proj.weight", [d, d]), (p + "attn.proj.bias", [d]), (p + "norm2.weight", [d]), (p + "norm2.bias", [d]),
                   (p + "mlp.fc1.weight", [h, d]), (p + "mlp.fc1.bias", [h]), (p + "mlp.fc2.weight", [d, h]), (p + "mlp.fc2.bias", [d])]
    }
    var rng = Xorshift(seed: 0x5EED)
    let tensors: [(String, SafeTensorsWriter.Payload)] = shapes.map { name, shape in
        let n = shape.reduce(1, *)
        let scale = Float(1 / Double(shape.last!).squareRoot())
        let values = name.hasSuffix("norm1.weight") || name.hasSuffix("norm2.weight") || name == "norm.weight"
            ? [Float](repeating: 1, count: n) : (0..<n).map { _ in Float.random(in: -scale...scale, using: &rng) }
        return (name, .float(Tensor(shape: shape, scalars: values)))
    }
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-bench-\(UUID()).safetensors")
    try SafeTensorsWriter.write(tensors, to: url)
    defer { try? FileManager.default.removeItem(at: url) }
    return try Checkpoint(directory: url)
}

/// Peak resident set size of this process (Linux: VmHWM).
func peakResidentBytes() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        let kb = line.split(separator: " ").compactMap { Int($0) }.first ?? 0
        return kb * 1024
    }
    return 0
}

/// A fast, seeded generator for benchmark inputs (not for cryptography).
struct Xorshift: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed | 1 }
    mutating func next() -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }
}

/// GFLOP/s of a plain SGEMM of the given shape through Tessera's BLAS path (the machine's peak
/// for the ratio in the ViT benchmark).
func measureSGEMM(m: Int, n: Int, k: Int, seconds: Double) -> Double {
    let a = [Float](repeating: 0.5, count: m * k), b = [Float](repeating: 0.25, count: k * n)
    var c = [Float](repeating: 0, count: m * n)
    var runs = 0
    let start = Date()
    a.withUnsafeBufferPointer { pa in
        b.withUnsafeBufferPointer { pb in
            c.withUnsafeMutableBufferPointer { pc in
                repeat {
                    BLAS.sgemm(m: m, n: n, k: k, a: pa.baseAddress!, lda: k, b: pb.baseAddress!, ldb: n, c: pc.baseAddress!, ldc: n)
                    runs += 1
                } while Date().timeIntervalSince(start) < seconds
            }
        }
    }
    return 2 * Double(m * n * k) * Double(runs) / Date().timeIntervalSince(start) / 1e9
}

struct BenchTiTok: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "titok",
        abstract: "Encode and decode images/s of a TiTok-family model (Scripts/bench-titok.sh adds the PyTorch comparison).")

    @Option(help: "TiTok model directory.")
    var model: String
    @Option(help: "Batch sizes to measure.")
    var batch: [Int] = [1, 8]
    @Option(help: "Minimum seconds per measurement (at least one run each).")
    var seconds: Double = 5
    @Flag(help: "Print one JSON object instead of text.")
    var json = false
    @Flag(help: "Measure encoding only (for profiling the encoder).")
    var encodeOnly = false

    func run() throws {
        let titok = try TiTok(directory: URL(fileURLWithPath: model))
        let c = titok.config
        let s = c.imageSize
        var results: [[String: Any]] = []
        for b in batch {
            var rng = Xorshift(seed: UInt64(b))
            let pixels = Tensor(shape: [b, 3, s, s], scalars: (0..<(b * 3 * s * s)).map { _ in Float.random(in: 0...1, using: &rng) })
            func time(_ body: () -> Void) -> Double {
                body()   // warm-up
                var runs = 0
                let start = Date()
                repeat { body(); runs += 1 } while Date().timeIntervalSince(start) < seconds
                return Date().timeIntervalSince(start) / Double(runs)
            }
            var latents = titok.encodeLatents(pixels)
            let encode = time {
                latents = titok.encodeLatents(pixels)
                if !c.isVAE { _ = titok.quantize(latents) }
            }
            var result: [String: Any] = ["batch": b, "encode_ms": encode * 1000, "encode_images_per_s": Double(b) / encode]
            if !encodeOnly {
                let z: Tensor = c.isVAE ? DiagonalGaussian(parameters: latents, axis: 1).mean : try titok.lookup(titok.quantize(latents))
                let decode = time { _ = titok.decodeLatents(z) }
                result["decode_ms"] = decode * 1000
                result["decode_images_per_s"] = Double(b) / decode
            }
            results.append(result)
        }
        if json {
            let object: [String: Any] = ["model": titok.modelID, "results": results, "threads": Threading.threadCount, "blas": BLAS.backend,
                                         "peak_rss_mb": Double(peakResidentBytes()) / 1e6]
            print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
        } else {
            print("\(titok.modelID), \(Threading.threadCount) threads, \(BLAS.backend)")
            for r in results {
                var line = String(format: "batch %d: encode %.1f ms/batch (%.2f img/s)", r["batch"] as! Int,
                                  r["encode_ms"] as! Double, r["encode_images_per_s"] as! Double)
                if let ms = r["decode_ms"] as? Double, let rate = r["decode_images_per_s"] as? Double {
                    line += String(format: ", decode %.1f ms/batch (%.2f img/s)", ms, rate)
                }
                print(line)
            }
        }
    }
}

struct BenchQuantize: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quantize",
        abstract: "Vectors/s of nearest-codeword search and FSQ/LFQ encode (Scripts/bench-quantize.sh adds vector-quantize-pytorch).")

    @Option(help: "Vectors to quantize.")
    var vectors: Int = 65536
    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    func run() throws {
        var rng = Xorshift(seed: 7)
        func random(_ shape: [Int]) -> Tensor {
            Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in Float.random(in: -1...1, using: &rng) })
        }
        func time(_ body: () throws -> Void) rethrows -> Double {
            let start = Date()
            try body()
            return Date().timeIntervalSince(start)
        }
        var results: [String: Double] = [:]
        for (k, d) in [(16384, 256), (262144, 8)] {
            let x = random([vectors, d]), book = random([k, d])
            let vq = VectorQuantizer(codebook: book, metric: .euclidean(clampMin: 1e-8))
            results["vq_\(k)x\(d)"] = Double(vectors) / time { _ = vq.encode(x) }
        }
        let fsq = try FSQ(levels: [8, 8, 8, 5, 5, 5])
        let xf = random([vectors, 6])
        results["fsq_888555"] = Double(vectors) / (try time { _ = try fsq.encode(xf) })
        let lfq = try LFQ(dimension: 16)
        let xl = random([vectors, 16])
        results["lfq_16"] = Double(vectors) / (try time { _ = try lfq.encode(xl) })
        results["peak_rss_mb"] = Double(peakResidentBytes()) / 1e6
        if json {
            print(String(decoding: try JSONSerialization.data(withJSONObject: results, options: [.sortedKeys]), as: UTF8.self))
        } else {
            for (name, value) in results.sorted(by: { $0.key < $1.key }) { print(String(format: "%-16@ %14.0f", name, value)) }
        }
    }
}

struct BenchReduce: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reduce",
        abstract: "ToMe throughput on a timm ViT, and the cost of every pruning method next to a vision tower's forward pass (Scripts/bench-reduce.sh adds PyTorch + ToMe).",
        discussion: """
        1. ViT images/s without merging and with ToMe inside the forward pass (constant --r, proportional \
        attention), same weights and inputs, measured in three interleaved rounds. 2. For each token count in --tokens (width --width, random \
        features, attention rows and keys), the milliseconds of each reduction method, against the forward \
        time of a --tower-architecture tower (random weights) over the views those tokens come from \
        (576 tokens: one 336-px view of ViT-L/14; 2880: five, as LLaVA-NeXT's anyres).
        """)

    @Option(help: "timm hub model directory; without it, random weights for --architecture are generated.")
    var model: String?
    @Option(help: "Architecture for random weights.")
    var architecture: String = "vit_base_patch16_224"
    @Option(help: "ToMe r per block.")
    var r: Int = 13
    @Option(help: "Batch sizes for the ToMe throughput.")
    var batch: [Int] = [1, 8]
    @Option(help: "Seconds per throughput measurement (after one warm-up pass).")
    var seconds: Double = 6
    @Option(help: "Token counts for the pruning costs.")
    var tokens: [Int] = [576, 2880]
    @Option(help: "Feature width for the pruning costs.")
    var width: Int = 1024
    @Option(help: "Tower whose forward time the pruning costs are compared with (timm name; ViT-L/14 at 336 px has CLIP-L/14-336's shape).")
    var towerArchitecture: String = "vit_large_patch14_336"
    @Flag(help: "Skip the ViT throughput part.")
    var skipThroughput = false
    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    func time(minimum: Double, _ body: () throws -> Void) rethrows -> Double {
        try body()
        var runs = 0
        let start = Date()
        repeat { try body(); runs += 1 } while Date().timeIntervalSince(start) < minimum
        return Date().timeIntervalSince(start) / Double(runs) * 1000
    }

    func run() throws {
        var object: [String: Any] = ["threads": Threading.threadCount, "r": r]
        if !skipThroughput {
            let vit: TimmViT
            if let model {
                vit = try TimmViT(directory: URL(fileURLWithPath: model))
            } else {
                let config = try TimmViTConfig(architecture: architecture)
                vit = try TimmViT(config: config, checkpoint: try randomCheckpoint(for: config))
            }
            let c = vit.config
            let merging = TokenMerging(r: r, layers: c.depth)
            var results: [[String: Any]] = []
            for b in batch {
                var rng = Xorshift(seed: UInt64(b))
                let pixels = Tensor(shape: [b, 3, c.imageSize, c.imageSize],
                                    scalars: (0..<(b * 3 * c.imageSize * c.imageSize)).map { _ in Float.random(in: -1...1, using: &rng) })
                // interleaved rounds, so load from other processes hits both alike
                var plain = 0.0, merged = 0.0
                for _ in 0..<3 {
                    plain += time(minimum: seconds / 3) { _ = vit.logits(pixels) } / 3
                    merged += time(minimum: seconds / 3) { _ = vit.logits(features: vit.featuresMerging(pixels, merging: merging).tokens) } / 3
                }
                let final = vit.featuresMerging(pixels, merging: merging).tokens.shape[1]
                results.append(["batch": b, "images_per_s": Double(b) / plain * 1000, "tome_images_per_s": Double(b) / merged * 1000,
                                "tokens_out": final])
                if !json {
                    print(String(format: "%@ batch %2d: %7.2f images/s, ToMe r=%d %7.2f images/s (%.2fx; %d tokens at the end)",
                                 c.architecture, b, Double(b) / plain * 1000, r, Double(b) / merged * 1000, plain / merged, final))
                }
            }
            object["architecture"] = c.architecture
            object["throughput"] = results
        }
        // pruning costs
        let towerConfig = try TimmViTConfig(architecture: towerArchitecture)
        let tower = try TimmViT(config: towerConfig, checkpoint: try randomCheckpoint(for: towerConfig))
        let viewTokens = towerConfig.gridSize * towerConfig.gridSize
        var rng = Xorshift(seed: 7)
        let towerPixels = Tensor(shape: [1, 3, towerConfig.imageSize, towerConfig.imageSize],
                                 scalars: (0..<(3 * towerConfig.imageSize * towerConfig.imageSize)).map { _ in Float.random(in: -1...1, using: &rng) })
        let towerMs = time(minimum: 0) { _ = tower.forward(towerPixels) }
        if !json { print(String(format: "%@ forward (1 view, %d tokens): %.0f ms", towerArchitecture, viewTokens + 1, towerMs)) }
        var costs: [[String: Any]] = []
        for n in tokens {
            let views = max(1, n / viewTokens), c = width, heads = 16
            let forward = towerMs * Double(views)
            func random(_ shape: [Int]) -> Tensor {
                Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in Float.random(in: -1...1, using: &rng) })
            }
            func softmaxRows(_ rows: Int, _ cols: Int) -> Tensor {
                var t = random([rows, cols])
                for i in 0..<rows {
                    let row = (0..<cols).map { Foundation.exp(3 * t.scalars[i * cols + $0]) }
                    let sum = row.reduce(0, +)
                    for j in 0..<cols { t.scalars[i * cols + j] = row[j] / sum }
                }
                return t
            }
            let features = random([n, c]), withCLS = random([n + 1, c])
            let clsAttention = softmaxRows(heads, n + 1)
            let keys = random([n + 1, c / heads]), fullKeys = random([n, c]), queries = random([n + 1, c])
            let scoresA = (0..<n).map { _ in Float.random(in: 0...1, using: &rng) }, scoresB = (0..<n).map { _ in Float.random(in: 0...1, using: &rng) }
            let keep = n * 64 / 576                              // LLaVA budgets: 64 of 576
            let side = Int(Double(n / views).squareRoot())
            let attention = try PruMerge.clsAttention(queries: queries, keys: queries)
            let sublayer = (random([n + 1, c]), random([n + 1, c]), random([n + 1, c]), random([n + 1, c]))
            let tileScores = (0..<4).map { _ in (0..<viewTokens).map { _ in Float.random(in: 0...1, using: &rng) } }
            var methods: [(String, () throws -> Void)] = [
                ("uniform", { _ = TokenPruning.uniform(n: n, k: keep) }),
                ("random", { _ = TokenPruning.random(n: n, k: keep, seed: 1) }),
                ("divprune", { _ = TokenPruning.divPrune(features, k: keep) }),
                ("fastv", { _ = TokenPruning.fastV(attention: scoresA, image: 0..<n, ratio: 0.5) }),
                ("hiprune", { _ = TokenPruning.hiPrune(objectScores: scoresA, deepScores: scoresB, gridWidth: side, budget: keep,
                                                        anchorCount: max(1, Int((Double(keep) * 0.1 / 5).rounded()))) }),
                ("visionzip", { _ = VisionZip.reduce(clsAttention: clsAttention, hidden: withCLS, keys: keys, dominant: keep * 54 / 64 + 1,
                                                      contextual: keep - keep * 54 / 64) }),
                ("prumerge", { _ = try PruMerge.reduce(features: features, keys: fullKeys, attention: attention, keep: nil) }),
                ("prumerge+", { _ = try PruMerge.reduce(features: features, keys: fullKeys, attention: attention,
                                                        variant: .pruMergePlus, keep: nil) }),
                ("transprune", {
                    var a = TransPrune.Accumulator(tokens: n + 1)
                    try a.add(attentionInput: sublayer.0, attentionOutput: sublayer.1, mlpInput: sublayer.2, mlpOutput: sublayer.3)
                    _ = try TransPrune.select(variation: Array(a.variation.dropFirst()), keep: keep)
                }),
                ("tome (r = N/2, keys)", { _ = BipartiteMatching(metric: keys, r: n / 2, classToken: true).mergeWeighted(withCLS) }),
            ]
            if views == 5 {
                methods.append(("hired (4 tiles)", {
                    _ = try HiRED.select(fullEarly: tileScores[0], fullLate: tileScores[1], tilesLate: tileScores,
                                         gridWidth: Int(Double(viewTokens).squareRoot()), tileRows: 2, tileColumns: 2)
                }))
            } else {
                methods.append(("hired (1 view)", { _ = TokenPruning.topK(scoresA, k: keep) }))
            }
            var rows: [[String: Any]] = []
            if !json { print(String(format: "N = %d tokens, width %d, keep %d; tower forward %.0f ms (%d view(s))", n, c, keep, forward, views)) }
            for (name, body) in methods {
                let ms = try time(minimum: 0.5, body)
                rows.append(["method": name, "ms": ms, "percent_of_forward": 100 * ms / forward])
                if !json { print("  " + name.padding(toLength: 22, withPad: " ", startingAt: 0) + String(format: " %9.3f ms  %6.2f%% of the forward", ms, 100 * ms / forward)) }
            }
            costs.append(["tokens": n, "views": views, "forward_ms": forward, "keep": keep, "methods": rows])
        }
        object["tower"] = towerArchitecture
        object["tower_ms"] = towerMs
        object["costs"] = costs
        if json { print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)) }
    }
}
