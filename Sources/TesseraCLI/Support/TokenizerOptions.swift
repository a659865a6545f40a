import ArgumentParser
import Foundation
import Tessera

/// Options shared by the commands that load a tokenizer (`encode`, `decode`, `roundtrip`).
struct TokenizerOptions: ParsableArguments {
    @Option(help: "Tokenizer model directory (see `tessera models`). Default: the bundled demo model.")
    var model: String?
    @Option(help: "Images per forward pass.")
    var batch: Int = 8
    @Option(
        help: "Variable-length models: use only the first K tokens (roundtrip: several budgets, e.g. 1,4,16,64,256).")
    var tokens: IntegerList?
    @Option(help: "Stochastic encoders (VAE): sample the posterior with this seed instead of taking its mode.")
    var sampleSeed: UInt64?
    @Option(
        help: "Decoders that need conditioning (TA-TiTok): text embeddings as .npy or .safetensors (tensor 'text').")
    var text: String?
    @Flag(help: "Round reconstructions to 8 bits instead of truncating (the original truncates).")
    var round = false
    @Option(help: "Sampling decoders (FlexTok): Euler steps of the rectified flow (default 20).")
    var steps: Int?
    @Option(help: "Sampling decoders: guidance scale (default 7.5; 1 skips the unconditional pass).")
    var guidance: Float?
    @Option(help: "Sampling decoders: apg (adaptive projected guidance, the default) or cfg.")
    var guidanceMode: GuidanceMode?
    @Option(
        help: "Sampling decoders: seed of the initial noise (default 0); a token set gets the same noise in any batch.")
    var seed: UInt64?
    @Option(
        help: ArgumentHelp(
            "Sampling decoders: the initial noise, float32 .npy [N, C, H/8, W/8]; record i starts from noise[i].",
            valueName: "noise.npy"))
    var noise: String?
    @Option(
        help: ArgumentHelp(
            "LM tokenizers (Chameleon, Janus): reproduce the original code (default) or transformers' port "
                + "where they differ (Chameleon's preprocessing, Janus' code search).",
            valueName: "original|transformers"))
    var behaveAs: ReferenceBehaviour = .original

    func validate() throws {
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
        if let steps, !(1...1000).contains(steps) { throw ValidationError("--steps must be in 1...1000") }
        if let guidance, !guidance.isFinite { throw ValidationError("--guidance must be a finite number") }
    }

    /// The one `--tokens` value of commands that take one.
    func singleTokenLimit(_ command: String) throws -> Int? {
        guard let values = tokens?.values else { return nil }
        guard values.count == 1 else {
            throw ValidationError("--tokens: \(command) takes one budget (roundtrip takes several)")
        }
        return values[0]
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

    /// Loads the tokenizer through the registry and checks the options against it (`command`
    /// names the command in errors; roundtrip may take several `--tokens` budgets).
    func load(_ command: String = "encode") throws -> Loaded {
        let tokenizer = try TokenizerRegistry.load(try modelDirectory(), behaviour: behaveAs)
        let d = tokenizer.descriptor
        do {
            for tokens in self.tokens?.values ?? [] { try d.checkTokenBudget(tokens) }
            try d.checkSamplingOptions(
                given: [
                    ("--steps", steps != nil), ("--guidance", guidance != nil),
                    ("--guidance-mode", guidanceMode != nil), ("--seed", seed != nil), ("--noise", noise != nil),
                ].filter(\.1).map(\.0))
        } catch let e as TokenizerError {
            throw ValidationError(e.reason.hasPrefix("tokens") ? "--" + e.reason : e.reason)
        }
        let limit = command == "roundtrip" ? nil : try singleTokenLimit(command)
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
            encode: EncodeOptions(tokenLimit: limit, batchSize: batch, seed: sampleSeed),
            decode: DecodeOptions(
                tokenLimit: limit, batchSize: batch, seed: seed, steps: steps, guidanceScale: guidance,
                guidanceMode: guidanceMode, conditioning: conditioning, rounding: round ? .nearest : .truncate))
    }

    /// The `--noise` file as one `[C, h, w]` tensor per record, checked against the model and the
    /// number of records.
    func noiseTensors(for descriptor: TokenizerDescriptor, records: Int) throws -> [Tensor]? {
        guard let noise else { return nil }
        guard let shape = descriptor.noiseShape else {
            throw ValidationError("--noise: \(descriptor.modelID) does not sample")
        }
        let array: NPYArray
        do { array = try NPYArray(contentsOf: URL(fileURLWithPath: noise)) } catch {
            throw InputError("--noise \(noise): \(error)")
        }
        let tensor = array.tensor()
        guard tensor.rank == 4, Array(tensor.shape.dropFirst()) == shape, tensor.shape[0] == records else {
            throw ValidationError(
                "--noise \(noise) holds \(tensor.shape); \(descriptor.modelID) needs [\(records), "
                    + shape.map(String.init).joined(separator: ", ") + "] (one noise per record, in file order)")
        }
        return (0..<records).map { tensor.slice(axis: 0, $0..<($0 + 1)).reshaped(shape) }
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
