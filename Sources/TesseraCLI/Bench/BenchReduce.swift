import ArgumentParser
import Foundation
import Tessera

struct BenchReduce: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reduce",
        abstract:
            "ToMe throughput on a timm ViT, and the cost of every pruning method next to a vision tower's forward "
            + "pass (Scripts/bench-reduce.sh adds PyTorch + ToMe).",
        discussion: """
            1. ViT images/s without merging and with ToMe inside the forward pass (constant --r, proportional \
            attention), same weights and inputs, measured in three interleaved rounds. 2. For each token count in \
            --tokens (width --width, random features, attention rows and keys), the milliseconds of each reduction \
            method, against the forward time of a --tower-architecture tower (random weights) over the views those \
            tokens come from (576 tokens: one 336-px view of ViT-L/14; 2880: five, as LLaVA-NeXT's anyres).
            """)

    @Option(help: "timm hub model directory; without it, random weights for --architecture.")
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
    @Option(
        help: ArgumentHelp(
            "Tower whose forward time the pruning costs are compared with (timm name; ViT-L/14 at "
                + "336 px has CLIP-L/14-336's shape)."))
    var towerArchitecture: String = "vit_large_patch14_336"
    @Flag(help: "Skip the ViT throughput part.")
    var skipThroughput = false
    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    struct Throughput: Encodable {
        var batch: Int
        var images_per_s: Double
        var tome_images_per_s: Double
        var tokens_out: Int
    }

    struct MethodCost: Encodable {
        var method: String
        var ms: Double
        var percent_of_forward: Double
    }

    struct Costs: Encodable {
        var tokens: Int
        var views: Int
        var forward_ms: Double
        var keep: Int
        var methods: [MethodCost]
    }

    struct Report: Encodable {
        var threads: Int
        var r: Int
        var architecture: String?
        var throughput: [Throughput]?
        var tower: String
        var tower_ms: Double
        var costs: [Costs]
    }

    func milliseconds(minimum: Double, _ body: () throws -> Void) rethrows -> Double {
        try Stopwatch.seconds(minimum: minimum, body) * 1000
    }

    func run() throws {
        var report = Report(threads: Threading.threadCount, r: r, tower: towerArchitecture, tower_ms: 0, costs: [])
        if !skipThroughput {
            let vit = try benchViT(model: model, architecture: architecture)
            let c = vit.config
            let merging = TokenMerging(r: r, layers: c.depth)
            func merged(_ pixels: Tensor) -> VisionEncoderOutput {
                var tome = ToMeRunner(merging: merging, classToken: c.classToken)
                return vit.forward(pixels, runner: &tome)
            }
            var results: [Throughput] = []
            for b in batch {
                let pixels = benchInput([b, 3, c.imageSize, c.imageSize], seed: UInt64(b))
                // interleaved rounds, so load from other processes hits both alike
                var plain = 0.0, tome = 0.0
                for _ in 0..<3 {
                    plain += milliseconds(minimum: seconds / 3) { _ = vit.logits(pixels) } / 3
                    tome += milliseconds(minimum: seconds / 3) { _ = vit.logits(merged(pixels)) } / 3
                }
                let final = merged(pixels).lastHiddenState.shape[1]
                results.append(
                    Throughput(
                        batch: b, images_per_s: Double(b) / plain * 1000,
                        tome_images_per_s: Double(b) / tome * 1000, tokens_out: final))
                if !json {
                    print(
                        String(
                            format:
                                "%@ batch %2d: %7.2f images/s, ToMe r=%d %7.2f images/s (%.2fx; %d tokens at the end)",
                            c.architecture, b, Double(b) / plain * 1000, r, Double(b) / tome * 1000, plain / tome, final
                        ))
                }
            }
            report.architecture = c.architecture
            report.throughput = results
        }
        try measureCosts(&report)
        if json { try printJSON(report) }
    }

    /// Every pruning method's cost on random inputs of LLaVA's sizes, next to the tower's forward time.
    func measureCosts(_ report: inout Report) throws {
        let towerConfig = try TimmViTConfig(architecture: towerArchitecture)
        let tower = try TimmViT(config: towerConfig, weights: .random(seed: 0x5EED))
        let viewTokens = towerConfig.gridSize * towerConfig.gridSize
        let towerPixels = benchInput([1, 3, towerConfig.imageSize, towerConfig.imageSize], seed: 7)
        let towerMs = milliseconds(minimum: 0) { _ = tower.forward(towerPixels) }
        report.tower_ms = towerMs
        if !json {
            print(String(format: "%@ forward (1 view, %d tokens): %.0f ms", towerArchitecture, viewTokens + 1, towerMs))
        }
        var random = SeededRandom(seed: 11)
        for n in tokens {
            let views = max(1, n / viewTokens), c = width, heads = 16
            let forward = towerMs * Double(views)
            func input(_ shape: [Int]) -> Tensor { random.uniformTensor(shape) }
            func scores(_ count: Int) -> [Float] { (0..<count).map { _ in Float(random.uniform()) } }
            func softmaxRows(_ rows: Int, _ cols: Int) -> Tensor { (input([rows, cols]) * 3).softmax() }
            let features = input([n, c]), withCLS = input([n + 1, c])
            let clsAttention = softmaxRows(heads, n + 1)
            let keys = input([n + 1, c / heads]), fullKeys = input([n, c]), queries = input([n + 1, c])
            let scoresA = scores(n), scoresB = scores(n)
            let keep = n * 64 / 576  // LLaVA budgets: 64 of 576
            let side = Int(Double(n / views).squareRoot())
            let attention = try PruMerge.clsAttention(queries: queries, keys: queries)
            let sublayer = (input([n + 1, c]), input([n + 1, c]), input([n + 1, c]), input([n + 1, c]))
            let tileScores = (0..<4).map { _ in scores(viewTokens) }
            var methods: [(String, () throws -> Void)] = [
                ("uniform", { _ = TokenPruning.uniform(n: n, k: keep) }),
                ("random", { _ = TokenPruning.random(n: n, k: keep, seed: 1) }),
                ("divprune", { _ = TokenPruning.divPrune(features, k: keep) }),
                ("fastv", { _ = TokenPruning.fastV(attention: scoresA, image: 0..<n, ratio: 0.5) }),
                (
                    "hiprune",
                    {
                        _ = TokenPruning.hiPrune(
                            objectScores: scoresA, deepScores: scoresB, gridWidth: side, budget: keep,
                            anchorCount: max(1, Int((Double(keep) * 0.1 / 5).rounded())))
                    }
                ),
                (
                    "visionzip",
                    {
                        _ = VisionZip.reduce(
                            clsAttention: clsAttention, hidden: withCLS, keys: keys, dominant: keep * 54 / 64 + 1,
                            contextual: keep - keep * 54 / 64)
                    }
                ),
                (
                    "prumerge",
                    { _ = try PruMerge.reduce(features: features, keys: fullKeys, attention: attention, keep: nil) }
                ),
                (
                    "prumerge+",
                    {
                        _ = try PruMerge.reduce(
                            features: features, keys: fullKeys, attention: attention, variant: .pruMergePlus,
                            keep: nil)
                    }
                ),
                (
                    "transprune",
                    {
                        var a = TransPrune.Accumulator(tokens: n + 1)
                        try a.add(
                            attentionInput: sublayer.0, attentionOutput: sublayer.1, mlpInput: sublayer.2,
                            mlpOutput: sublayer.3)
                        _ = try TransPrune.select(variation: Array(a.variation.dropFirst()), keep: keep)
                    }
                ),
                (
                    "tome (r = N/2, keys)",
                    { _ = BipartiteMatching(metric: keys, r: n / 2, classToken: true).mergeWeighted(withCLS) }
                ),
            ]
            if views == 5 {
                methods.append(
                    (
                        "hired (4 tiles)",
                        {
                            _ = try HiRED.select(
                                fullEarly: tileScores[0], fullLate: tileScores[1], tilesLate: tileScores,
                                gridWidth: Int(Double(viewTokens).squareRoot()), tileRows: 2, tileColumns: 2)
                        }
                    ))
            } else {
                methods.append(("hired (1 view)", { _ = TokenPruning.topK(scoresA, k: keep) }))
            }
            if !json {
                print(
                    String(
                        format: "N = %d tokens, width %d, keep %d; tower forward %.0f ms (%d view(s))", n, c, keep,
                        forward, views))
            }
            var rows: [MethodCost] = []
            for (name, body) in methods {
                let ms = try milliseconds(minimum: 0.5, body)
                rows.append(MethodCost(method: name, ms: ms, percent_of_forward: 100 * ms / forward))
                if !json {
                    print(
                        "  " + name.padding(toLength: 22, withPad: " ", startingAt: 0)
                            + String(format: " %9.3f ms  %6.2f%% of the forward", ms, 100 * ms / forward))
                }
            }
            report.costs.append(Costs(tokens: n, views: views, forward_ms: forward, keep: keep, methods: rows))
        }
    }
}
