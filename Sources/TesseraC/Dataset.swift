// `tessera encode -o FOLDER` over the C ABI: the same batch encoder, shard writer, journal and
// resume, so an engine (Ray, Spark) running one call per worker gets the command line's folder.
import CTesseraABI
import Foundation
import Tessera

/// Stop requests: a run stops when the count changed since it started (a request made while no run
/// is going does not stop the next one).
enum StopRequests {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var count = 0

    static var current: Int { lock.withLock { count } }
    static func request() { lock.withLock { count += 1 } }
}

@c @implementation
public func tess_request_stop() { StopRequests.request() }

/// The frame sampling of a request's `sampling` object (as `tessera encode --fps/--uniform/--every/--keyframes`).
func frameSampling(_ object: [String: JSONValue]?) throws -> (FrameSampling, start: Double?, end: Double?) {
    let o = try Options(
        object ?? [:], call: "tess_encode_dataset: sampling",
        allowed: ["fps", "uniform", "every", "keyframes", "start", "end"])
    let every = try o.int("every", in: 1...Int(Int32.max)), uniform = try o.int("uniform", in: 1...Int(Int32.max))
    let fps = try o.double("fps"), keyframes = try o.bool("keyframes") ?? false
    guard [every != nil, uniform != nil, fps != nil, keyframes].filter({ $0 }).count <= 1 else {
        throw BoundaryError.argument("sampling: choose at most one of every, fps, uniform, keyframes")
    }
    if let fps, fps <= 0 { throw BoundaryError.argument("sampling: fps must be positive") }
    let sampling: FrameSampling =
        every.map { .everyNth($0) } ?? uniform.map { .uniform(count: $0) } ?? fps.map { .fps($0) }
        ?? (keyframes ? .keyframes : .all)
    return (sampling, try o.double("start"), try o.double("end"))
}

@c @implementation
public func tess_encode_dataset(
    _ tokenizer: OpaquePointer?, _ request: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<OpaquePointer?>?
) -> Int32 {
    guarded {
        let model = try borrowTokenizer(tokenizer)
        let r = try Options(
            request, call: "tess_encode_dataset",
            allowed: [
                "inputs", "output", "format", "shard_size", "shard_samples", "vocabulary", "resume", "shard_index",
                "num_shards", "tokens", "batch", "seed", "sampling", "clip_frames", "video_sequences", "progress",
            ])
        guard let paths = try r.strings("inputs"), let output = try r.string("output") else {
            throw BoundaryError.argument("tess_encode_dataset: inputs and output are required")
        }
        let format = try r.choice("format", ShardFormat.self) ?? .jsonl
        let numShards = try r.int("num_shards", in: 1...1_000_000) ?? 1
        let shardIndex = try r.int("shard_index", in: 0...(numShards - 1)) ?? 0
        let limit = try r.int("tokens")
        try limit.map(model.descriptor.checkTokenBudget)
        let encode = EncodeOptions(
            tokenLimit: limit, batchSize: try r.int("batch", in: 1...4096) ?? 8, seed: try r.uint64("seed"))
        let (sampling, start, end) = try frameSampling(try r.object("sampling"))
        let given = try r.string("vocabulary").map { try VisualVocabulary(contentsOf: URL(fileURLWithPath: $0)) }
        let vocabulary = try BatchEncoder.shardVocabulary(given, format: format, for: model.descriptor)

        let scan = try Media.scan(paths)
        let inputs = BatchEncoder.partition(scan.files, index: shardIndex, count: numShards)
        let job = BatchEncoder(tokenizer: model, inputs: inputs)
        job.options = encode
        job.sampling = sampling
        job.timeRange = (start, end)
        job.clipFrames = try r.int("clip_frames", in: 1...Int(Int32.max))
        job.skippedInputs = scan.skipped
        job.fingerprintExtras = ["worker \(shardIndex)/\(numShards)"]  // as `tessera encode --shard-index`
        let prefix = numShards > 1 ? String(format: "w%03d-", shardIndex) : ""
        let showProgress = try r.bool("progress") ?? false
        let startedAt = StopRequests.current
        var stopped = false, lastReport = Date.distantPast
        let summary = try job.run(
            into: URL(fileURLWithPath: output), format: format, vocabulary: vocabulary,
            shardBytes: try r.int("shard_size", in: 1...Int.max) ?? 256 << 20,
            shardSamples: try r.int("shard_samples", in: 1...Int.max), filePrefix: prefix,
            videoSequences: try r.bool("video_sequences") ?? false, resume: try r.bool("resume") ?? false,
            progress: { p in
                guard showProgress, Date().timeIntervalSince(lastReport) >= 1 || p.inputsDone == p.inputsTotal else {
                    return
                }
                lastReport = Date()
                let line = "tessera: \(prefix)\(p.inputsDone)/\(p.inputsTotal) inputs, \(p.samples) samples, "
                FileHandle.standardError.write(Data((line + "\(p.failed) failed, \(p.shards) shards\n").utf8))
            },
            stop: {
                guard StopRequests.current != startedAt else { return .no }
                stopped = true
                return .afterShard
            })
        let json: [String: Any] = [
            "inputs_done": summary.inputsDone, "inputs_total": inputs.count, "samples": summary.samples,
            "failed_inputs": summary.failedInputs, "shards": summary.shards, "output": output, "prefix": prefix,
            "manifest": prefix + "manifest.jsonl", "errors": prefix + "errors.jsonl",
        ]
        if stopped && summary.inputsDone < inputs.count {
            throw BoundaryError(
                status: TESS_ERROR_STOPPED,
                description: "stopped after \(summary.inputsDone)/\(inputs.count) inputs (\(summary.shards) shard(s) "
                    + "committed); continue with resume", path: output)
        }
        try deliver(ResultBox(arrays: [], json: jsonText(json)), to: out)
    }
}
