// The result of a reduction, and the file `tessera prune` writes: one safetensors file holding,
// per input, the reduced features with their original positions, readable back by any
// safetensors reader (Python included) or by ``ReducedTokenFile``.
import Foundation
import TesseraCore

/// Reduced tokens of one image (or one video) with where they came from.
public struct ReducedVisionTokens: Sendable, Equatable {
    /// `[M, C]` reduced features (rows with an index first, in index order; then any rows without
    /// one: VisionZip's contextual tokens, PruMerge's sum of the pruned tokens).
    public var features: Tensor
    /// Original patch index of each indexed feature row, ascending. For merges, the smallest
    /// patch index of the merged group. Video: `frame · N + patch`. HiRED tiles: see `partitions`.
    public var indices: [Int]
    /// `(t, h, w)` of every index (t = frame; HiRED tiles: h, w on the high-resolution grid).
    public var positions: [[Int]]
    /// Merges: the feature row of every patch (`[N]`, video `[F · N]`).
    public var slots: [Int]?
    /// Merges: how many patches every feature row holds.
    public var sizes: [Float]?
    /// HiRED with tiles: the partition of every index (0 = full view, 1… = tiles in raster order);
    /// indices are then local to their partition's grid.
    public var partitions: [Int]?
    /// Patch grid of one view (`grid × grid`).
    public var grid: Int
    /// Number of patches the reduction started from.
    public var inputTokens: Int

    /// A reduction result; see the properties.
    public init(
        features: Tensor, indices: [Int], positions: [[Int]], slots: [Int]?, sizes: [Float]?,
        partitions: [Int]?, grid: Int, inputTokens: Int
    ) {
        self.features = features
        self.indices = indices
        self.positions = positions
        self.slots = slots
        self.sizes = sizes
        self.partitions = partitions
        self.grid = grid
        self.inputTokens = inputTokens
    }
}

/// The file of reduced tokens `tessera prune` writes. Per input `i`: `features.i` `[M, C]`
/// (float32), `indices.i` `[M']` and `positions.i` `[M', 3]` (int64), and when present
/// `slots.i`, `sizes.i`, `partitions.i`, `timestamps.i` (video frame times, seconds). The
/// `__metadata__` entry `tessera` is a JSON object with `sources`, `method`, `layer`, `grid`,
/// `encoder`, `input_tokens` and, for ToMe, `r_schedule`.
public struct ReducedTokenFile: Sendable, Equatable {
    /// One input's reduced tokens.
    public struct Entry: Sendable, Equatable {
        /// The input file.
        public var source: String
        /// Its tokens (`features` as written: after a projector when one was applied).
        public var tokens: ReducedVisionTokens
        /// Video: the times of the sampled frames, in seconds.
        public var timestamps: [Double]?

        /// - Parameters:
        ///   - source: the input file.
        ///   - tokens: its reduced tokens.
        ///   - timestamps: a video's frame times, in seconds.
        public init(source: String, tokens: ReducedVisionTokens, timestamps: [Double]? = nil) {
            self.source = source
            self.tokens = tokens
            self.timestamps = timestamps
        }
    }

    /// One entry per input, in input order.
    public var entries: [Entry]
    /// The reduction method's name.
    public var method: String
    /// The feature layer as requested (negative from the end).
    public var layer: Int
    /// The encoder directory.
    public var encoder: String
    /// ToMe's r per layer, for merges.
    public var rSchedule: [Int]?

    /// - Parameters:
    ///   - entries: the inputs' reduced tokens.
    ///   - method: the reduction method's name.
    ///   - layer: the feature layer as requested.
    ///   - encoder: the encoder directory.
    ///   - rSchedule: ToMe's r per layer, for merges.
    public init(entries: [Entry], method: String, layer: Int, encoder: String, rSchedule: [Int]? = nil) {
        self.entries = entries
        self.method = method
        self.layer = layer
        self.encoder = encoder
        self.rSchedule = rSchedule
    }

    struct Metadata: Codable {
        var sources: [String]
        var method: String
        var layer: Int
        var grid: Int
        var encoder: String
        var input_tokens: [Int]?
        var r_schedule: [Int]?
    }

    /// Writes the file atomically.
    public func write(to url: URL) throws {
        var tensors: [(String, SafeTensorsWriter.Payload)] = []
        for (i, entry) in entries.enumerated() {
            let t = entry.tokens
            tensors.append(("features.\(i)", .float(t.features)))
            tensors.append(("indices.\(i)", .integers(t.indices, shape: [t.indices.count])))
            tensors.append(("positions.\(i)", .integers(t.positions.flatMap { $0 }, shape: [t.positions.count, 3])))
            if let slots = t.slots { tensors.append(("slots.\(i)", .integers(slots, shape: [slots.count]))) }
            if let sizes = t.sizes {
                tensors.append(("sizes.\(i)", .float(Tensor(shape: [sizes.count], scalars: sizes))))
            }
            if let p = t.partitions { tensors.append(("partitions.\(i)", .integers(p, shape: [p.count]))) }
            if let times = entry.timestamps {
                tensors.append(
                    ("timestamps.\(i)", .float(Tensor(shape: [times.count], scalars: times.map(Float.init)))))
            }
        }
        let meta = Metadata(
            sources: entries.map(\.source), method: method, layer: layer,
            grid: entries.first?.tokens.grid ?? 0, encoder: encoder,
            input_tokens: entries.map(\.tokens.inputTokens), r_schedule: rSchedule)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let json = String(decoding: try encoder.encode(meta), as: UTF8.self)
        try SafeTensorsWriter.write(tensors, metadata: ["tessera": json], to: url)
    }

    /// Reads a file written by ``write(to:)``.
    /// - Throws: `SafeTensorsError` naming the file when it is not such a file.
    public init(contentsOf url: URL) throws {
        let file = try SafeTensorsFile(url: url)
        func fail(_ reason: String) -> SafeTensorsError { SafeTensorsError(path: url.path, reason: reason) }
        guard let json = file.metadata["tessera"],
            let meta = try? JSONDecoder().decode(Metadata.self, from: Data(json.utf8))
        else {
            throw fail("no Tessera reduction metadata (not written by `tessera prune`)")
        }
        var entries: [Entry] = []
        for (i, source) in meta.sources.enumerated() {
            func optional<T>(_ name: String, _ read: (String) throws -> T) throws -> T? {
                file.entries["\(name).\(i)"] == nil ? nil : try read("\(name).\(i)")
            }
            let features = try file.tensor("features.\(i)")
            let indices = try file.integers("indices.\(i)")
            let flat = try file.integers("positions.\(i)")
            guard flat.count == 3 * indices.count else { throw fail("positions.\(i) does not hold 3 values per index") }
            let positions = (0..<indices.count).map { Array(flat[(3 * $0)..<(3 * $0 + 3)]) }
            let inputTokens =
                meta.input_tokens.flatMap { $0.indices.contains(i) ? $0[i] : nil } ?? meta.grid * meta.grid
            let tokens = ReducedVisionTokens(
                features: features, indices: indices, positions: positions, slots: try optional("slots", file.integers),
                sizes: try optional("sizes") { try file.tensor($0).scalars },
                partitions: try optional("partitions", file.integers),
                grid: meta.grid, inputTokens: inputTokens)
            let times = try optional("timestamps") { try file.tensor($0).scalars.map(Double.init) }
            entries.append(Entry(source: source, tokens: tokens, timestamps: times))
        }
        self.init(
            entries: entries, method: meta.method, layer: meta.layer, encoder: meta.encoder, rSchedule: meta.r_schedule)
    }
}
