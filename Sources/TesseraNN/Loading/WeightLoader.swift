import TesseraCore

/// Everything wrong with a checkpoint for a model, reported at once.
public struct WeightLoadError: Error, CustomStringConvertible, Sendable {
    /// A key whose stored shape differs from the shape the model asked for.
    public struct Mismatch: Sendable, Equatable {
        /// The model's key.
        public var key: String
        /// The shape the model asked for.
        public var expected: [Int]
        /// The shape in the checkpoint.
        public var found: [Int]
    }
    /// The checkpoint's path.
    public var path: String
    /// Keys the model asked for that the checkpoint lacks.
    public var missing: [String]
    /// Checkpoint keys no layer used (and no ignore rule covers).
    public var unused: [String]
    /// Keys with the wrong shape.
    public var mismatched: [Mismatch]
    /// Keys that exist but could not be read (bad dtype, …).
    public var unreadable: [String]
    /// Why binding stopped before the model was complete, when it did: the model asked for more
    /// tensors the checkpoint cannot supply than a stand-in budget allows (a config far larger
    /// than its weights), so the keys above are only the first problems.
    public var stopped: String? = nil

    /// Every problem, one per line, under the checkpoint's path.
    public var description: String {
        var lines = ["\(path): checkpoint does not match the model"]
        if !missing.isEmpty { lines.append("  missing keys (\(missing.count)): " + missing.joined(separator: ", ")) }
        if !unused.isEmpty { lines.append("  unused keys (\(unused.count)): " + unused.joined(separator: ", ")) }
        for m in mismatched { lines.append("  shape mismatch: \(m.key) is \(m.found), model expects \(m.expected)") }
        if !unreadable.isEmpty { lines.append("  unreadable keys: " + unreadable.joined(separator: ", ")) }
        if let stopped { lines.append("  stopped: " + stopped) }
        return lines.joined(separator: "\n")
    }
}

/// Where a model's weights come from.
public enum WeightSource: Sendable {
    /// A checkpoint, bound strictly by key names.
    case checkpoint(Checkpoint)
    /// Seeded random weights of whatever shapes the model asks for (benchmarks, smoke tests):
    /// LayerNorm/GroupNorm-style 1-D `weight`s are 1, other tensors uniform in ±1/√fan-in.
    /// Optional tensors are absent.
    case random(seed: UInt64)
}

/// Binds checkpoint tensors to layers by their exact state-dict keys, strictly: after
/// construction, ``finish()`` reports every missing key, unused key and shape mismatch.
///
/// Known checkpoint quirks are handled by `renames` (applied to checkpoint keys before
/// matching, first matching prefix wins) and `ignored` (key prefixes that may stay unused).
public final class WeightLoader {
    /// The checkpoint (nil for random weights).
    public let checkpoint: Checkpoint?
    private var random: SeededRandom?
    private var available: [String: String] = [:]  // model key → checkpoint key
    private var used = Set<String>()
    private var missing: [String] = []
    private var mismatched: [WeightLoadError.Mismatch] = []
    private var unreadable: [String] = []
    private let ignored: [String]

    /// A loader over `source`; see ``init(_:renames:ignored:rewrite:)``.
    public convenience init(
        _ source: WeightSource, renames: [(from: String, to: String)] = [], ignored: [String] = []
    ) throws(MemoryLimitError) {
        switch source {
        case .checkpoint(let checkpoint): try self.init(checkpoint, renames: renames, ignored: ignored)
        case .random(let seed): self.init(randomSeed: seed)
        }
    }

    private init(randomSeed: UInt64) {
        checkpoint = nil
        random = SeededRandom(seed: randomSeed)
        ignored = []
    }

    /// A loader over a checkpoint.
    /// - Parameters:
    ///   - renames: checkpoint key prefixes rewritten before matching (first match wins).
    ///   - ignored: key prefixes that may stay unused.
    ///   - rewrite: maps each key (after `renames`) to the name layers ask for, for layouts that
    ///     differ inside names (LlamaGen's `conv_blocks.{i}.res.{j}` for `down.{i}.block.{j}`).
    /// - Throws: ``MemoryLimitError`` when the tensors the model may bind (every key not ignored)
    ///   would not fit the ``MemoryLimit`` as float32, checked before any is read.
    public init(
        _ checkpoint: Checkpoint, renames: [(from: String, to: String)] = [], ignored: [String] = [],
        rewrite: (String) -> String = { $0 }
    ) throws(MemoryLimitError) {
        self.checkpoint = checkpoint
        self.ignored = ignored
        var bytes = 0
        for key in checkpoint.names {
            var name = key
            if let rule = renames.first(where: { key.hasPrefix($0.from) }) {
                name = rule.to + key.dropFirst(rule.from.count)
            }
            let modelKey = rewrite(name)
            available[modelKey] = key
            if !ignored.contains(where: { modelKey.hasPrefix($0) }), let shape = checkpoint.entry(key)?.shape {
                // Headers were checked against the files' sizes, so these products are bounded.
                bytes = bytes.addingReportingOverflow(4 * shape.reduce(1, *)).partialValue
            }
        }
        weightBytes = bytes
        try MemoryLimit.check(bytes, for: "binding the weights as float32", path: checkpoint.path)
    }

    /// The float32 bytes of every checkpoint tensor the model may bind (0 for random weights).
    public private(set) var weightBytes = 0

    /// The root scope (no prefix).
    public var root: WeightScope { WeightScope(loader: self, prefix: "") }

    /// Whether the checkpoint has a key (after renames).
    public func contains(_ key: String) -> Bool { available[key] != nil }

    /// Shape stored under a key, if any.
    public func shape(of key: String) -> [Int]? { available[key].flatMap { checkpoint?.entry($0)?.shape } }

    /// The tensor under `key`, which must have `shape`. A problem is recorded and a zero
    /// tensor of the expected shape stands in, so construction goes on and every problem is
    /// reported together by ``finish()``.
    /// - Throws: ``WeightLoadError`` (the problems so far) once the stand-ins would exceed the
    ///   checkpoint's own size (at least 256 MiB) or the ``MemoryLimit``: a config far larger than
    ///   its weights never gets a model of its sizes allocated. With random weights,
    ///   ``MemoryLimitError`` once the model would exceed the limit.
    public func tensor(_ key: String, shape: [Int]) throws -> Tensor {
        let bytes = try Self.bytes(of: shape, key: key, path: checkpoint?.path ?? "<random weights>")
        if random != nil {
            allocated += bytes
            try MemoryLimit.check(allocated, for: "random weights up to \(key)", path: "<random weights>")
            return randomTensor(key, shape: shape)
        }
        guard let checkpoint, let source = available[key] else {
            missing.append(key)
            return try standIn(key, shape: shape, bytes: bytes)
        }
        used.insert(key)
        let found = checkpoint.entry(source)?.shape ?? []
        guard found == shape else {
            mismatched.append(.init(key: key, expected: shape, found: found))
            return try standIn(key, shape: shape, bytes: bytes)
        }
        do {
            let tensor = try checkpoint.tensor(source)
            allocated += bytes
            return tensor
        } catch {
            unreadable.append("\(key) (\(error))")
            return try standIn(key, shape: shape, bytes: bytes)
        }
    }

    /// Float32 bytes of a shape a layer asks for; a negative or overflowing shape is a config
    /// problem reported as such, never a trap.
    private static func bytes(of shape: [Int], key: String, path: String) throws -> Int {
        var count = 1
        for extent in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: extent)
            guard extent >= 0, !overflow, product <= Int.max / 4 else {
                throw WeightLoadError(
                    path: path, missing: [], unused: [], mismatched: [], unreadable: [],
                    stopped: "the model asks for \(key) of shape \(shape), which no config should give")
            }
            count = product
        }
        return 4 * count
    }

    /// Zeros for a tensor the checkpoint cannot supply, within the stand-in budget.
    private func standIn(_ key: String, shape: [Int], bytes: Int) throws -> Tensor {
        standIns += bytes
        let budget = max(weightBytes, 256 << 20)
        if standIns > budget || allocated + standIns > MemoryLimit.bytes {
            throw WeightLoadError(
                path: checkpoint?.path ?? "<random weights>", missing: missing.sorted(), unused: [],
                mismatched: mismatched, unreadable: unreadable,
                stopped: "at \(key): the model's tensors that the checkpoint cannot supply already need "
                    + "\(MemoryLimit.format(standIns)), more than "
                    + (standIns > budget
                        ? "the checkpoint's own \(MemoryLimit.format(budget)); its config is larger than its weights"
                        : "the memory limit of \(MemoryLimit.format(MemoryLimit.bytes)) allows"))
        }
        return Tensor.zeros(shape)
    }

    private var allocated = 0  // bytes bound from the checkpoint (or drawn at random)
    private var standIns = 0  // bytes of zeros standing in for missing, mismatched or unreadable keys

    private func randomTensor(_ key: String, shape: [Int]) -> Tensor {
        guard var generator = random else { return Tensor.zeros(shape) }
        defer { random = generator }
        if shape.count == 1 && key.hasSuffix("weight") { return Tensor(repeating: 1, shape: shape) }
        let fanIn = shape.count > 1 ? shape.dropFirst().reduce(1, *) : (shape.first ?? 1)
        let bound = Float(1 / Double(max(1, fanIn)).squareRoot())
        return generator.uniformTensor(shape, in: -bound...bound)
    }

    /// The tensor under `key` if present (its shape still checked), else nil.
    public func optionalTensor(_ key: String, shape: [Int]) throws -> Tensor? {
        contains(key) ? try tensor(key, shape: shape) : nil
    }

    /// Marks keys as deliberately unused (e.g. buffers the forward pass recomputes).
    public func skip(_ key: String) {
        if available[key] != nil { used.insert(key) }
    }

    /// Throws a ``WeightLoadError`` listing every problem, including checkpoint keys no layer used.
    public func finish() throws {
        let unused = available.keys.filter { key in
            !used.contains(key) && !ignored.contains(where: { key.hasPrefix($0) })
        }.sorted()
        guard missing.isEmpty && unused.isEmpty && mismatched.isEmpty && unreadable.isEmpty else {
            throw WeightLoadError(
                path: checkpoint?.path ?? "<random weights>", missing: missing.sorted(), unused: unused,
                mismatched: mismatched, unreadable: unreadable)
        }
    }
}

/// A key prefix inside a ``WeightLoader``: `scope["blocks.0"]["attn"].tensor("qkv.weight", …)`.
public struct WeightScope {
    /// The loader the scope reads from.
    public let loader: WeightLoader
    /// The key prefix (empty at the root).
    public let prefix: String

    /// The scope of keys under `prefix` (empty: the root).
    public init(loader: WeightLoader, prefix: String) {
        self.loader = loader
        self.prefix = prefix
    }

    /// The full key of a name inside this scope.
    public func key(_ name: String) -> String { prefix.isEmpty ? name : prefix + "." + name }

    /// A nested scope.
    public subscript(_ name: String) -> WeightScope { WeightScope(loader: loader, prefix: key(name)) }
    /// A nested scope for a numbered child (`blocks.3`).
    public subscript(_ index: Int) -> WeightScope { self[String(index)] }

    /// The tensor `name` inside this scope; see ``WeightLoader/tensor(_:shape:)``.
    public func tensor(_ name: String, shape: [Int]) throws -> Tensor { try loader.tensor(key(name), shape: shape) }
    /// The tensor `name` inside this scope if the checkpoint has it (its shape still checked).
    public func optionalTensor(_ name: String, shape: [Int]) throws -> Tensor? {
        try loader.optionalTensor(key(name), shape: shape)
    }
    /// Whether the checkpoint has `name` inside this scope.
    public func contains(_ name: String) -> Bool { loader.contains(key(name)) }
    /// The stored shape of `name` inside this scope, if any.
    public func shape(of name: String) -> [Int]? { loader.shape(of: key(name)) }
}
