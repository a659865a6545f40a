import ArgumentParser
import Foundation
import Tessera

/// Options shared by the commands that load a tokenizer (`encode`, `decode`, `roundtrip`).
struct TokenizerOptions: ParsableArguments {
    @Option(help: "Tokenizer model directory (see `tessera models`). Default: the bundled demo model.")
    var model: String?
    @Option(help: "Images per forward pass.")
    var batch: Int = 8
    @Option(help: "Variable-length models: use only the first K tokens.")
    var tokens: Int?
    @Option(help: "Stochastic encoders (VAE): sample the posterior with this seed instead of taking its mode.")
    var sampleSeed: UInt64?
    @Option(
        help: "Decoders that need conditioning (TA-TiTok): text embeddings as .npy or .safetensors (tensor 'text').")
    var text: String?
    @Flag(help: "Round reconstructions to 8 bits instead of truncating (the original truncates).")
    var round = false

    func validate() throws {
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
    }

    /// A tokenizer with the options of this command line.
    struct Loaded {
        var tokenizer: any ImageTokenizer
        var encode: EncodeOptions
        var decode: DecodeOptions
        var descriptor: TokenizerDescriptor { tokenizer.descriptor }
    }

    /// The model directory: `--model`, or the bundled demo model.
    func modelDirectory() throws -> URL {
        try model.map { URL(fileURLWithPath: $0) } ?? locateAssets(nil).appendingPathComponent("models/titok-demo")
    }

    /// Loads the tokenizer through the registry and checks the options against it.
    func load() throws -> Loaded {
        let tokenizer = try TokenizerRegistry.load(try modelDirectory())
        let d = tokenizer.descriptor
        if let tokens {
            guard d.variableLength else {
                throw ValidationError(
                    "--tokens: \(d.modelID) decodes whole token sets only (it is not variable-length)")
            }
            guard tokens >= 1 && tokens <= d.positions else {
                throw ValidationError("--tokens must be in 1...\(d.positions) for \(d.modelID)")
            }
        }
        var conditioning: Tensor? = nil
        if let text {
            guard let shape = d.conditioning else {
                throw ValidationError("--text: \(d.modelID) takes no conditioning")
            }
            let url = URL(fileURLWithPath: text)
            let tensor =
                url.pathExtension == "npy"
                ? try NPYArray(contentsOf: url).tensor()
                : try SafeTensorsFile(url: url).tensor("text")
            guard tensor.count == shape.reduce(1, *) else {
                throw ValidationError(
                    "--text must hold \(shape.map(String.init).joined(separator: "×")) embeddings "
                        + "for \(d.modelID), \(text) holds \(tensor.shape)")
            }
            conditioning = tensor.reshaped(shape)
        }
        return Loaded(
            tokenizer: tokenizer,
            encode: EncodeOptions(tokenLimit: tokens, batchSize: batch, seed: sampleSeed),
            decode: DecodeOptions(
                tokenLimit: tokens, batchSize: batch, conditioning: conditioning,
                rounding: round ? .nearest : .truncate))
    }
}

/// Decodes images and video frames from inputs, calling `body` with batches of
/// (source, timestamp, image); failures go to `failures`.
func forEachInputImage(
    _ inputs: [URL], sampling: SamplingOptions, batch: Int, failures: inout FailureLog,
    _ body: ([(String, Double?, Image)]) throws -> Void
) throws {
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
