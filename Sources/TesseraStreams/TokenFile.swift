import Foundation
import TesseraCore

/// One encoded item: its tokens and where they came from.
public struct TokenRecord: Sendable, Equatable {
    /// The source file.
    public var source: String
    /// Presentation time of the frame, for video sources.
    public var frameTimestamp: Double?
    /// The tokens (ids or continuous latents) with their shape, vocabularies and model.
    public var tokens: Tokens

    /// A record of `tokens` from `source`.
    /// - Parameters:
    ///   - source: The source file's path.
    ///   - frameTimestamp: Presentation time of the frame in seconds, for video sources.
    ///   - tokens: The tokens.
    public init(source: String, frameTimestamp: Double? = nil, tokens: Tokens) {
        self.source = source
        self.frameTimestamp = frameTimestamp
        self.tokens = tokens
    }
}

/// On-disk formats for token records.
public enum TokenFileFormat: String, Sendable, CaseIterable {
    /// One JSON object per line: source, frame_timestamp, model, shape, vocab, ids (or latents).
    case jsonl
    /// `ids` as an int64 `[records, N]` array; `<file>.json` holds sources and model.
    case npy
    /// `ids` (I64 `[records, N]`) or `latents` (F32 `[records, N, C]`) plus JSON metadata.
    case safetensors

    /// The format a file name implies.
    public init?(path: String) {
        switch URL(fileURLWithPath: path).pathExtension.lowercased() {
        case "jsonl", "json": self = .jsonl
        case "npy": self = .npy
        case "safetensors": self = .safetensors
        default: return nil
        }
    }
}

/// A problem with a token file, naming it.
public struct TokenFileError: Error, CustomStringConvertible, Sendable {
    /// The file the problem is in (or a placeholder such as `"stream"` or `"vocabulary"`).
    public var path: String
    /// What is wrong, in words.
    public var reason: String
    /// An error about the file at `path`.
    /// - Parameters:
    ///   - path: The file the problem is in.
    ///   - reason: What is wrong, in words.
    public init(path: String, reason: String) { self.path = path; self.reason = reason }
    /// `path: reason`.
    public var description: String { "\(path): \(reason)" }
}

/// Reading and writing token records (all writes are atomic: temporary file + rename).
public enum TokenFile {
    /// Writes records to a token file, atomically (for `.npy`, the `<file>.json` sidecar is written after it).
    /// - Parameters:
    ///   - records: The records; `.npy` and `.safetensors` need at least one, all of one shape and kind.
    ///   - url: The file to write.
    ///   - format: The format to write, whatever the extension of `url`.
    /// - Throws: ``TokenFileError`` when `.npy` or `.safetensors` gets no records or records of different
    ///   shapes, continuous tokens are written as `.npy`, or the file cannot be encoded or written.
    public static func write(_ records: [TokenRecord], to url: URL, format: TokenFileFormat) throws {
        let (main, sidecar) = try encoded(records, format: format, path: url.path)
        do {
            try main.write(to: url, options: .atomic)
            if let sidecar { try sidecar.write(to: url.appendingPathExtension("json"), options: .atomic) }
        } catch {
            throw TokenFileError(path: url.path, reason: "cannot write (\(error))")
        }
    }

    /// The file's bytes, and for `.npy` the `<file>.json` sidecar's.
    static func encoded(_ records: [TokenRecord], format: TokenFileFormat, path: String) throws -> (
        Data, sidecar: Data?
    ) {
        switch format {
        case .jsonl:
            var text = ""
            for r in records { text += try jsonLine(r) + "\n" }
            return (Data(text.utf8), nil)
        case .npy, .safetensors:
            guard let first = records.first else {
                throw TokenFileError(path: path, reason: "no records to write")
            }
            guard
                records.allSatisfy({
                    $0.tokens.shape == first.tokens.shape && $0.tokens.isContinuous == first.tokens.isContinuous
                })
            else {
                throw TokenFileError(
                    path: path, reason: "\(format.rawValue) needs token sets of one shape; use jsonl for mixed lengths")
            }
            let meta = try metadata(records)
            if format == .npy {
                guard !first.tokens.isContinuous else {
                    throw TokenFileError(path: path, reason: "continuous tokens go to safetensors or jsonl, not npy")
                }
                let ids = records.flatMap { $0.tokens.ids }
                let data = ids.withUnsafeBufferPointer { p in
                    p.flatMap { v in withUnsafeBytes(of: Int64(v).littleEndian) { Array($0) } }
                }
                return (
                    Data(NPYArray(dtype: .int64, shape: [records.count] + first.tokens.shape, data: data).npyBytes()),
                    Data(meta.utf8)
                )
            }
            let payload: SafeTensorsWriter.Payload
            if first.tokens.isContinuous {
                payload = .float(
                    Tensor.concatenate(
                        records.map { $0.tokens.latents!.reshaped([1] + $0.tokens.latents!.shape) }, axis: 0))
            } else {
                payload = .integers(records.flatMap { $0.tokens.ids }, shape: [records.count] + first.tokens.shape)
            }
            do {
                return (
                    Data(
                        try SafeTensorsWriter.serialize(
                            [(first.tokens.isContinuous ? "latents" : "ids", payload)], metadata: ["tessera": meta])),
                    nil
                )
            } catch {
                throw TokenFileError(path: path, reason: "cannot encode (\(error))")
            }
        }
    }

    /// Reads records from a JSONL, .npy (+ sidecar) or safetensors token file, or from a
    /// shard of an output folder (`.bin` LM shard, WebDataset `.tar`).
    public static func read(_ url: URL) throws -> [TokenRecord] {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw TokenFileError(path: url.path, reason: "no such file")
        }
        switch url.pathExtension.lowercased() {
        case "bin": return try ShardEncoder.readBin(url)
        case "tar": return try ShardEncoder.readTar(url)
        default: break
        }
        guard let format = TokenFileFormat(path: url.path) else {
            throw TokenFileError(
                path: url.path, reason: "unknown token file type (expected .jsonl, .npy, .safetensors, .bin or .tar)")
        }
        switch format {
        case .jsonl:
            guard let text = try? String(contentsOf: url, encoding: .utf8) else {
                throw TokenFileError(path: url.path, reason: "not UTF-8 text")
            }
            var out: [TokenRecord] = []
            for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: true).enumerated() {
                do {
                    out.append(try parse(line: String(line)))
                } catch let e as TokenFileError {
                    throw TokenFileError(path: url.path, reason: "line \(n + 1): \(e.reason)")
                }
            }
            return out
        case .npy:
            let array: NPYArray
            do { array = try NPYArray(contentsOf: url) } catch {
                throw TokenFileError(path: url.path, reason: "\(error)")
            }
            guard [.int64, .int32, .uint16, .uint32, .int16, .uint8].contains(array.dtype), array.shape.count >= 2
            else {
                throw TokenFileError(
                    path: url.path, reason: "expected an integer array [records, N], got \(array.dtype) \(array.shape)")
            }
            let ids = array.integers() ?? []
            let meta = try sidecar(url.appendingPathExtension("json"), count: array.shape[0])
            return split(ids: ids, shape: array.shape, meta: meta)
        case .safetensors:
            let file: SafeTensorsFile
            do { file = try SafeTensorsFile(url: url) } catch {
                throw TokenFileError(path: url.path, reason: "\(error)")
            }
            let meta = try file.metadata["tessera"].map { try decodeMetadata(Data($0.utf8), path: url.path) }
            if let entry = file.entries["ids"] {
                let ids = try file.integers("ids")
                return split(ids: ids, shape: entry.shape, meta: meta ?? Metadata.unnamed(entry.shape[0]))
            }
            guard file.entries["latents"] != nil, let latents = try? file.tensor("latents"), latents.rank == 3 else {
                throw TokenFileError(path: url.path, reason: "no 'ids' or 'latents' [records, N, C] tensor")
            }
            let m = meta ?? Metadata.unnamed(latents.shape[0])
            return (0..<latents.shape[0]).map { i in
                let t = latents.slice(axis: 0, i..<(i + 1)).reshaped(Array(latents.shape.dropFirst()))
                return TokenRecord(
                    source: m.sources[safe: i] ?? "", frameTimestamp: m.timestamps?[safe: i] ?? nil,
                    tokens: Tokens(ids: [], shape: [t.shape[0]], vocabularySizes: [], model: m.model, latents: t))
            }
        }
    }

    // MARK: JSONL

    static func jsonLine(_ r: TokenRecord) throws -> String {
        var object: [String: Any] = ["source": r.source, "model": r.tokens.model, "shape": r.tokens.shape]
        if let t = r.frameTimestamp { object["frame_timestamp"] = t }
        if let latents = r.tokens.latents {
            let c = latents.shape.last ?? 1
            object["latents"] = (0..<(latents.count / c)).map {
                Array(latents.scalars[($0 * c)..<(($0 + 1) * c)]).map(Double.init)
            }
        } else {
            object["vocab"] = r.tokens.vocabularySizes
            object["ids"] = r.tokens.ids
        }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }

    /// A JSON number that is an integer of at most 15 digits (ids, shapes, vocabulary sizes).
    private static func integer(_ v: NSNumber, _ what: String) throws -> Int {
        let d = v.doubleValue
        guard d == d.rounded(), abs(d) < 1e15 else {
            throw TokenFileError(path: "", reason: "\(what) \(v) is not an integer below 10^15")
        }
        return Int(d)
    }

    static func parse(line: String) throws -> TokenRecord {
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            throw TokenFileError(path: "", reason: "not a JSON object")
        }
        let source = object["source"] as? String ?? ""
        let model = object["model"] as? String ?? ""
        let timestamp = (object["frame_timestamp"] as? NSNumber)?.doubleValue
        if let rows = object["latents"] as? [[NSNumber]] {
            let c = rows.first?.count ?? 0
            guard rows.allSatisfy({ $0.count == c }) else { throw TokenFileError(path: "", reason: "ragged latents") }
            let t = Tensor(shape: [rows.count, c], scalars: rows.flatMap { $0.map { $0.floatValue } })
            return TokenRecord(
                source: source, frameTimestamp: timestamp,
                tokens: Tokens(ids: [], shape: [rows.count], vocabularySizes: [], model: model, latents: t))
        }
        guard let raw = object["ids"] as? [NSNumber] else { throw TokenFileError(path: "", reason: "no ids") }
        let ids = try raw.map { try integer($0, "id") }
        let shape = try (object["shape"] as? [NSNumber])?.map { try integer($0, "shape entry") } ?? [ids.count]
        // Checked: a shape read from a file may be negative or overflow when multiplied out.
        let count = shape.reduce(Optional(1)) { p, d in
            guard let p, d >= 0 else { return nil }
            let (q, overflow) = p.multipliedReportingOverflow(by: d)
            return overflow ? nil : q
        }
        guard count == ids.count else {
            throw TokenFileError(path: "", reason: "\(ids.count) ids do not fill shape \(shape)")
        }
        let vocab = try (object["vocab"] as? [NSNumber])?.map { try integer($0, "vocab entry") } ?? []
        if let bad = vocab.first(where: { $0 < 1 }) {
            throw TokenFileError(path: "", reason: "vocabulary size \(bad) is not positive")
        }
        return TokenRecord(
            source: source, frameTimestamp: timestamp,
            tokens: Tokens(ids: ids, shape: shape, vocabularySizes: vocab, model: model))
    }

    // MARK: metadata for array formats

    struct Metadata: Codable {
        var model: String
        var vocab: [Int]
        var sources: [String]
        var timestamps: [Double?]?
        static func unnamed(_ n: Int) -> Metadata {
            Metadata(model: "", vocab: [], sources: Array(repeating: "", count: n), timestamps: nil)
        }
    }

    static let metadataEncoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = .sortedKeys  // deterministic bytes (shards must be reproducible)
        return e
    }()

    static func metadata(_ records: [TokenRecord]) throws -> String {
        let m = Metadata(
            model: records.first?.tokens.model ?? "", vocab: records.first?.tokens.vocabularySizes ?? [],
            sources: records.map(\.source),
            timestamps: records.contains { $0.frameTimestamp != nil } ? records.map(\.frameTimestamp) : nil)
        return String(decoding: try metadataEncoder.encode(m), as: UTF8.self)
    }

    static func decodeMetadata(_ data: Data, path: String) throws -> Metadata {
        do { return try JSONDecoder().decode(Metadata.self, from: data) } catch {
            throw TokenFileError(path: path, reason: "bad token metadata (\(error))")
        }
    }

    static func sidecar(_ url: URL, count: Int) throws -> Metadata {
        guard let data = try? Data(contentsOf: url) else { return Metadata.unnamed(count) }
        return try decodeMetadata(data, path: url.path)
    }

    static func split(ids: [Int], shape: [Int], meta: Metadata) -> [TokenRecord] {
        let per = shape.dropFirst().reduce(1, *)
        return (0..<shape[0]).map { i in
            TokenRecord(
                source: meta.sources[safe: i] ?? "", frameTimestamp: meta.timestamps?[safe: i] ?? nil,
                tokens: Tokens(
                    ids: Array(ids[(i * per)..<((i + 1) * per)]), shape: Array(shape.dropFirst()),
                    vocabularySizes: meta.vocab, model: meta.model))
        }
    }
}

extension Array {
    subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
