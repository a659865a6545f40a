import Foundation
import TesseraCore

/// The result of encoding one input (an image, or all sampled frames of a video).
public struct EncodedInput: Sendable {
    /// Path of the input, as the input list gave it.
    public var source: String
    /// Size and SHA-256 of the source file, for the manifest.
    public var sourceBytes: Int
    /// Lowercase hex SHA-256 of the source file's bytes; empty when the run does not hash its inputs.
    public var sha256: String
    /// One record per image or frame (empty when the input failed).
    public var records: [TokenRecord]
    /// Why the input failed, if it did.
    public var failure: String?

    /// The outcome of one input.
    /// - Parameters:
    ///   - source: Path of the input.
    ///   - sourceBytes: Size of the source file in bytes.
    ///   - sha256: Hex SHA-256 of the source file (empty when not hashed).
    ///   - records: One record per image or frame; empty when the input failed.
    ///   - failure: Why the input failed, or nil.
    public init(source: String, sourceBytes: Int, sha256: String, records: [TokenRecord], failure: String? = nil) {
        (self.source, self.sourceBytes, self.sha256, self.records, self.failure) = (
            source, sourceBytes, sha256, records, failure
        )
    }
}

/// Writes a run's output folder: shards rotated by size, `manifest.jsonl`, `errors.jsonl`,
/// the `shards.jsonl` journal, `run.json` and (for LM streams) `vocabulary.json`.
///
/// Inputs arrive in order and never straddle shards, so shard contents depend only on the
/// input list and the options. Each shard is committed by writing its files atomically
/// (temporary file + rename), appending its manifest and error lines, and finally its
/// journal line. A run that stops anywhere leaves a folder ``init(directory:options:resume:)``
/// can continue: everything after the last journal line is dropped and redone, so a resumed
/// run produces exactly the shards of an uninterrupted one.
public final class TokenStreamWriter {
    /// What to write.
    public struct Options: Sendable {
        /// The shard format.
        public var format: ShardFormat
        /// Rotate to a new shard once this many bytes (estimated) are buffered (or the buffer holds
        /// a quarter of the ``MemoryLimit``, whichever comes first).
        public var shardBytes: Int
        /// …or this many samples.
        public var shardSamples: Int?
        /// LM vocabulary mapping (required for `.bin`; stored as `vocabulary.json`).
        public var vocabulary: VisualVocabulary?
        /// Prefix of every file name (lets several workers share one folder).
        public var filePrefix: String
        /// The model that encodes the inputs (recorded in `run.json`).
        public var model: String
        /// Identifies the input list and the options; a resume must match it.
        public var fingerprint: String
        /// Number of inputs in the run's input list.
        public var inputCount: Int
        /// `.bin` only: one LM sample per video — its frames' streams joined by the
        /// vocabulary's `frame_separator` — instead of one per frame.
        public var videoSequences = false
        /// Files of the input folders that were left out (neither images nor videos), for run.json.
        public var skippedInputs: [String] = []

        /// Options with 256 MiB JSON Lines shards by default.
        /// - Parameters:
        ///   - format: The shard format (default `.jsonl`).
        ///   - shardBytes: Estimated bytes after which a shard is closed (default 256 MiB).
        ///   - shardSamples: Samples after which a shard is closed, if limited.
        ///   - vocabulary: LM vocabulary mapping; required for `.bin`.
        ///   - filePrefix: Prefix of every file name.
        ///   - model: The model that encodes the inputs.
        ///   - fingerprint: Identifies the input list and the options, for resuming.
        ///   - inputCount: Number of inputs in the run's input list.
        public init(
            format: ShardFormat = .jsonl, shardBytes: Int = 256 << 20, shardSamples: Int? = nil,
            vocabulary: VisualVocabulary? = nil, filePrefix: String = "", model: String, fingerprint: String,
            inputCount: Int
        ) {
            (
                self.format, self.shardBytes, self.shardSamples, self.vocabulary, self.filePrefix, self.model,
                self.fingerprint, self.inputCount
            ) =
                (format, shardBytes, shardSamples, vocabulary, filePrefix, model, fingerprint, inputCount)
        }
    }

    /// Totals over the whole run (including what a resumed run found done).
    public struct Summary: Sendable, Equatable {
        /// Shard files committed.
        public var shards: Int
        /// Images and frames in them.
        public var samples: Int
        /// Inputs recorded in the error report.
        public var failedInputs: Int
        /// Inputs committed (successful or failed): where a resumed run continues.
        public var inputsDone: Int
    }

    /// The output folder.
    public let directory: URL
    /// What the run writes.
    public let options: Options
    /// Inputs a previous run already completed; the caller continues from this position.
    public private(set) var completedInputs: Int
    /// Totals so far, including what a resumed run found done.
    public private(set) var summary: Summary

    private var pending: [(key: String, record: TokenRecord, entry: ManifestEntry)] = []
    private var pendingFailures: [FailureEntry] = []
    private var pendingBytes = 0
    /// About the memory the shard being built holds (``bufferedMemory(estimate:)`` per record).
    private var pendingMemory = 0
    /// A shard is also closed when its buffer reaches this: a quarter of the ``MemoryLimit`` when
    /// the run opened, so tiny records (which a byte budget counts as nearly nothing) or a large
    /// `shardBytes` cannot grow one shard's buffer until the process runs out of memory.
    private let memoryBudget = max(1 << 20, MemoryLimit.bytes / 4)
    private var pendingStart: Int
    /// Test hook: called at each commit step ("files", "manifest", "errors") to simulate a crash there.
    var faultInjection: ((String) throws -> Void)?

    private func url(_ name: String) -> URL { directory.appendingPathComponent(options.filePrefix + name) }
    private var journalURL: URL { url("shards.jsonl") }
    private var manifestURL: URL { url("manifest.jsonl") }
    private var errorsURL: URL { url("errors.jsonl") }
    private var runURL: URL { url("run.json") }

    /// Opens (or, with `resume`, continues) a run in `directory`. A folder that already holds a
    /// run is refused without `resume`, and with it when the run differs.
    public init(directory: URL, options: Options, resume: Bool) throws {
        if options.format == .bin, options.vocabulary == nil {
            throw TokenFileError(path: directory.path, reason: "bin shards need a visual vocabulary")
        }
        if options.videoSequences,
            options.format != .bin
                || (options.vocabulary?.special.frameSeparator == nil && options.vocabulary?.special.frameEnd == nil)
        {
            throw TokenFileError(
                path: directory.path,
                reason: "video sequences need bin shards and a vocabulary with a frame_separator or frame_end")
        }
        try options.vocabulary?.validate()
        self.directory = directory
        self.options = options
        let fm = FileManager.default
        do { try fm.createDirectory(at: directory, withIntermediateDirectories: true) } catch {
            throw TokenFileError(
                path: directory.path, reason: "cannot create output folder (\(error.localizedDescription))")
        }
        let info = RunInfo(
            format: options.format.rawValue, model: options.model, fingerprint: options.fingerprint,
            inputs: options.inputCount, shardBytes: options.shardBytes, shardSamples: options.shardSamples,
            filePrefix: options.filePrefix,
            tokenDtype: options.format == .bin ? options.vocabulary?.storageType.rawValue : nil,
            videoSequences: options.videoSequences ? true : nil,
            skipped: options.skippedInputs.isEmpty ? nil : options.skippedInputs)
        let runURL = directory.appendingPathComponent(options.filePrefix + "run.json")
        var journal: [ShardEntry] = []
        if fm.fileExists(atPath: runURL.path) {
            guard resume else {
                throw TokenFileError(
                    path: directory.path,
                    reason:
                        "already holds a run (\(runURL.lastPathComponent)); pass --resume to continue it, or choose "
                        + "a new folder"
                )
            }
            let previous: RunInfo
            do { previous = try VisualVocabulary.decoder.decode(RunInfo.self, from: Data(contentsOf: runURL)) } catch {
                throw TokenFileError(path: runURL.path, reason: "unreadable run description (\(error))")
            }
            guard previous == info else {
                throw TokenFileError(
                    path: directory.path,
                    reason: "holds a different run (other inputs, model or options); resume needs the same command")
            }
            let journalFile = directory.appendingPathComponent(options.filePrefix + "shards.jsonl")
            journal = try JSONLines.read(ShardEntry.self, from: journalFile)
            try Self.check(journal, of: info, in: directory, path: journalFile.path)
        } else if let stray = ((try? fm.contentsOfDirectory(atPath: directory.path)) ?? []).first(where: {
            $0.hasPrefix(options.filePrefix + "shard-") || $0 == options.filePrefix + "manifest.jsonl"
        }) {
            throw TokenFileError(path: directory.path, reason: "holds \(stray) but no run.json; choose an empty folder")
        }
        completedInputs = journal.last?.inputs.last ?? 0
        pendingStart = completedInputs
        summary = Summary(
            shards: journal.filter { $0.shard != nil }.count, samples: journal.reduce(0) { $0 + $1.samples },
            failedInputs: journal.reduce(0) { $0 + $1.failed }, inputsDone: completedInputs)
        try recover(journal: journal)
        try JSONLines.encoder.encode(info).write(to: self.runURL, options: .atomic)
        if let v = options.vocabulary { try v.write(to: url("vocabulary.json")) }
    }

    /// Refuses a journal that is not this run's committed shards in order: consecutive input
    /// ranges from 0 within the run's inputs, counts that fit them, and files that are this run's
    /// shards and exist (the files are renamed into place before their entry is appended).
    static func check(_ journal: [ShardEntry], of run: RunInfo, in directory: URL, path: String) throws {
        var next = 0
        for (line, entry) in journal.enumerated() {
            func refuse(_ reason: String) -> TokenFileError {
                TokenFileError(path: path, reason: "entry \(line + 1): \(reason)")
            }
            guard entry.inputs.count == 2, entry.inputs[0] == next, entry.inputs[1] > next,
                entry.inputs[1] <= run.inputs
            else { throw refuse("inputs \(entry.inputs) do not continue [0, \(next)) within \(run.inputs) inputs") }
            guard entry.samples >= 0, entry.bytes >= 0, (0...(entry.inputs[1] - next)).contains(entry.failed) else {
                throw refuse("negative or impossible counts")
            }
            for file in entry.files {
                guard file.hasPrefix(run.filePrefix + "shard-"), !file.contains("/"),
                    FileManager.default.fileExists(atPath: directory.appendingPathComponent(file).path)
                else { throw refuse("'\(file)' is not a shard of this folder") }
            }
            if let shard = entry.shard, !entry.files.contains(shard) {
                throw refuse("'\(shard)' is not among its files")
            }
            next = entry.inputs[1]
        }
    }

    /// Brings the journal files back to exactly the committed shards and removes anything
    /// written after them.
    private func recover(journal: [ShardEntry]) throws {
        try JSONLines.rewrite(journal, to: journalURL)
        let manifest = try JSONLines.read(ManifestEntry.self, from: manifestURL).filter {
            $0.inputIndex < completedInputs
        }
        try JSONLines.rewrite(manifest, to: manifestURL)
        let errors = try JSONLines.read(FailureEntry.self, from: errorsURL).filter { $0.inputIndex < completedInputs }
        try JSONLines.rewrite(errors, to: errorsURL)
        let kept = Set(journal.flatMap(\.files))
        let shardPrefix = options.filePrefix + "shard-"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        where (name.hasPrefix(shardPrefix) && !kept.contains(name)) || name.hasPrefix(".tmp-" + options.filePrefix) {
            try? FileManager.default.removeItem(at: directory.appendingPathComponent(name))
        }
    }

    /// Adds the next input (inputs must arrive in order). Returns true when this completed a shard.
    @discardableResult
    public func append(_ input: EncodedInput) throws -> Bool {
        let inputIndex = pendingStart + pendingInputs
        pendingInputs += 1
        if let failure = input.failure {
            pendingFailures.append(FailureEntry(input: input.source, inputIndex: inputIndex, reason: failure))
            pendingMemory += Self.bufferedMemory(estimate: failure.utf8.count + input.source.utf8.count)
        }
        for record in input.records {
            let key = options.filePrefix + String(format: "%09d", summary.samples + pending.count)
            let entry = ManifestEntry(
                key: key, source: input.source, sourceBytes: input.sourceBytes, sha256: input.sha256,
                frameTimestamp: record.frameTimestamp, model: record.tokens.model, tokens: record.tokens.positions,
                shard: "", index: sampleIndex(forInput: inputIndex), inputIndex: inputIndex)
            pending.append((key, record, entry))
            let estimate = ShardEncoder.estimatedBytes(record, format: options.format, vocabulary: options.vocabulary)
            pendingBytes += estimate
            pendingMemory += Self.bufferedMemory(estimate: estimate)
        }
        if pendingBytes >= options.shardBytes || (options.shardSamples.map { pending.count >= $0 } ?? false)
            || pendingMemory >= memoryBudget
        {
            try commit()
            return true
        }
        return false
    }
    private var pendingInputs = 0

    /// About the memory one buffered record of `estimate` shard bytes takes until its shard is
    /// written: its ids as 8-byte integers (shards store 2–8 bytes each, text about 4), the encoded
    /// shard built next to them, and its source, key and manifest entry (2 KiB: 100,000 tiny
    /// records took 168 MB more than 25,000 in `Scripts/soak.sh`).
    static func bufferedMemory(estimate: Int) -> Int { 4 * estimate + 2048 }

    /// Position of the next sample in the shard; a video's frames share one with `videoSequences`.
    private func sampleIndex(forInput input: Int) -> Int {
        guard options.videoSequences, let last = pending.last?.entry else { return pending.count }
        return last.inputIndex == input ? last.index : last.index + 1
    }

    /// Commits the last (partial) shard. Call once all inputs are in.
    @discardableResult
    public func finish() throws -> Summary {
        if pendingInputs > 0 { try commit() }
        return summary
    }

    /// Inputs buffered in the shard being built (lost, and redone on resume, if the run stops now).
    public var bufferedInputs: Int { pendingInputs }
    /// Samples in the shard being built.
    public var bufferedSamples: Int { pending.count }
    /// Failed inputs in the shard being built.
    public var bufferedFailures: Int { pendingFailures.count }

    private func commit() throws {
        let stem = options.filePrefix + String(format: "shard-%05d", summary.shards)
        var files: [(name: String, data: Data)] = []
        if !pending.isEmpty {
            files = try ShardEncoder.files(
                pending.map { ($0.key, $0.record) }, stem: stem, format: options.format, vocabulary: options.vocabulary,
                samples: options.videoSequences ? pending.map(\.entry.index) : nil)
        }
        for f in files { try writeAtomically(f.data, name: f.name) }
        try faultInjection?("files")
        var manifest = ""
        for var p in pending {
            p.entry.shard = files.first?.name ?? ""
            manifest += try JSONLines.line(p.entry)
        }
        try JSONLines.append(manifest, to: manifestURL)
        try faultInjection?("manifest")
        try JSONLines.append(try pendingFailures.map { try JSONLines.line($0) }.joined(), to: errorsURL)
        try faultInjection?("errors")
        let entry = ShardEntry(
            shard: files.first?.name, files: files.map(\.name), samples: pending.count, failed: pendingFailures.count,
            inputs: [pendingStart, pendingStart + pendingInputs], bytes: files.reduce(0) { $0 + $1.data.count })
        try JSONLines.append(try JSONLines.line(entry), to: journalURL)
        if !files.isEmpty { summary.shards += 1 }
        summary.samples += pending.count
        summary.failedInputs += pendingFailures.count
        pendingStart += pendingInputs
        summary.inputsDone = pendingStart
        completedInputs = pendingStart
        pending.removeAll()
        pendingFailures.removeAll()
        pendingBytes = 0
        pendingMemory = 0
        pendingInputs = 0
    }

    private func writeAtomically(_ data: Data, name: String) throws {
        let final = directory.appendingPathComponent(name)
        let temp = directory.appendingPathComponent(".tmp-\(name)")
        do {
            try data.write(to: temp)
            guard rename(temp.path, final.path) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        } catch {
            try? FileManager.default.removeItem(at: temp)
            throw TokenFileError(path: final.path, reason: "cannot write shard (\(error.localizedDescription))")
        }
    }
}
