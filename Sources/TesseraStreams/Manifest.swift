import Foundation

/// One encoded sample in a run's `manifest.jsonl`.
public struct ManifestEntry: Codable, Sendable, Equatable {
    /// Unique key of the sample in the run (its WebDataset key too).
    public var key: String
    /// Path of the source file, as the input list gave it.
    public var source: String
    /// Size of the source file in bytes.
    public var sourceBytes: Int
    /// SHA-256 of the source file's bytes.
    public var sha256: String
    /// Presentation time of the frame, for video sources.
    public var frameTimestamp: Double?
    /// The model that produced the tokens.
    public var model: String
    /// Token positions in the sample.
    public var tokens: Int
    /// The shard file holding the sample, and its position there (frames of one video share
    /// a position when the run writes video sequences).
    public var shard: String
    /// Position of the sample in its shard, from 0 (frames of one video share it with video sequences).
    public var index: Int
    /// Position of the source in the run's input list.
    public var inputIndex: Int
}

/// One input that could not be encoded, in a run's `errors.jsonl`.
public struct FailureEntry: Codable, Sendable, Equatable {
    /// Path of the input, as the input list gave it.
    public var input: String
    /// Position of the input in the run's input list.
    public var inputIndex: Int
    /// Why it could not be encoded.
    public var reason: String
}

/// One committed shard in a run's `shards.jsonl`, the journal that `--resume` trusts: a shard
/// (and its manifest and error lines) counts only once this line is complete.
public struct ShardEntry: Codable, Sendable, Equatable {
    /// File name of the shard (nil when every input of the range failed).
    public var shard: String?
    /// Every file written for it (a `.bin` shard has its `.idx.npy` and Megatron `.idx`).
    public var files: [String]
    /// Samples (images and frames) written to the shard.
    public var samples: Int
    /// Inputs of the range that failed (their lines are in `errors.jsonl`).
    public var failed: Int
    /// Input positions `[start, end)` it covers.
    public var inputs: [Int]
    /// Total size in bytes of the files written for the shard.
    public var bytes: Int
}

/// What a run was asked to do, in `run.json`; `--resume` refuses a folder made by a different run.
public struct RunInfo: Codable, Sendable, Equatable {
    /// The shard format's raw value (``ShardFormat``).
    public var format: String
    /// The model that encodes the inputs.
    public var model: String
    /// Hash of the input list and every option that changes the output.
    public var fingerprint: String
    /// Number of inputs in the run's input list.
    public var inputs: Int
    /// Estimated bytes after which a shard is closed.
    public var shardBytes: Int
    /// Samples after which a shard is closed, if limited.
    public var shardSamples: Int?
    /// Prefix of every file name the run writes.
    public var filePrefix: String
    /// Element type of `.bin` shards (`uint16` or `uint32`); nil for other formats.
    public var tokenDtype: String?
    /// True when a `.bin` run writes one sample per video; nil otherwise.
    public var videoSequences: Bool?
    /// Files in the input folders that are neither images nor videos (not encoded).
    public var skipped: [String]?
}

/// JSON Lines helpers shared by the journal files: snake_case keys, sorted, one object per line.
enum JSONLines {
    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()

    static func line<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try encoder.encode(value), as: UTF8.self) + "\n"
    }

    /// The complete, parseable lines of a file; a torn last line (a run killed mid-append) is dropped.
    static func read<T: Decodable>(_ type: T.Type, from url: URL) throws -> [T] {
        guard FileManager.default.fileExists(atPath: url.path) else { return [] }
        guard let text = try? String(contentsOf: url, encoding: .utf8) else {
            throw TokenFileError(path: url.path, reason: "not UTF-8 text")
        }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        if !text.hasSuffix("\n") { lines.removeLast() }  // torn or empty tail
        var out: [T] = []
        for (n, line) in lines.enumerated() where !line.isEmpty {
            do { out.append(try VisualVocabulary.decoder.decode(T.self, from: Data(line.utf8))) } catch {
                if n == lines.count - 1 { break }  // torn last line
                throw TokenFileError(path: url.path, reason: "line \(n + 1) is not a valid record (\(error))")
            }
        }
        return out
    }

    /// Rewrites a journal file with exactly `values` (atomically).
    static func rewrite<T: Encodable>(_ values: [T], to url: URL) throws {
        var text = ""
        for v in values { text += try line(v) }
        try Data(text.utf8).write(to: url, options: .atomic)
    }

    /// Appends lines in one write.
    static func append(_ text: String, to url: URL) throws {
        guard !text.isEmpty else { return }
        if !FileManager.default.fileExists(atPath: url.path) {
            guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
                throw TokenFileError(path: url.path, reason: "cannot create")
            }
        }
        let handle = try FileHandle(forWritingTo: url)
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(text.utf8))
        try handle.synchronize()
    }
}
