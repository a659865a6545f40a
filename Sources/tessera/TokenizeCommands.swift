import ArgumentParser
import Foundation
import Tessera

extension TokenFileFormat: ExpressibleByArgument {}

/// Options shared by the commands that load a tokenizer.
struct TokenizerOptions: ParsableArguments {
    @Option(help: "Tokenizer model directory (config.json + model.safetensors). Default: the bundled demo model.")
    var model: String?
    @Option(help: "Images per forward pass.")
    var batch: Int = 8
    @Option(help: "Variable-length models: use only the first K tokens.")
    var tokens: Int?
    @Option(help: "VAE models: sample the posterior with this seed instead of taking its mean.")
    var sampleSeed: UInt64?
    @Option(help: "TA-TiTok: text embeddings [77, 768] as .npy or .safetensors (tensor 'text').")
    var text: String?
    @Flag(help: "Round reconstructions to 8 bits instead of truncating (the original truncates).")
    var round = false

    func load() throws -> TiTok {
        let dir = try model.map { URL(fileURLWithPath: $0) } ?? locateAssets(nil).appendingPathComponent("models/titok-demo")
        guard var tokenizer = try Tokenizer.load(dir) as? TiTok else { throw ValidationError("\(dir.path) is not a TiTok-family model") }
        tokenizer.batchSize = max(1, batch)
        tokenizer.sampleSeed = sampleSeed
        tokenizer.roundOutput = round
        if let tokens {
            guard tokens >= 1 && tokens <= tokenizer.tokenCount else {
                throw ValidationError("--tokens must be in 1...\(tokenizer.tokenCount) for \(tokenizer.modelID)")
            }
            tokenizer.decodeTokenLimit = tokens
        }
        if let text {
            let url = URL(fileURLWithPath: text)
            let tensor = url.pathExtension == "npy" ? try NPYArray(contentsOf: url).tensor() : try SafeTensorsFile(url: url).tensor("text")
            guard let ctx = tokenizer.config.textContext, tensor.count == ctx.length * ctx.dim else {
                throw ValidationError("--text must hold \(tokenizer.config.textContext.map { "\($0.length)×\($0.dim)" } ?? "no") embeddings for this model")
            }
            tokenizer.textGuidance = tensor.reshaped([ctx.length, ctx.dim])
        }
        return tokenizer
    }
}

/// Decodes images and video frames from inputs, calling `body` with batches of
/// (source, timestamp, image); failures go to `failures`.
func forEachInputImage(_ inputs: [URL], sampling: SamplingOptions, batch: Int, failures: inout FailureLog,
                       _ body: ([(String, Double?, Image)]) throws -> Void) throws {
    var pending: [(String, Double?, Image)] = []
    func flush() throws { if !pending.isEmpty { try body(pending); pending.removeAll() } }
    for url in inputs {
        do {
            if Media.isImage(url) {
                pending.append((url.path, nil, try Image(contentsOf: url)))
            } else {
                var frames = try VideoReader(url: url).frames(sampling.sampling, from: sampling.start, to: sampling.end)
                while let frame = try frames.next() {
                    pending.append((url.path, frame.timestamp, frame.image))
                    if pending.count >= batch { try flush() }
                }
            }
        } catch let e as MediaError {
            failures.record(e, input: url.path)
        }
        if pending.count >= batch { try flush() }
    }
    try flush()
}

struct Decode: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Reconstruct images from a token file, as PNG.")

    @OptionGroup var tokenizer: TokenizerOptions
    @Argument(help: "Token file (.jsonl, .npy or .safetensors).")
    var tokenFile: String
    @Option(name: .shortAndLong, help: "Output folder.")
    var output: String

    func run() throws {
        let model = try tokenizer.load()
        let records = try TokenFile.read(URL(fileURLWithPath: tokenFile))
        let out = try makeOutputDirectory(output)
        if let other = records.first(where: { !$0.tokens.model.isEmpty && $0.tokens.model != model.modelID }) {
            FileHandle.standardError.write(Data("warning: tokens were made by \(other.tokens.model), decoding with \(model.modelID)\n".utf8))
        }
        var used = Set<String>()
        for start in stride(from: 0, to: records.count, by: model.batchSize) {
            let chunk = Array(records[start..<min(records.count, start + model.batchSize)])
            let images = try model.decode(chunk.map(\.tokens))
            for (i, (record, image)) in zip(chunk, images).enumerated() {
                var name = URL(fileURLWithPath: record.source.isEmpty ? "tokens" : record.source).deletingPathExtension().lastPathComponent
                if let t = record.frameTimestamp { name += String(format: "_%.3fs", t) }
                if used.contains(name) { name += "_\(start + i)" }
                used.insert(name)
                try image.writePNG(to: out.appendingPathComponent(name + ".png"))
            }
        }
        print("decoded \(records.count) image(s) to \(out.path)")
    }
}

struct Roundtrip: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Encode and decode images; write original|reconstruction PNGs and print PSNR and SSIM.")

    @OptionGroup var tokenizer: TokenizerOptions
    @Argument(help: "Images or folders.")
    var inputs: [String]
    @Option(name: .shortAndLong, help: "Output folder.")
    var output: String

    func run() throws {
        let model = try tokenizer.load()
        let out = try makeOutputDirectory(output)
        var failures = FailureLog()
        var psnrs: [Double] = [], ssims: [Double] = []
        let noVideo = try SamplingOptions.parse([])
        try forEachInputImage(try Media.expand(inputs).filter(Media.isImage), sampling: noVideo, batch: model.batchSize, failures: &failures) { batch in
            var tokens = try model.encode(batch.map(\.2))
            if let k = tokenizer.tokens { tokens = tokens.map { $0.prefix(k) } }
            let reconstructions = try model.decode(tokens)
            for (item, rec) in zip(batch, reconstructions) {
                let original = model.preprocessing.image(item.2).rgb()
                let (p, s) = (ImageQuality.psnr(original, rec), ImageQuality.ssim(original, rec))
                psnrs.append(p)
                ssims.append(s)
                let name = URL(fileURLWithPath: item.0).deletingPathExtension().lastPathComponent + "_roundtrip.png"
                try ImageQuality.sideBySide(original, rec).writePNG(to: out.appendingPathComponent(name))
                print(String(format: "%@: %d tokens  PSNR %.2f dB  SSIM %.4f  -> %@", URL(fileURLWithPath: item.0).lastPathComponent,
                             tokens[0].count, p, s, name))
            }
        }
        if !psnrs.isEmpty {
            print(String(format: "mean over %d image(s): PSNR %.2f dB  SSIM %.4f", psnrs.count,
                         psnrs.reduce(0, +) / Double(psnrs.count), ssims.reduce(0, +) / Double(ssims.count)))
        }
        try failures.finish()
    }
}

struct Models: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the model families and published checkpoints Tessera loads.")

    func run() {
        for m in Tokenizer.knownModels {
            print("\(m.family) — \(m.notes)")
            for r in m.repositories { print("    \(r)") }
        }
        print("Vision towers (tessera features): timm vit_{tiny,small,base,large}_patch{14,16,32}_{224,384} hub directories")
        print("\nDownload a checkpoint directory, e.g.:  huggingface-cli download yucornetto/tokenizer_titok_s128_imagenet --local-dir titok-s128")
    }
}

