import Foundation
import TesseraCore

/// A quantizer chosen by an inline description, for scripts and the command line:
///
/// - `fsq:8,5,5,5` — FSQ with these levels; `fsq-sym:2,3,4` with `preserve_symmetry`
/// - `lfq:16`, `lfq:16,codebooks=2,scale=1`, `bsq:16` (spherical LFQ)
/// - `dimwise:bits=6,range=-5:5,std=3` — TokenBridge dimension-wise quantization
/// - `vq:codebook.safetensors[,cosine][,l2]` — nearest codeword of the file's `codebook`
///   tensor `[K, D]` (as `tessera codebook fit` writes it), euclidean by default
///
/// Every row of a `[M, D]` input becomes `idsPerRow` ids.
public enum QuantizerSpec: Sendable {
    /// `fsq:` or `fsq-sym:`: one id per row.
    case fsq(FSQ)
    /// `lfq:` or `bsq:`: one id per codebook per row.
    case lfq(LFQ)
    /// `dimwise:`: one id per channel. `dimension` is the row width when known (parsing leaves it nil).
    case dimensionWise(DimensionWiseQuantizer, dimension: Int?)
    /// `vq:`: one id per row, the nearest codeword of a fitted codebook.
    case vq(VectorQuantizer)
    /// A composite quantizer from a JSON description (``QuantizerFile``).
    case file(any RowQuantizer)

    /// Parses an inline description, or loads a ``QuantizerFile`` when `text` ends in `.json`.
    /// - Parameter text: A description such as `fsq:8,5,5,5`, `lfq:16,codebooks=2`,
    ///   `dimwise:bits=6,range=-5:5,std=3`, `vq:codebook.safetensors,cosine` or a path to a `.json` file.
    /// - Throws: ``QuantizerError`` for an unknown quantizer name, a missing or malformed value, an unknown
    ///   `vq` flag, an unreadable or non-`[K, D]` codebook, or parameters the quantizer rejects.
    public init(parsing text: String) throws {
        if text.hasSuffix(".json") {
            self = .file(try QuantizerFile.load(URL(fileURLWithPath: text)))
            return
        }
        let (name, rest) = text.split(separator: ":", maxSplits: 1).map(String.init).splitFirst()
        func options(_ s: String) -> (positional: [String], named: [String: String]) {
            var positional: [String] = [], named: [String: String] = [:]
            for part in s.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !part.isEmpty {
                if let eq = part.firstIndex(of: "=") {
                    named[String(part[..<eq])] = String(part[part.index(after: eq)...])
                } else {
                    positional.append(part)
                }
            }
            return (positional, named)
        }
        let o = options(rest ?? "")
        func int(_ s: String) throws -> Int {
            guard let v = Int(s) else { throw QuantizerError("'\(s)' is not an integer in quantizer spec '\(text)'") }
            return v
        }
        switch name.lowercased() {
        case "fsq", "fsq-sym":
            guard !o.positional.isEmpty else { throw QuantizerError("fsq needs levels, e.g. fsq:8,5,5,5") }
            self = .fsq(try FSQ(levels: try o.positional.map(int), preserveSymmetry: name.lowercased() == "fsq-sym"))
        case "lfq", "bsq":
            guard let d = o.positional.first else { throw QuantizerError("\(name) needs a dimension, e.g. \(name):16") }
            let scale =
                try o.named["scale"].map { s -> Float in
                    guard let v = Float(s) else { throw QuantizerError("bad scale '\(s)'") }
                    return v
                } ?? 1
            self = .lfq(
                try LFQ(
                    dimension: try int(d), codebooks: try o.named["codebooks"].map(int) ?? 1, scale: scale,
                    spherical: name.lowercased() == "bsq"))
        case "dimwise":
            let bits = try o.named["bits"].map(int) ?? 6
            let std = Double(o.named["std"] ?? "3") ?? 3
            var range: ClosedRange<Float> = -5...5
            if let r = o.named["range"] {
                let parts = r.split(separator: ":").compactMap { Float($0) }
                guard parts.count == 2, parts[0] < parts[1] else {
                    throw QuantizerError("range must be lo:hi, got '\(r)'")
                }
                range = parts[0]...parts[1]
            }
            self = .dimensionWise(try DimensionWiseQuantizer(bits: bits, range: range, stdRange: std), dimension: nil)
        case "vq":
            guard let path = o.positional.first else {
                throw QuantizerError("vq needs a codebook file, e.g. vq:codebook.safetensors")
            }
            let flags = Set(o.positional.dropFirst())
            if let unknown = flags.subtracting(["cosine", "l2"]).first {
                throw QuantizerError("unknown vq option '\(unknown)' (cosine, l2)")
            }
            let book: Tensor
            do {
                book = try SafeTensorsFile(url: URL(fileURLWithPath: path)).tensor("codebook")
            } catch {
                throw QuantizerError("cannot read codebook from \(path): \(error)")
            }
            guard book.rank == 2, book.shape[0] > 0, book.shape[1] > 0 else {
                throw QuantizerError("\(path): 'codebook' must be [K, D], got \(book.shape)")
            }
            let l2 = flags.contains("l2")
            self = .vq(
                VectorQuantizer(
                    codebook: book,
                    metric: flags.contains("cosine") ? .cosine(inputEps: 1e-6) : .euclidean(clampMin: nil),
                    normalizeInputs: l2, normalizeCodebook: l2))
        default:
            throw QuantizerError("unknown quantizer '\(name)' (fsq, fsq-sym, lfq, bsq, dimwise, vq)")
        }
    }

    /// Ids produced per input row of `dimension` channels.
    public func idsPerRow(dimension d: Int) -> Int {
        switch self {
        case .fsq, .vq: return 1
        case .file(let q): return q.idsPerRow
        case .lfq(let q): return q.codebooks
        case .dimensionWise: return d
        }
    }

    /// Channels per input row, when the quantizer fixes them (a dimension-wise quantizer takes
    /// any width unless its description names one).
    public var inputDimension: Int? {
        switch self {
        case .fsq(let q): q.dimension
        case .lfq(let q): q.dimension
        case .dimensionWise(_, let d): d
        case .vq(let q): q.dimension
        case .file(let q): q.inputDimension
        }
    }

    /// Vocabulary size of each id.
    public var vocabularySize: Int {
        switch self {
        case .fsq(let q): return q.codebookSize
        case .lfq(let q): return q.codebookSize
        case .dimensionWise(let q, _): return q.levels
        case .vq(let q): return q.size
        case .file(let q): return q.vocabularySize
        }
    }

    /// Ids (row-major, `idsPerRow` per row) for `[M, D]` latents.
    public func quantize(_ x: Tensor) throws -> [Int] {
        guard x.rank == 2 else { throw QuantizerError("latents must be [M, D], got \(x.shape)") }
        switch self {
        case .fsq(let q): return try q.encode(x).ids
        case .lfq(let q): return try q.encode(x).ids
        case .dimensionWise(let q, _): return q.encode(x)
        case .vq(let q):
            guard x.shape[1] == q.dimension else {
                throw QuantizerError("latents have \(x.shape[1]) channels; the codebook has \(q.dimension)")
            }
            return q.encode(x)
        case .file(let q):
            guard x.shape[1] == q.inputDimension else {
                throw QuantizerError("latents have \(x.shape[1]) channels; the quantizer takes \(q.inputDimension)")
            }
            return try q.quantizeRows(x)
        }
    }

    /// Codes `[M, D]` for ids of `rows` rows.
    public func dequantize(_ ids: [Int], rows: Int, dimension d: Int) throws -> Tensor {
        switch self {
        case .fsq(let q): return try q.decode(ids)
        case .lfq(let q): return try q.decode(ids)
        case .dimensionWise(let q, _): return try q.decode(ids, shape: [rows, d])
        case .vq(let q): return try q.decode(ids)
        case .file(let q): return try q.dequantizeRows(ids)
        }
    }
}

/// Usage statistics of token ids over one codebook. Counts are kept per id seen, so memory
/// follows the ids, not the vocabulary (a file may claim any vocabulary size).
public struct CodebookUsage: Sendable, Equatable {
    /// Number of distinct ids the codebook can produce.
    public var vocabularySize: Int
    /// Number of ids counted.
    public var tokens: Int
    /// Distinct ids seen.
    public var used: Int { counts.count }
    /// used / vocabularySize.
    public var utilization: Double { Double(used) / Double(max(1, vocabularySize)) }
    /// Codes never seen.
    public var dead: Int { vocabularySize - used }
    /// exp(entropy of the id distribution), in [1, used].
    public var perplexity: Double
    /// Occurrences of each id seen (ids never seen are absent).
    public var counts: [Int: Int]

    /// Counts how often each id occurs.
    /// - Parameters:
    ///   - ids: The ids seen, in any order.
    ///   - vocabularySize: Size of the codebook they come from (at least 1).
    /// - Throws: ``QuantizerError`` when the size is not positive or an id is outside `0..<vocabularySize`.
    public init(ids: [Int], vocabularySize: Int) throws {
        guard vocabularySize > 0 else {
            throw QuantizerError("vocabulary size must be positive, got \(vocabularySize)")
        }
        var counts: [Int: Int] = [:]
        for id in ids {
            guard id >= 0 && id < vocabularySize else {
                throw QuantizerError("id \(id) is outside 0..<\(vocabularySize)")
            }
            counts[id, default: 0] += 1
        }
        let total = Double(max(1, ids.count))
        // Summed in id order, so the result does not depend on the dictionary's order.
        let entropy = counts.keys.sorted().reduce(0.0) { h, id in
            let p = Double(counts[id] ?? 0) / total
            return h - p * Foundation.log(p)
        }
        self.vocabularySize = vocabularySize
        tokens = ids.count
        perplexity = Foundation.exp(entropy)
        self.counts = counts
    }

    /// The `k` most used ids with their counts, most used first (ties: smaller id first).
    public func mostUsed(_ k: Int) -> [(id: Int, count: Int)] {
        counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.prefix(max(0, k))
            .map { ($0.key, $0.value) }
    }
}

private extension Array where Element == String {
    func splitFirst() -> (String, String?) { (first ?? "", count > 1 ? self[1] : nil) }
}
