import Foundation
import TesseraCore

/// File formats of the shards a run writes into an output folder.
public enum ShardFormat: String, Sendable, CaseIterable {
    /// JSON Lines records (source, frame_timestamp, model, shape, vocab, ids), as single token files.
    case jsonl
    /// `ids` int64 `[samples, N]` + `<shard>.npy.json` metadata (fixed-length tokens).
    case npy
    /// `ids` or `latents` with metadata (fixed-length tokens).
    case safetensors
    /// LM training shards: the samples' LM streams (see ``VisualVocabulary``) concatenated as
    /// little-endian uint16/uint32 (`numpy.memmap`), plus `<shard>.idx.npy`, int64
    /// `[samples, 2]` of (offset, length) in tokens, and `<shard>.idx`, Megatron-LM's binary
    /// index, so `<shard>` is also a Megatron indexed dataset (one document per sample).
    case bin
    /// WebDataset tar: per sample `<key>.json` (source, timestamp, model, shape, vocab) and
    /// `<key>.ids.npy` (or `<key>.latents.npy`).
    case tar

    /// Extension of the shard file.
    public var fileExtension: String { rawValue }

    /// The single-file token format of the same name (nil for `bin` and `tar`, which only shard).
    public var tokenFileFormat: TokenFileFormat? { TokenFileFormat(rawValue: rawValue) }
}

/// Serializes the samples of one shard.
enum ShardEncoder {
    /// The files of a shard (name → bytes), in the order they must be renamed into place.
    /// `samples`, for `.bin`: the sample position of each record; records sharing one (a
    /// video's frames) become one stream joined by the frame separator.
    static func files(
        _ records: [(key: String, record: TokenRecord)], stem: String, format: ShardFormat,
        vocabulary: VisualVocabulary?, samples: [Int]? = nil
    ) throws -> [(name: String, data: Data)] {
        let name = stem + "." + format.fileExtension
        switch format {
        case .jsonl:
            var text = ""
            for r in records { text += try TokenFile.jsonLine(r.record) + "\n" }
            return [(name, Data(text.utf8))]
        case .npy, .safetensors:
            let (data, sidecar) = try TokenFile.encoded(
                records.map(\.record), format: format == .npy ? .npy : .safetensors, path: name)
            return [(name, data)] + (sidecar.map { [(name + ".json", $0)] } ?? [])
        case .bin:
            guard let vocabulary else {
                throw TokenFileError(path: name, reason: "bin shards need a visual vocabulary")
            }
            var stream: [Int] = [], index: [Int64] = []
            let positions = samples ?? Array(records.indices)
            var start = 0
            while start < records.count {
                var end = start + 1
                while end < records.count && positions[end] == positions[start] { end += 1 }
                let s = try vocabulary.stream(records[start..<end].map(\.record.tokens))
                index += [Int64(stream.count), Int64(s.count)]
                stream += s
                start = end
            }
            let dtype = vocabulary.storageType
            var data = Data(capacity: stream.count * dtype.size)
            for id in stream {
                if dtype == .uint16 {
                    withUnsafeBytes(of: UInt16(id).littleEndian) { data.append(contentsOf: $0) }
                } else {
                    withUnsafeBytes(of: UInt32(id).littleEndian) { data.append(contentsOf: $0) }
                }
            }
            let idx = NPYArray(
                dtype: .int64, shape: [index.count / 2, 2],
                data: index.flatMap { v in withUnsafeBytes(of: v.littleEndian) { Array($0) } })
            var files = [(name, data), (stem + ".idx.npy", Data(idx.npyBytes()))]
            // Megatron has no uint32: its index declares int32, so ids must stay below 2³¹
            if max(vocabulary.maxID, (vocabulary.lmVocabularySize ?? 0) - 1) < Int(Int32.max) {
                let lengths = stride(from: 1, to: index.count, by: 2).map { Int(index[$0]) }
                files.append((stem + ".idx", megatronIndex(lengths: lengths, storage: dtype)))
            }
            return files
        case .tar:
            var members: [TarArchive.Member] = []
            for r in records {
                let t = r.record.tokens
                var meta: [String: Any] = ["source": r.record.source, "model": t.model, "shape": t.shape]
                if let ts = r.record.frameTimestamp { meta["frame_timestamp"] = ts }
                if !t.isContinuous { meta["vocab"] = t.vocabularySizes }
                members.append(
                    .init(
                        name: r.key + ".json",
                        data: try JSONSerialization.data(
                            withJSONObject: meta, options: [.sortedKeys, .withoutEscapingSlashes])))
                if let latents = t.latents {
                    let bytes = latents.scalars.flatMap { v in
                        withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) }
                    }
                    members.append(
                        .init(
                            name: r.key + ".latents.npy",
                            data: Data(NPYArray(dtype: .float32, shape: latents.shape, data: bytes).npyBytes())))
                } else {
                    let bytes = t.ids.flatMap { v in withUnsafeBytes(of: Int64(v).littleEndian) { Array($0) } }
                    members.append(
                        .init(
                            name: r.key + ".ids.npy",
                            data: Data(NPYArray(dtype: .int64, shape: t.shape, data: bytes).npyBytes())))
                }
            }
            return [(name, try TarArchive.archive(members))]
        }
    }

    /// Megatron-LM's indexed-dataset index (`megatron.core.datasets.indexed_dataset`, the
    /// `MMIDIDX` header, version 1) for a `.bin` holding `lengths` sequences back to back, each
    /// its own document: dtype code, sequence and document counts, int32 lengths, int64 byte
    /// pointers, int64 document boundaries `0…n`. Megatron has no uint32: uint32 shards are
    /// declared int32 (the same bytes), and written only when every id is below 2³¹.
    static func megatronIndex(lengths: [Int], storage: DType) -> Data {
        var data = Data("MMIDIDX\0\0".utf8)
        func append<T: FixedWidthInteger>(_ value: T) {
            withUnsafeBytes(of: value.littleEndian) { data.append(contentsOf: $0) }
        }
        append(UInt64(1))  // version
        append(UInt8(storage == .uint16 ? 8 : 4))  // DType.uint16 = 8, DType.int32 = 4
        append(UInt64(lengths.count))
        append(UInt64(lengths.count + 1))  // document boundaries
        for length in lengths { append(Int32(length)) }
        var pointer: Int64 = 0
        for length in lengths {
            append(pointer)
            pointer += Int64(length * storage.size)
        }
        for document in 0...lengths.count { append(Int64(document)) }
        return data
    }

    /// Rough serialized size of a record, for rotating shards by size (deterministic).
    static func estimatedBytes(_ r: TokenRecord, format: ShardFormat, vocabulary: VisualVocabulary?) -> Int {
        let n = r.tokens.latents?.count ?? r.tokens.ids.count
        switch format {
        case .jsonl: return 120 + r.source.utf8.count + n * (r.tokens.isContinuous ? 12 : 6)
        case .npy, .safetensors: return n * (r.tokens.isContinuous ? 4 : 8)
        case .bin: return (n + 4) * (vocabulary?.storageType.size ?? 2) + 16
        case .tar: return 2048 + r.source.utf8.count + n * (r.tokens.isContinuous ? 4 : 8)
        }
    }

    // MARK: reading

    /// Records of a `.bin` shard: its `.idx.npy`, the run's `vocabulary.json` and, for sources,
    /// the run's `manifest.jsonl`, all next to it (with the worker prefix of the shard's name).
    static func readBin(_ url: URL) throws -> [TokenRecord] {
        let folder = url.deletingLastPathComponent()
        let stem = url.deletingPathExtension().lastPathComponent
        // A worker's files share its prefix (`w003-shard-00000.bin`, `w003-vocabulary.json`).
        let prefix = stem.range(of: "shard-").map { String(stem[..<$0.lowerBound]) } ?? ""
        let vocabulary = try VisualVocabulary(contentsOf: folder.appendingPathComponent(prefix + "vocabulary.json"))
        let idxURL = folder.appendingPathComponent(stem + ".idx.npy")
        let index: NPYArray
        do { index = try NPYArray(contentsOf: idxURL) } catch {
            throw TokenFileError(path: idxURL.path, reason: "\(error)")
        }
        guard index.dtype == .int64, index.shape.count == 2, index.shape[1] == 2 else {
            throw TokenFileError(
                path: idxURL.path, reason: "expected int64 [samples, 2], got \(index.dtype) \(index.shape)")
        }
        guard let data = try? Data(contentsOf: url, options: .mappedIfSafe) else {
            throw TokenFileError(path: url.path, reason: "cannot read")
        }
        let size = vocabulary.storageType.size
        guard data.count % size == 0 else {
            throw TokenFileError(path: url.path, reason: "size is not a multiple of \(size)-byte tokens")
        }
        let total = data.count / size
        let pairs = index.integers() ?? []
        let manifest =
            (try? JSONLines.read(ManifestEntry.self, from: folder.appendingPathComponent(prefix + "manifest.jsonl")))?
            .filter { $0.shard == url.lastPathComponent } ?? []
        let bySample = Dictionary(grouping: manifest, by: \.index)  // a video sequence's frames share one
        return try data.withUnsafeBytes { raw in
            try (0..<index.shape[0]).map { i in
                let (start, length) = (pairs[2 * i], pairs[2 * i + 1])
                guard start >= 0, length >= 0, start + length <= total else {
                    throw TokenFileError(
                        path: idxURL.path,
                        reason: "sample \(i) (\(start), \(length)) lies outside the \(total)-token shard")
                }
                let stream = (start..<(start + length)).map { j -> Int in
                    size == 2
                        ? Int(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: j * 2, as: UInt16.self)))
                        : Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: j * 4, as: UInt32.self)))
                }
                let entries = bySample[i] ?? []
                let frames: [Tokens]
                do { frames = try vocabulary.tokens(fromStream: stream, model: entries.first?.model ?? "") } catch let e
                    as TokenFileError
                {
                    throw TokenFileError(path: url.path, reason: "sample \(i): \(e.reason)")
                }
                return frames.enumerated().map { f, tokens in
                    let entry = entries.count == frames.count ? entries[f] : nil
                    return TokenRecord(
                        source: entry?.source ?? "", frameTimestamp: entry?.frameTimestamp, tokens: tokens)
                }
            }.flatMap { $0 }
        }
    }

    /// Records of a WebDataset tar shard, in member order.
    static func readTar(_ url: URL) throws -> [TokenRecord] {
        guard let data = try? Data(contentsOf: url, options: .mappedIfSafe) else {
            throw TokenFileError(path: url.path, reason: "cannot read")
        }
        let members = try TarArchive.members(of: data, path: url.path)
        var meta: [String: [String: Any]] = [:], order: [String] = []
        var payload: [String: (kind: String, data: Data)] = [:]
        for m in members {
            let base = (m.name as NSString).lastPathComponent
            guard let dot = base.firstIndex(of: ".") else { continue }
            let key = String(base[..<dot]), ext = String(base[base.index(after: dot)...])
            switch ext {
            case "json":
                guard let object = try? JSONSerialization.jsonObject(with: m.data) as? [String: Any] else {
                    throw TokenFileError(path: url.path, reason: "\(m.name) is not a JSON object")
                }
                meta[key] = object
                order.append(key)
            case "ids.npy", "latents.npy": payload[key] = (ext, m.data)
            default: continue
            }
        }
        return try order.map { key in
            guard let m = meta[key], let p = payload[key] else {
                throw TokenFileError(path: url.path, reason: "sample \(key) has no tokens")
            }
            let array: NPYArray
            do { array = try NPYArray(npyBytes: [UInt8](p.data), path: "\(url.path):\(key)") } catch {
                throw TokenFileError(path: url.path, reason: "\(key): \(error)")
            }
            let model = m["model"] as? String ?? ""
            let shape = (m["shape"] as? [NSNumber])?.map(\.intValue) ?? array.shape
            let timestamp = (m["frame_timestamp"] as? NSNumber)?.doubleValue
            let tokens: Tokens
            if p.kind == "latents.npy" {
                tokens = Tokens(
                    ids: [], shape: [array.shape.first ?? 0], vocabularySizes: [], model: model, latents: array.tensor()
                )
            } else {
                guard let ids = array.integers() else {
                    throw TokenFileError(path: url.path, reason: "\(key): ids are not integers")
                }
                guard shape.reduce(1, *) == ids.count else {
                    throw TokenFileError(path: url.path, reason: "\(key): \(ids.count) ids do not fill \(shape)")
                }
                tokens = Tokens(
                    ids: ids, shape: shape, vocabularySizes: (m["vocab"] as? [NSNumber])?.map(\.intValue) ?? [],
                    model: model)
            }
            return TokenRecord(source: m["source"] as? String ?? "", frameTimestamp: timestamp, tokens: tokens)
        }
    }
}
