import ArgumentParser
import Dispatch
import Foundation
import Tessera

struct Encode: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Tokenize images and video frames into a token file, or a folder of resumable shards.",
        discussion: """
            -o FILE (.jsonl, .npy, .safetensors) writes one token file: one record per image or frame with source, \
            frame_timestamp, model, shape, vocab, ids.
            -o FOLDER writes shards (rotated by --shard-size), manifest.jsonl (source, size, sha256, timestamp, \
            model, token positions per sample), errors.jsonl, shards.jsonl (the journal --resume trusts) and \
            run.json (which also lists folder files that are neither images nor videos). --format bin writes LM \
            training shards (uint16/uint32 token streams + .idx.npy offsets + a Megatron-LM .idx) through \
            --vocabulary (default: plain ids); --format tar writes WebDataset shards. Ctrl-C finishes the current \
            shard; Ctrl-C again stops at once. Either way, --resume continues exactly where the last committed \
            shard ended.
            """)

    @OptionGroup var tokenizer: TokenizerOptions
    @OptionGroup var sampling: SamplingOptions
    @Option(
        help: """
            Video tokenizers (Emu3): encode the sampled frames of each video in clips of this many frames, \
            one [T', H, W] record each (default: all sampled frames as one clip).
            """)
    var clipFrames: Int?
    @Argument(help: "Images, videos, folders or glob patterns.")
    var inputs: [String] = []
    @Option(help: "A file listing inputs, one per line ('#' starts a comment).")
    var inputList: String?
    @Option(
        help: ArgumentHelp(
            "jsonl, npy, safetensors; for folders also bin (LM shards) and tar (WebDataset). Default: from the "
                + "output extension, else jsonl.")
    )
    var format: ShardFormat?
    @Option(name: .shortAndLong, help: "Output token file, or a folder for shards.")
    var output: String
    @Option(
        help: ArgumentHelp(
            "Folder output: start a new shard after about this many bytes (K, M, G suffixes), or when its buffer "
                + "reaches a quarter of the memory limit."))
    var shardSize = ByteSize(bytes: 256 << 20)
    @Option(help: "Folder output: …or after this many samples.")
    var shardSamples: Int?
    @Option(
        help:
            "Folder output: visual vocabulary JSON mapping ids into an LM vocabulary (see `tessera tokens vocabulary`)."
    )
    var vocabulary: String?
    @Flag(help: "bin output: one LM sample per video, frames delimited by the vocabulary's frame_separator/frame_end.")
    var videoSequences = false
    @Flag(help: "Folder output: continue an interrupted run in the same folder.")
    var resume = false
    @Option(help: "Split the inputs over several workers: this worker's index…")
    var shardIndex: Int = 0
    @Option(help: "…out of this many (each takes every n-th input; files get a w<index>- prefix).")
    var numShards: Int = 1
    @OptionGroup var resources: ResourceOptions

    func validate() throws {
        if let clipFrames, clipFrames < 1 { throw ValidationError("--clip-frames must be at least 1") }
        guard numShards >= 1, (0..<numShards).contains(shardIndex) else {
            throw ValidationError("--shard-index must be in 0..<--num-shards")
        }
        guard !inputs.isEmpty || inputList != nil else { throw ValidationError("give inputs or --input-list") }
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
            guard let text = try? String(contentsOfFile: inputList, encoding: .utf8) else {
                throw InputError("cannot read --input-list \(inputList)")
            }
            paths += text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter {
                !$0.isEmpty && !$0.hasPrefix("#")
            }
        }
        let scan = try Media.scan(paths)
        reportSkipped(scan.skipped)
        if isFolderOutput {
            try runFolder(
                model, inputs: BatchEncoder.partition(scan.files, index: shardIndex, count: numShards),
                skipped: scan.skipped)
        } else {
            try runFile(model, inputs: scan.files)
        }
    }

    /// The batch pipeline for a loaded tokenizer and these options.
    func job(_ model: TokenizerOptions.Loaded, inputs: [URL]) -> BatchEncoder {
        let job = BatchEncoder(tokenizer: model.tokenizer, inputs: inputs)
        job.options = model.encode
        job.sampling = sampling.sampling
        job.timeRange = (sampling.start, sampling.end)
        job.clipFrames = clipFrames
        return job
    }

    /// One token file, written at the end.
    func runFile(_ model: TokenizerOptions.Loaded, inputs: [URL]) throws {
        let fileFormat: TokenFileFormat
        if let format {
            guard let f = format.tokenFileFormat else {
                throw ValidationError("--format \(format.rawValue) writes shards: give -o a folder")
            }
            fileFormat = f
        } else {
            fileFormat = TokenFileFormat(path: output) ?? .jsonl
        }
        // the sharded run's pipeline (decoding overlaps the model), collected in memory
        let job = job(model, inputs: inputs)
        job.hashSources = false  // a token file has no manifest
        let start = Date()
        var lastReport = Date.distantPast
        let results = try job.encodeAll { done, samples in
            guard Date().timeIntervalSince(lastReport) >= 1 || done == inputs.count else { return }
            lastReport = Date()
            FileHandle.standardError.write(
                Data(
                    String(
                        format: "encode: %d/%d inputs, %d items, %.1f items/s\n", done, inputs.count, samples,
                        Double(samples) / max(1e-9, Date().timeIntervalSince(start))
                    ).utf8))
        }
        var failures = FailureLog()
        for failed in results {
            guard let reason = failed.failure else { continue }
            failures.record(message: reason.contains(failed.source) ? reason : "\(failed.source): \(reason)")
        }
        let records = results.flatMap(\.records)
        if !records.isEmpty {
            try TokenFile.write(records, to: URL(fileURLWithPath: output), format: fileFormat)
            print(
                "wrote \(records.count) token set(s) of \(records[0].tokens.shape) from \(model.tokenizer.modelID) "
                    + "to \(output)"
            )
        }
        try failures.finish()
    }

    /// Shards, manifest and error report in a folder; resumable.
    func runFolder(_ model: TokenizerOptions.Loaded, inputs: [URL], skipped: [URL]) throws {
        let fmt = format ?? .jsonl
        let given = try vocabulary.map { try VisualVocabulary(contentsOf: URL(fileURLWithPath: $0)) }
        let vocab: VisualVocabulary?
        do { vocab = try BatchEncoder.shardVocabulary(given, format: fmt, for: model.descriptor) } catch let e
            as TokenizerError
        {
            throw ValidationError(given == nil ? e.reason : "--vocabulary: \(e.reason)")
        }
        let job = job(model, inputs: inputs)
        job.skippedInputs = skipped
        job.fingerprintExtras = ["worker \(shardIndex)/\(numShards)"]
        let folder = URL(fileURLWithPath: output)
        let interrupt = InterruptFlag()
        let meter = ProgressMeter()
        let summary = try job.run(
            into: folder, format: fmt, vocabulary: vocab, shardBytes: shardSize.bytes,
            shardSamples: shardSamples, filePrefix: numShards > 1 ? String(format: "w%03d-", shardIndex) : "",
            videoSequences: videoSequences, resume: resume, progress: meter.update, stop: interrupt.request)
        meter.finish()
        let prefix = numShards > 1 ? String(format: "w%03d-", shardIndex) : ""
        if summary.inputsDone < inputs.count {
            print(
                "stopped after \(summary.inputsDone)/\(inputs.count) inputs (\(summary.shards) shard(s) committed); "
                    + "continue with --resume"
            )
            throw ExitCode(130)
        }
        print(
            "\(summary.samples) image(s)/frame(s) from \(summary.inputsDone) input(s) in \(summary.shards) "
                + "\(fmt.rawValue) shard(s) -> \(folder.path) (manifest: \(prefix)manifest.jsonl)"
        )
        if summary.failedInputs > 0 {
            FileHandle.standardError.write(
                Data(
                    ("\(summary.failedInputs) input(s) failed; see "
                        + "\(folder.appendingPathComponent(prefix + "errors.jsonl").path)\n").utf8))
            throw ExitCode(1)
        }
    }
}
