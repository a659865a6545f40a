import ArgumentParser
import Foundation
import Tessera

struct Quantize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Quantize latents [M, D] (.npy) into ids (.npy, int64 [M, ids per row]).",
        discussion:
            "SPEC: fsq:8,5,5,5 | fsq-sym:2,3,4 | lfq:16[,codebooks=2,scale=1] | bsq:16 | "
            + "dimwise:bits=6,range=-5:5,std=3 | vq:codebook.safetensors[,cosine][,l2] | quantizer.json "
            + "(residual_vq, grouped_residual_vq, vq with heads/projections, residual_fsq, residual_lfq, "
            + "binary, unitok; see QuantizerFile)"
    )

    @Option(help: "Quantizer description.")
    var quantizer: String
    @Argument(help: "Latents .npy ([M, D] or [..., D]).")
    var latents: String
    @Option(name: .shortAndLong, help: "Output ids .npy.")
    var output: String
    @OptionGroup var resources: ResourceOptions

    func run() throws {
        let spec = try QuantizerSpec(parsing: quantizer)
        let array = try NPYArray(contentsOf: URL(fileURLWithPath: latents))
        guard let d = array.shape.last else {
            throw InputError("\(latents): a 0-d array; quantize takes latents [M, D] (or [..., D])")
        }
        let rows = array.shape.dropLast().reduce(1, *)
        let ids = try spec.quantize(array.tensor().reshaped([rows, d]))
        let per = spec.idsPerRow(dimension: d)
        let bytes = ids.flatMap { v in withUnsafeBytes(of: Int64(v).littleEndian) { Array($0) } }
        try NPYArray(dtype: .int64, shape: Array(array.shape.dropLast()) + [per], data: bytes).write(
            to: URL(fileURLWithPath: output))
        print("\(rows) rows -> \(ids.count) ids (vocabulary \(spec.vocabularySize)) -> \(output)")
    }
}

struct Dequantize: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Turn ids (.npy) back into codes (.npy float32).")

    @Option(help: "Quantizer description (as for quantize).")
    var quantizer: String
    @Option(help: "Channels per row (needed for dimwise; others know it).")
    var dimension: Int?
    @Argument(help: "Ids .npy ([..., ids per row]).")
    var ids: String
    @Option(name: .shortAndLong, help: "Output codes .npy.")
    var output: String
    @OptionGroup var resources: ResourceOptions

    func run() throws {
        let spec = try QuantizerSpec(parsing: quantizer)
        let array = try NPYArray(contentsOf: URL(fileURLWithPath: ids))
        let values = array.floats().map { Int($0) }
        let d: Int
        switch spec {
        case .fsq(let q): d = q.dimension
        case .lfq(let q): d = q.dimension
        case .dimensionWise: d = dimension ?? (array.shape.last ?? 0)
        case .vq(let q): d = q.dimension
        case .file(let q): d = q.inputDimension
        }
        let per = spec.idsPerRow(dimension: d)
        guard per > 0, values.count % per == 0 else {
            throw InputError("\(ids): \(values.count) ids do not split into rows of \(per)")
        }
        let rows = values.count / per
        let codes = try spec.dequantize(values, rows: rows, dimension: d)
        // Output channels can differ from input channels (binary latents embed their bits).
        let width = codes.count / max(1, rows)
        let shape = Array(array.shape.dropLast()) + [width]
        try NPYArray(Tensor(shape: shape, scalars: codes.scalars)).write(to: URL(fileURLWithPath: output))
        print("\(values.count) ids -> codes \(shape) -> \(output)")
    }
}

struct TokensCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokens", abstract: "Inspect token files and map them to and from LM streams.",
        subcommands: [TokenStats.self, VocabularyCommand.self, ToLM.self, FromLM.self])
}

struct TokenStats: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Codebook usage of a token file: utilization, perplexity, dead codes, most used ids.")

    @Argument(help: "Token file (.jsonl, .npy or .safetensors).")
    var tokenFile: String
    @Option(help: "Vocabulary size (default: from the file).")
    var vocab: Int?
    @Flag(help: "Print JSON.")
    var json = false
    @OptionGroup var resources: ResourceOptions

    func run() throws {
        let records = try TokenFile.read(URL(fileURLWithPath: tokenFile))
        guard let first = records.first, !first.tokens.isContinuous else {
            throw InputError("\(tokenFile): no discrete tokens (an empty file, or continuous latents)")
        }
        guard
            let size = vocab ?? first.tokens.vocabularySizes.first
                ?? (records.flatMap(\.tokens.ids).max().map { $0 + 1 })
        else {
            throw InputError("\(tokenFile): cannot tell the vocabulary size; pass --vocab")
        }
        let usage: CodebookUsage
        do { usage = try CodebookUsage(ids: records.flatMap(\.tokens.ids), vocabularySize: size) } catch {
            throw InputError("\(tokenFile): \(error)")
        }
        let top = usage.mostUsed(10)
        if json {
            let object: [String: Any] = [
                "records": records.count, "tokens": usage.tokens, "vocabulary": size, "used": usage.used,
                "utilization": usage.utilization, "dead": usage.dead, "perplexity": usage.perplexity,
                "top": top.map { [$0.id, $0.count] },
            ]
            print(
                String(
                    decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
            )
        } else {
            print("\(records.count) records, \(usage.tokens) tokens, vocabulary \(size)")
            print(
                String(
                    format: "used %d (%.1f%%), dead %d, perplexity %.1f", usage.used, usage.utilization * 100,
                    usage.dead, usage.perplexity))
            print("most used: " + top.map { "\($0.id)×\($0.count)" }.joined(separator: " "))
        }
    }
}

struct CodebookCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "codebook", abstract: "Fit codebooks.", subcommands: [CodebookFit.self])
}

struct CodebookFit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fit",
        abstract: "k-means (k-means++ seeding, Lloyd or mini-batch) on latents [N, D] (.npy) → codebook.safetensors.")

    @Argument(help: "Latents .npy ([..., D]).")
    var latents: String
    @Option(help: "Codebook size K.")
    var size: Int
    @Option(help: "Iterations.")
    var iterations: Int = 25
    @Option(help: "Random seed.")
    var seed: UInt64 = 0
    @Option(help: "Mini-batch size (default: full batch).")
    var batch: Int?
    @Option(name: .shortAndLong, help: "Output .safetensors (tensor 'codebook' [K, D]).")
    var output: String
    @OptionGroup var resources: ResourceOptions

    func run() throws {
        let array = try NPYArray(contentsOf: URL(fileURLWithPath: latents))
        guard let d = array.shape.last else {
            throw InputError("\(latents): a 0-d array; codebook fit takes latents [M, D] (or [..., D])")
        }
        let data = array.tensor().reshaped([array.shape.dropLast().reduce(1, *), d])
        let start = Date()
        let result = try KMeans.fit(data, k: size, iterations: iterations, seed: seed, batchSize: batch)
        try SafeTensorsWriter.write(
            [("codebook", .float(result.codebook))],
            metadata: [
                "kmeans": "k=\(size) iterations=\(result.iterations) seed=\(seed) mse=\(result.meanSquaredError)"
            ],
            to: URL(fileURLWithPath: output))
        print(
            String(
                format: "%d points, K = %d, %d iterations, MSE %.6g, %.1f s -> %@", data.shape[0], size,
                result.iterations,
                result.meanSquaredError, Date().timeIntervalSince(start), output))
    }
}
