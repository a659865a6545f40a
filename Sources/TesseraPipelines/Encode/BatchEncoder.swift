import Foundation
import TesseraCore
import TesseraMedia
import TesseraModels
import TesseraStreams

/// Dataset-scale tokenization: images and videos in, resumable shards out.
///
/// A producer thread reads, hashes, decodes and preprocesses inputs (several at once) while
/// the calling thread runs the tokenizer on full batches and hands each finished input to a
/// ``TokenStreamWriter``. Output order is the input order, whatever the timing.
///
/// ```swift
/// let tokenizer = try TokenizerRegistry.load(modelDirectory)
/// let inputs = try Media.expand(["photos/", "clips/"])
/// let job = BatchEncoder(tokenizer: tokenizer, inputs: inputs)
/// let vocabulary = VisualVocabulary.plain(codebookSizes: tokenizer.descriptor.vocabularySizes)
/// let summary = try job.run(into: outputFolder, format: .bin, vocabulary: vocabulary)
/// ```
public final class BatchEncoder {
    /// How stopping is requested (checked after every input).
    public enum Stop: Sendable {
        case no
        /// Finish the shard being built, commit it, then stop (Ctrl-C).
        case afterShard
        /// Stop at once; the shard being built is dropped and redone on resume.
        case now
    }

    /// Where the run stands, reported after every input.
    public struct Progress: Sendable {
        /// Inputs finished, including what a resumed run found done and the open shard's.
        public var inputsDone: Int
        /// This worker's inputs.
        public var inputsTotal: Int
        /// Inputs finished in this process (not counting what a resumed run skipped).
        public var inputsThisRun: Int
        /// Images and frames encoded so far.
        public var samples: Int
        /// Inputs that could not be encoded.
        public var failed: Int
        /// Shards committed.
        public var shards: Int
        /// Seconds since this process started the job.
        public var elapsed: Double
    }

    /// The tokenizer every batch runs through.
    public let tokenizer: any ImageTokenizer
    /// This worker's inputs, in processing order.
    public let inputs: [URL]
    /// Which frames of each video to encode (as `tessera frames`).
    public var sampling: FrameSampling = .all
    /// The part of each video to sample, in seconds.
    public var timeRange: (start: Double?, end: Double?) = (nil, nil)
    /// For a ``VideoClipTokenizer`` (Emu3): the sampled frames of a video go in clips of this many
    /// frames, one record `[T', H, W]` each (nil: the whole sample is one clip). A last clip shorter
    /// than the tokenizer's temporal factor is dropped, unless it is the only one.
    public var clipFrames: Int?
    /// How the tokenizer encodes: images per forward pass, token limit, sampling seed. Sample
    /// keys are the tokenizer's default (the pixels), so results do not depend on batching.
    public var options = EncodeOptions()
    /// Files of the input folders that were left out (recorded in run.json).
    public var skippedInputs: [URL] = []
    /// SHA-256 every input for the manifest; off when nobody reads the hashes (a video is
    /// read once more in full to hash it).
    public var hashSources = true
    /// Options that change the output besides the inputs (part of the resume fingerprint).
    public var fingerprintExtras: [String] = []

    /// A job over `inputs` (see ``partition(_:index:count:)`` to split them across workers).
    public init(tokenizer: any ImageTokenizer, inputs: [URL]) {
        self.tokenizer = tokenizer
        self.inputs = inputs
    }

    /// The inputs of worker `index` out of `count`: every `count`-th input starting at
    /// `index`, so the workers together cover each input exactly once.
    public static func partition(_ inputs: [URL], index: Int, count: Int) -> [URL] {
        precondition(count >= 1 && (0..<count).contains(index), "worker \(index) of \(count)")
        return inputs.enumerated().filter { $0.offset % count == index }.map(\.element)
    }

    /// The vocabulary `format` shards of `descriptor`'s tokens are written through: `vocabulary`, or
    /// plain ids for bin shards of a discrete model when none is given.
    /// - Throws: ``TokenizerError`` when bin shards are asked of continuous tokens, or the vocabulary's
    ///   codebooks do not hold the model's.
    public static func shardVocabulary(
        _ vocabulary: VisualVocabulary?, format: ShardFormat, for descriptor: TokenizerDescriptor
    ) throws -> VisualVocabulary? {
        let d = descriptor
        var vocabulary = vocabulary
        if format == .bin && vocabulary == nil {
            guard !d.isContinuous else {
                throw TokenizerError("\(d.modelID) has continuous tokens; bin shards need discrete ids")
            }
            vocabulary = .plain(codebookSizes: d.vocabularySizes)
        }
        if let v = vocabulary, !d.isContinuous,
            v.codebookSizes.count != d.vocabularySizes.count
                || zip(v.codebookSizes, d.vocabularySizes).contains(where: { $0 < $1 })
        {
            throw TokenizerError(
                "the vocabulary has codebooks \(v.codebookSizes) but \(d.modelID) produces \(d.vocabularySizes)")
        }
        return vocabulary
    }

    /// Runs the job into `directory` (see ``TokenStreamWriter`` for the layout and resume rules).
    public func run(
        into directory: URL, format: ShardFormat = .jsonl, vocabulary: VisualVocabulary? = nil,
        shardBytes: Int = 256 << 20, shardSamples: Int? = nil, filePrefix: String = "", videoSequences: Bool = false,
        resume: Bool = false, progress: (Progress) -> Void = { _ in }, stop: () -> Stop = { .no }
    ) throws -> TokenStreamWriter.Summary {
        var options = TokenStreamWriter.Options(
            format: format, shardBytes: shardBytes, shardSamples: shardSamples, vocabulary: vocabulary,
            filePrefix: filePrefix,
            model: tokenizer.modelID, fingerprint: fingerprint(format: format, vocabulary: vocabulary),
            inputCount: inputs.count)
        options.videoSequences = videoSequences
        options.skippedInputs = skippedInputs.map(\.path)
        let writer = try TokenStreamWriter(directory: directory, options: options, resume: resume)
        try run(writer: writer, progress: progress, stop: stop)
        return writer.summary
    }

    /// Runs the job into an opened writer, continuing after its completed inputs.
    public func run(writer: TokenStreamWriter, progress: (Progress) -> Void = { _ in }, stop: () -> Stop = { .no })
        throws
    {
        let started = Date()
        var doneThisRun = 0
        func report() {
            progress(
                Progress(
                    inputsDone: writer.completedInputs + writer.bufferedInputs, inputsTotal: inputs.count,
                    inputsThisRun: doneThisRun,
                    samples: writer.summary.samples + writer.bufferedSamples,
                    failed: writer.summary.failedInputs + writer.bufferedFailures, shards: writer.summary.shards,
                    elapsed: Date().timeIntervalSince(started)))
        }
        let stopped = try encodeInputs(from: writer.completedInputs) { input in
            doneThisRun += 1
            let committed = try writer.append(input)
            report()
            switch stop() {
            case .now: return true
            case .afterShard where committed || writer.bufferedInputs == 0: return true
            default: return false
            }
        }
        guard !stopped else { return }
        try writer.finish()
        report()
    }

    /// Encodes every input in memory, in input order: each input's records, or why it failed.
    /// The same pipeline as the sharded run (decoding overlaps the model), for jobs whose
    /// tokens fit in memory (`tessera encode -o tokens.jsonl`).
    /// - Parameter progress: called after every input with (inputs done, samples so far).
    public func encodeAll(progress: (_ inputsDone: Int, _ samples: Int) -> Void = { _, _ in }) throws -> [EncodedInput]
    {
        var results: [EncodedInput] = []
        var samples = 0
        _ = try encodeInputs(from: 0) { input in
            results.append(input)
            samples += input.records.count
            progress(results.count, samples)
            return false
        }
        return results
    }

    /// The pipeline: a producer thread decodes inputs `first…` while this thread encodes full
    /// batches; every finished input goes to `deliver` in input order. Returns true when
    /// `deliver` asked to stop.
    func encodeInputs(from first: Int, deliver: (EncodedInput) throws -> Bool) throws -> Bool {
        let batchSize = max(1, options.batchSize)
        try tokenizer.checkBatchMemory(min(batchSize, max(1, inputs.count - first)), decoding: false)
        let queue = BoundedQueue<DecodedItem>(capacity: max(4, 2 * batchSize))
        let abandoned = LockedSet()  // videos already failed: the producer stops decoding them
        let producer = Thread { [inputs, sampling, timeRange, hashSources, preprocessing = tokenizer.preprocessing] in
            Self.produce(
                inputs, from: first, sampling: sampling, timeRange: timeRange, hash: hashSources,
                preprocessing: preprocessing, into: queue, skipping: abandoned)
        }
        producer.stackSize = 8 << 20
        producer.start()
        defer { queue.cancel() }

        var batch: [(input: Int, timestamp: Double?, pixels: Tensor)] = []
        var open: [Int: OpenInput] = [:]  // inputs whose frames are still being encoded
        var nextToDeliver = first
        var encodeOptions = options
        encodeOptions.batchSize = batchSize

        /// Delivers finished inputs in order; true when a stop was asked for.
        func flushFinished() throws -> Bool {
            while let input = open[nextToDeliver], input.ended, input.pendingFrames == 0 {
                open[nextToDeliver] = nil
                nextToDeliver += 1
                if try deliver(input.result) { return true }
            }
            return false
        }
        // Clip tokenizers take a video's frames together: they wait here until a clip is full.
        let clipTokenizer = tokenizer as? any VideoClipTokenizer
        var clips: [Int: [(timestamp: Double?, pixels: Tensor)]] = [:]
        func encodeClip(_ input: Int, final: Bool) {
            guard let clipTokenizer, let frames = clips[input], !frames.isEmpty else { return }
            clips[input] = nil
            let done = open[input]?.records.count ?? 0
            if final, done > 0, frames.count < clipTokenizer.temporalFactor { return }  // a short tail
            do {
                guard frames.allSatisfy({ $0.pixels.shape == frames[0].pixels.shape }) else {
                    throw TokenizerError("the frames of one clip differ in size")
                }
                let clip = Tensor.concatenate(frames.map { $0.pixels.reshaped([1] + $0.pixels.shape) }, axis: 0)
                let tokens = try clipTokenizer.encode(clip: clip)
                open[input, default: OpenInput(source: inputs[input].path)].records.append(
                    TokenRecord(source: inputs[input].path, frameTimestamp: frames[0].timestamp, tokens: tokens))
            } catch {
                open[input, default: OpenInput(source: inputs[input].path)].encodeFailure =
                    "\(inputs[input].path): \(error)"
            }
        }
        // A clip held whole must fit: its frames and the encoder's activations on them.
        var refusedClips = Set<Int>()
        func refuseClipOverLimit(_ input: Int) {
            guard let clipTokenizer, let frames = clips[input], let last = frames.last?.pixels, last.rank == 3 else {
                return
            }
            let bytes =
                frames.count * 4 * last.count
                + clipTokenizer.workingMemory(clipFrames: frames.count, height: last.shape[1], width: last.shape[2])
            do {
                try MemoryLimit.check(
                    bytes, for: "a clip of \(frames.count) frames", path: inputs[input].path,
                    hint: "encode it in shorter clips (--clip-frames) or sample fewer frames")
            } catch {
                refusedClips.insert(input)
                abandoned.insert(input)
                clips[input] = nil
                open[input, default: OpenInput(source: inputs[input].path)].encodeFailure = "\(error)"
            }
        }
        func encodeBatch() throws {
            guard !batch.isEmpty else { return }
            let tokens = try tokenizer.encode(preprocessed: batch.map(\.pixels), options: encodeOptions)
            for (item, t) in zip(batch, tokens) {
                let record = TokenRecord(source: inputs[item.input].path, frameTimestamp: item.timestamp, tokens: t)
                open[item.input, default: OpenInput(source: record.source)].records.append(record)
                open[item.input, default: OpenInput(source: record.source)].pendingFrames -= 1
            }
            batch.removeAll()
        }

        while let item = queue.pop() {
            switch item {
            case .frame(let input, let timestamp?, let pixels) where clipTokenizer != nil:
                guard !refusedClips.contains(input) else { break }
                clips[input, default: []].append((timestamp, pixels))
                refuseClipOverLimit(input)
                if let n = clipFrames, clips[input, default: []].count >= n { encodeClip(input, final: false) }
            case .frame(let input, let timestamp, let pixels):
                open[input, default: OpenInput(source: inputs[input].path)].pendingFrames += 1
                batch.append((input, timestamp, pixels))
                if batch.count >= batchSize { try encodeBatch() }
            case .end(let input, let bytes, let sha, let failure):
                encodeClip(input, final: true)
                open[input, default: OpenInput(source: inputs[input].path)].finish(
                    bytes: bytes, sha256: sha, failure: failure)
            // A failed input's frames still in the batch are encoded and then discarded.
            }
            if try flushFinished() { return true }
        }
        try encodeBatch()
        return try flushFinished()
    }

    // MARK: producer

    enum DecodedItem {
        case frame(input: Int, timestamp: Double?, pixels: Tensor)
        case end(input: Int, bytes: Int, sha256: String, failure: String?)
    }

    struct OpenInput {
        var source: String
        var records: [TokenRecord] = []
        var pendingFrames = 0
        var ended = false
        var bytes = 0, sha256 = "", failure: String?
        /// Why a clip of the input could not be encoded (the input then fails as a whole).
        var encodeFailure: String?
        init(source: String) { self.source = source }
        mutating func finish(bytes: Int, sha256: String, failure: String?) {
            (self.ended, self.bytes, self.sha256, self.failure) = (true, bytes, sha256, failure ?? encodeFailure)
        }
        var result: EncodedInput {
            EncodedInput(
                source: source, sourceBytes: bytes, sha256: sha256, records: failure == nil ? records : [],
                failure: failure)
        }
    }

    /// Decodes inputs `first…` in groups (images of a group in parallel), pushing frames and
    /// end markers in input order.
    static func produce(
        _ inputs: [URL], from first: Int, sampling: FrameSampling, timeRange: (start: Double?, end: Double?),
        hash: Bool, preprocessing: Preprocessing, into queue: BoundedQueue<DecodedItem>, skipping: LockedSet
    ) {
        let group = max(1, Threading.threadCount)
        var index = first
        while index < inputs.count, !queue.isCancelled {
            let range = index..<min(inputs.count, index + group)
            // Images decode in parallel; videos stream their frames one input at a time.
            let decoded = parallelMap(Array(inputs[range])) {
                decodeImage($0, hash: hash, preprocessing: preprocessing)
            }
            for (k, result) in decoded.enumerated() {
                let i = range.lowerBound + k
                switch result {
                case .image(let pixels, let bytes, let sha):
                    queue.push(.frame(input: i, timestamp: nil, pixels: pixels))
                    queue.push(.end(input: i, bytes: bytes, sha256: sha, failure: nil))
                case .failed(let reason, let bytes, let sha):
                    queue.push(.end(input: i, bytes: bytes, sha256: sha, failure: reason))
                case .video:
                    streamVideo(
                        inputs[i], index: i, sampling: sampling, timeRange: timeRange, hash: hash,
                        preprocessing: preprocessing, into: queue, skipping: skipping)
                }
                if queue.isCancelled { return }
            }
            index = range.upperBound
        }
        queue.close()
    }

    enum ImageResult {
        case image(Tensor, bytes: Int, sha256: String)
        case failed(String, bytes: Int, sha256: String)
        case video
    }

    static func decodeImage(_ url: URL, hash: Bool, preprocessing: Preprocessing) -> ImageResult {
        // Content decides; a file named like an image that is not one gets the image decoder's error.
        guard Media.isImage(url) || Media.imageExtensions.contains(url.pathExtension.lowercased()) else {
            return .video
        }
        guard let data = try? Data(contentsOf: url) else {
            return .failed(MediaError(.unreadable, path: url.path, "cannot read").description, bytes: 0, sha256: "")
        }
        let sha = hash ? SHA256.hex(data) : ""
        do {
            let image = try Image(encoded: [UInt8](data), path: url.path)
            return .image(preprocessing.tensor(image), bytes: data.count, sha256: sha)
        } catch {
            return .failed("\(error)", bytes: data.count, sha256: sha)
        }
    }

    static func streamVideo(
        _ url: URL, index: Int, sampling: FrameSampling, timeRange: (start: Double?, end: Double?),
        hash: Bool, preprocessing: Preprocessing, into queue: BoundedQueue<DecodedItem>, skipping: LockedSet
    ) {
        let bytes = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0
        let sha = hash ? (try? SHA256.hex(fileAt: url)) ?? "" : ""
        do {
            var frames = try VideoReader(url: url).frames(sampling, from: timeRange.start, to: timeRange.end)
            var count = 0
            while let frame = try frames.next() {
                queue.push(.frame(input: index, timestamp: frame.timestamp, pixels: preprocessing.tensor(frame.image)))
                count += 1
                if queue.isCancelled { return }
                if skipping.contains(index) { break }  // its failure is already recorded
            }
            queue.push(
                .end(
                    input: index, bytes: bytes, sha256: sha,
                    failure: count == 0 ? "\(url.path): no frames in the chosen range" : nil))
        } catch {
            queue.push(.end(input: index, bytes: bytes, sha256: sha, failure: "\(error)"))
        }
    }

    // MARK: fingerprint

    func fingerprint(format: ShardFormat, vocabulary: VisualVocabulary?) -> String {
        var h = SHA256()
        var text = inputs.map(\.path).joined(separator: "\n")
        text +=
            "\n--\n\(tokenizer.modelID)|\(format.rawValue)|\(sampling)|\(timeRange.start ?? -1)|\(timeRange.end ?? -1)"
        text += "|\(options.tokenLimit ?? -1)|\(options.seed.map(String.init) ?? "mode")"
        if let clipFrames { text += "|clips \(clipFrames)" }
        if let vocabulary {
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys  // key order is otherwise random per process
            text += (try? encoder.encode(vocabulary)).map { String(decoding: $0, as: UTF8.self) } ?? ""
        }
        text += fingerprintExtras.joined(separator: "|")
        h.update(Data(text.utf8))
        return h.finalizeHex()
    }
}

/// A set of input indices shared by the producer and the consumer.
final class LockedSet: @unchecked Sendable {
    private var members = Set<Int>()
    private let lock = NSLock()
    func insert(_ member: Int) { lock.withLock { _ = members.insert(member) } }
    func contains(_ member: Int) -> Bool { lock.withLock { members.contains(member) } }
}

/// A blocking FIFO of bounded size between one producer and one consumer.
final class BoundedQueue<Element>: @unchecked Sendable {
    private var items: [Element] = []
    private var head = 0
    private let capacity: Int
    private var closed = false
    private var cancelled = false
    private let condition = NSCondition()

    init(capacity: Int) { self.capacity = capacity }

    var isCancelled: Bool { condition.lock(); defer { condition.unlock() }; return cancelled }

    /// Blocks while full; drops the item once cancelled.
    func push(_ item: Element) {
        condition.lock()
        defer { condition.unlock() }
        while items.count - head >= capacity && !cancelled { condition.wait() }
        guard !cancelled else { return }
        items.append(item)
        condition.broadcast()
    }

    /// The next item, or nil once closed and drained (or cancelled).
    func pop() -> Element? {
        condition.lock()
        defer { condition.unlock() }
        while head == items.count && !closed && !cancelled { condition.wait() }
        guard !cancelled, head < items.count else { return nil }
        let item = items[head]
        head += 1
        if head > 1024 { items.removeFirst(head); head = 0 }
        condition.broadcast()
        return item
    }

    func close() { condition.lock(); closed = true; condition.broadcast(); condition.unlock() }
    func cancel() {
        condition.lock(); cancelled = true; items.removeAll(); head = 0; condition.broadcast(); condition.unlock()
    }
}
