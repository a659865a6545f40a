import ArgumentParser
import Dispatch
import Foundation
import Tessera

extension ShardFormat: ExpressibleByArgument {}

struct Encode: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Tokenize images and video frames into a token file, or a folder of resumable shards.",
        discussion: """
        -o FILE (.jsonl, .npy, .safetensors) writes one token file: one record per image or frame with source, \
        frame_timestamp, model, shape, vocab, ids.
        -o FOLDER writes shards (rotated by --shard-size), manifest.jsonl (source, size, sha256, timestamp, model, \
        token count per sample), errors.jsonl, shards.jsonl (the journal --resume trusts) and run.json. --format bin \
        writes LM training shards (uint16/uint32 token streams + .idx.npy offsets + a Megatron-LM .idx) through --vocabulary (default: \
        plain ids); --format tar writes WebDataset shards. Ctrl-C finishes the current shard; Ctrl-C again stops at \
        once. Either way, --resume continues exactly where the last committed shard ended.
        """)

    @OptionGroup var tokenizer: TokenizerOptions
    @OptionGroup var sampling: SamplingOptions
    @Argument(help: "Images, videos, folders or glob patterns.")
    var inputs: [String] = []
    @Option(help: "A file listing inputs, one per line ('#' starts a comment).")
    var inputList: String?
    @Option(help: "jsonl, npy, safetensors; for folders also bin (LM shards) and tar (WebDataset). Default: from the output extension, else jsonl.")
    var format: ShardFormat?
    @Option(name: .shortAndLong, help: "Output token file, or a folder for shards.")
    var output: String
    @Option(help: "Folder output: start a new shard after about this many bytes (K, M, G suffixes).")
    var shardSize: String = "256M"
    @Option(help: "Folder output: …or after this many samples.")
    var shardSamples: Int?
    @Option(help: "Folder output: visual vocabulary JSON mapping ids into an LM vocabulary (see `tessera tokens vocabulary`).")
    var vocabulary: String?
    @Flag(help: "bin output: one LM sample per video, its frames joined by the vocabulary's frame_separator.")
    var videoSequences = false
    @Flag(help: "Folder output: continue an interrupted run in the same folder.")
    var resume = false
    @Option(help: "Split the inputs over several workers: this worker's index…")
    var shardIndex: Int = 0
    @Option(help: "…out of this many (each takes every n-th input; files get a w<index>- prefix).")
    var numShards: Int = 1

    func validate() throws {
        guard numShards >= 1, (0..<numShards).contains(shardIndex) else { throw ValidationError("--shard-index must be in 0..<--num-shards") }
        guard !inputs.isEmpty || inputList != nil else { throw ValidationError("give inputs or --input-list") }
        _ = try parseByteSize(shardSize)
    }

    var isFolderOutput: Bool {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: output, isDirectory: &isDirectory) { return isDirectory.boolValue }
        return output.hasSuffix("/") || TokenFileFormat(path: output) == nil
    }

    func run() throws {
        let model = try tokenizer.load()
        var paths = inputs
        if let inputList {
            guard let text = try? String(contentsOfFile: inputList, encoding: .utf8) else { throw ValidationError("cannot read --input-list \(inputList)") }
            paths += text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty && !$0.hasPrefix("#") }
        }
        let all = try Media.expand(paths)
        if isFolderOutput { try runFolder(model, inputs: BatchEncoder.partition(all, index: shardIndex, count: numShards)) }
        else { try runFile(model, inputs: all) }
    }

    /// One token file, written at the end.
    func runFile(_ model: TiTok, inputs: [URL]) throws {
        let fileFormat: TokenFileFormat
        switch format {
        case .bin?, .tar?: throw ValidationError("--format \(format!.rawValue) writes shards: give -o a folder")
        case let f?: fileFormat = TokenFileFormat(rawValue: f.rawValue)!
        case nil: fileFormat = TokenFileFormat(path: output) ?? .jsonl
        }
        // the sharded run's pipeline (decoding overlaps the model), collected in memory
        let job = BatchEncoder(tokenizer: model, inputs: inputs)
        job.batchSize = model.batchSize
        job.sampling = sampling.sampling
        job.timeRange = (sampling.start, sampling.end)
        job.tokenLimit = tokenizer.tokens
        job.hashSources = false                              // a token file has no manifest
        let start = Date()
        var lastReport = Date.distantPast
        let results = try job.encodeAll { done, samples in
            guard Date().timeIntervalSince(lastReport) >= 1 || done == inputs.count else { return }
            lastReport = Date()
            FileHandle.standardError.write(Data(String(format: "encode: %d/%d inputs, %d items, %.1f items/s\n", done, inputs.count, samples,
                                                       Double(samples) / max(1e-9, Date().timeIntervalSince(start))).utf8))
        }
        var failures = FailureLog()
        for failed in results {
            guard let reason = failed.failure else { continue }
            failures.record(message: reason.contains(failed.source) ? reason : "\(failed.source): \(reason)")
        }
        let records = results.flatMap(\.records)
        if !records.isEmpty {
            try TokenFile.write(records, to: URL(fileURLWithPath: output), format: fileFormat)
            print("wrote \(records.count) token set(s) of \(records[0].tokens.shape) from \(model.modelID) to \(output)")
        }
        try failures.finish()
    }

    /// Shards, manifest and error report in a folder; resumable.
    func runFolder(_ model: TiTok, inputs: [URL]) throws {
        let fmt = format ?? .jsonl
        var vocab = try vocabulary.map { try VisualVocabulary(contentsOf: URL(fileURLWithPath: $0)) }
        if fmt == .bin && vocab == nil {
            guard !model.vocabularySizes.isEmpty else { throw ValidationError("\(model.modelID) has continuous tokens; bin shards need discrete ids") }
            vocab = .plain(codebookSizes: model.vocabularySizes)
        }
        if let v = vocab, !model.vocabularySizes.isEmpty, zip(v.codebookSizes, model.vocabularySizes).contains(where: { $0 < $1 }) || v.codebookSizes.count != model.vocabularySizes.count {
            throw ValidationError("--vocabulary has codebooks \(v.codebookSizes) but \(model.modelID) produces \(model.vocabularySizes)")
        }
        let job = BatchEncoder(tokenizer: model, inputs: inputs)
        job.batchSize = model.batchSize
        job.sampling = sampling.sampling
        job.timeRange = (sampling.start, sampling.end)
        job.tokenLimit = tokenizer.tokens
        job.fingerprintExtras = ["worker \(shardIndex)/\(numShards)", "\(model.sampleSeed.map(String.init) ?? "mean")"]
        let folder = URL(fileURLWithPath: output)
        let interrupt = InterruptFlag()
        let meter = ProgressMeter()
        let summary = try job.run(into: folder, format: fmt, vocabulary: vocab, shardBytes: try parseByteSize(shardSize),
                                  shardSamples: shardSamples, filePrefix: numShards > 1 ? String(format: "w%03d-", shardIndex) : "",
                                  videoSequences: videoSequences, resume: resume, progress: meter.update, stop: interrupt.request)
        meter.finish()
        let prefix = numShards > 1 ? String(format: "w%03d-", shardIndex) : ""
        if summary.inputsDone < inputs.count {
            print("stopped after \(summary.inputsDone)/\(inputs.count) inputs (\(summary.shards) shard(s) committed); continue with --resume")
            throw ExitCode(130)
        }
        print("\(summary.samples) image(s)/frame(s) from \(summary.inputsDone) input(s) in \(summary.shards) \(fmt.rawValue) shard(s) -> \(folder.path) (manifest: \(prefix)manifest.jsonl)")
        if summary.failedInputs > 0 {
            FileHandle.standardError.write(Data("\(summary.failedInputs) input(s) failed; see \(folder.appendingPathComponent(prefix + "errors.jsonl").path)\n".utf8))
            throw ExitCode(1)
        }
    }
}

/// "256M" → bytes.
func parseByteSize(_ text: String) throws -> Int {
    let units: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30]
    var digits = text.uppercased()
    if digits.hasSuffix("B") { digits.removeLast() }
    let scale = digits.last.flatMap { units[$0] } ?? 1
    if scale > 1 { digits.removeLast() }
    guard let value = Double(digits), value > 0 else { throw ValidationError("bad size \(text) (e.g. 512K, 256M, 1G)") }
    return Int(value * Double(scale))
}

/// First Ctrl-C: finish the current shard. Second: stop at once.
final class InterruptFlag: @unchecked Sendable {
    private var count = 0
    private let lock = NSLock()
    private let source: DispatchSourceSignal

    init() {
        signal(SIGINT, SIG_IGN)
        source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        source.setEventHandler { [unowned self] in
            lock.lock()
            count += 1
            let n = count
            lock.unlock()
            FileHandle.standardError.write(Data((n == 1 ? "\ninterrupt: finishing the current shard (Ctrl-C again to stop now)\n"
                                                       : "\ninterrupt: stopping now; the unfinished shard is redone on --resume\n").utf8))
        }
        source.resume()
    }

    deinit { source.cancel(); signal(SIGINT, SIG_DFL) }

    func request() -> BatchEncoder.Stop {
        lock.lock()
        defer { lock.unlock() }
        return count == 0 ? .no : count == 1 ? .afterShard : .now
    }
}

/// A progress bar on a terminal (items/s, ETA), a plain line every 10 s otherwise.
final class ProgressMeter {
    private let terminal = isatty(STDERR_FILENO) == 1
    private var lastPrint = Date.distantPast
    private var last: BatchEncoder.Progress?

    func update(_ p: BatchEncoder.Progress) {
        last = p
        let now = Date()
        guard now.timeIntervalSince(lastPrint) >= (terminal ? 0.25 : 10) else { return }
        lastPrint = now
        write(p)
    }

    func finish() {
        if let last { write(last) }
        if terminal && last != nil { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    private func write(_ p: BatchEncoder.Progress) {
        let rate = Double(p.inputsThisRun) / max(p.elapsed, 1e-9)
        let left = p.inputsTotal - p.inputsDone
        let eta = rate > 0 ? Double(left) / rate : 0
        let clock = String(format: "%d:%02d:%02d", Int(eta) / 3600, Int(eta) / 60 % 60, Int(eta) % 60)
        let fraction = p.inputsTotal > 0 ? Double(p.inputsDone) / Double(p.inputsTotal) : 1
        if terminal {
            let width = 24, filled = Int(fraction * Double(width))
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            let line = String(format: "\r%@ %d/%d inputs  %.1f inputs/s  ETA %@  %d samples  %d failed  %d shards ",
                              bar, p.inputsDone, p.inputsTotal, rate, clock, p.samples, p.failed, p.shards)
            FileHandle.standardError.write(Data(line.utf8))
        } else {
            FileHandle.standardError.write(Data(String(format: "encode: %d/%d inputs (%.0f%%), %.1f inputs/s, ETA %@, %d samples, %d failed, %d shards\n",
                                                       p.inputsDone, p.inputsTotal, 100 * fraction, rate, clock, p.samples, p.failed, p.shards).utf8))
        }
    }
}
