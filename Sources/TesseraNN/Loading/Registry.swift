import Foundation
import TesseraCore

/// A model directory as the registries see it: its `config.json` (parsed once), the metadata
/// and tensor names of its weights (read on demand; headers only), and which files it has.
/// ``ModelEntry/matches`` predicates decide the family from these.
public final class ModelDirectory: @unchecked Sendable {
    /// The directory (or a single weights file).
    public let url: URL
    private let lock = NSLock()
    private var cachedConfig: [String: Any]??
    private var cachedCheckpoint: Checkpoint??

    /// A view of `url`; nothing is read until asked for.
    public init(_ url: URL) { self.url = url }

    /// The directory's name (the model id in token files).
    public var name: String { url.lastPathComponent }

    /// Whether the directory holds `file`.
    public func has(_ file: String) -> Bool {
        FileManager.default.fileExists(atPath: url.appendingPathComponent(file).path)
    }

    /// `config.json` as a JSON object; nil when absent or not a JSON object.
    public var config: [String: Any]? {
        lock.lock()
        defer { lock.unlock() }
        if let cachedConfig { return cachedConfig }
        let data = try? Data(contentsOf: url.appendingPathComponent("config.json"))
        let value = data.flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }
        cachedConfig = .some(value)
        return value
    }

    /// The string at a dotted path in `config.json` (`"model.vq_model.quantize_mode"`).
    public func configValue(_ path: String) -> Any? {
        var node: Any? = config
        for part in path.split(separator: ".") { node = (node as? [String: Any])?[String(part)] }
        return node
    }

    /// The weights (conventional file names), nil when there are none or they do not open.
    public var checkpoint: Checkpoint? {
        lock.lock()
        defer { lock.unlock() }
        if let cachedCheckpoint { return cachedCheckpoint }
        let value = try? Checkpoint(directory: url)
        cachedCheckpoint = .some(value)
        return value
    }

    /// The safetensors `__metadata__` of the weights (empty when none).
    public var metadata: [String: String] { checkpoint?.metadata ?? [:] }

    /// Whether the weights hold a tensor named `key`.
    public func hasTensor(_ key: String) -> Bool { checkpoint?.contains(key) ?? false }
}

/// One loadable model family: what it is, which published repositories load, how to recognise
/// its directories and how to load one.
public struct ModelEntry<Model>: Sendable {
    /// Family name (`tessera models`, error messages).
    public var family: String
    /// Published repositories that load unchanged.
    public var repositories: [String]
    /// One line on what the family is or needs.
    public var notes: String
    /// Whether a directory holds this family (from config.json, metadata or key names).
    public var matches: @Sendable (ModelDirectory) -> Bool
    /// Loads the model from a directory `matches` accepted.
    public var load: @Sendable (ModelDirectory) throws -> Model

    /// - Parameters:
    ///   - family: the family's name.
    ///   - repositories: published repositories that load unchanged.
    ///   - notes: one line for `tessera models`.
    ///   - matches: decides from the directory's files whether it holds this family.
    ///   - load: loads the model from an accepted directory.
    public init(
        family: String, repositories: [String], notes: String,
        matches: @escaping @Sendable (ModelDirectory) -> Bool,
        load: @escaping @Sendable (ModelDirectory) throws -> Model
    ) {
        self.family = family
        self.repositories = repositories
        self.notes = notes
        self.matches = matches
        self.load = load
    }
}

/// A directory no registered family recognises.
public struct UnknownModelError: Error, CustomStringConvertible, Sendable {
    /// The directory.
    public var path: String
    /// What was being loaded ("tokenizer", "vision encoder").
    public var kind: String
    /// The families the registry knows.
    public var known: [String]
    /// The directory, what was asked for, and the known families.
    public var description: String {
        "\(path): not a \(kind) Tessera knows; known families: \(known.joined(separator: ", ")) (see `tessera models`)"
    }
}

/// An ordered list of model families of one kind; the first whose predicate accepts a
/// directory loads it.
public struct ModelRegistry<Model>: Sendable {
    /// What the registry loads ("tokenizer", "vision encoder").
    public var kind: String
    /// The families, tried in order.
    public var entries: [ModelEntry<Model>]

    /// - Parameters:
    ///   - kind: what the registry loads, for error messages ("tokenizer").
    ///   - entries: the families, in the order their predicates are tried.
    public init(kind: String, entries: [ModelEntry<Model>]) {
        self.kind = kind
        self.entries = entries
    }

    /// The family of a directory.
    /// - Throws: ``UnknownModelError`` listing the known families; a missing directory is
    ///   reported as such.
    public func entry(for url: URL) throws -> ModelEntry<Model> { try resolve(url).entry }

    /// Loads the model in `url` with the family that recognises it.
    public func load(_ url: URL) throws -> Model {
        let (directory, entry) = try resolve(url)
        return try entry.load(directory)
    }

    private func resolve(_ url: URL) throws -> (directory: ModelDirectory, entry: ModelEntry<Model>) {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw ModelConfigError(path: url.path, reason: "no such model directory")
        }
        let directory = ModelDirectory(url)
        guard let entry = entries.first(where: { $0.matches(directory) }) else {
            throw UnknownModelError(path: url.path, kind: kind, known: entries.map(\.family))
        }
        return (directory, entry)
    }
}
