import Foundation
import TesseraCore

/// A problem with a model directory's `config.json` (or its absence), naming the file.
public struct ModelConfigError: Error, CustomStringConvertible, Sendable {
    /// The file (or directory) with the problem.
    public var path: String
    /// What is wrong, naming the field where there is one.
    public var reason: String
    /// An error about `path`.
    public init(path: String, reason: String) { self.path = path; self.reason = reason }
    /// `path: reason`.
    public var description: String { "\(path): \(reason)" }
}

/// Reads `config.json` from a model directory as `T`, with errors that name the file and
/// the offending field.
public func loadModelConfig<T: Decodable>(_ type: T.Type, directory: URL, file: String = "config.json") throws -> T {
    let url = directory.appendingPathComponent(file)
    guard FileManager.default.fileExists(atPath: url.path) else {
        throw ModelConfigError(path: url.path, reason: "no \(file) in the model directory")
    }
    let data: Data
    do { data = try Data(contentsOf: url) } catch {
        throw ModelConfigError(path: url.path, reason: "cannot read (\(error.localizedDescription))")
    }
    do {
        return try JSONDecoder().decode(T.self, from: data)
    } catch DecodingError.keyNotFound(let key, let context) {
        let path = (context.codingPath.map(\.stringValue) + [key.stringValue]).joined(separator: ".")
        throw ModelConfigError(path: url.path, reason: "missing field '\(path)'")
    } catch DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context) {
        let path = context.codingPath.map(\.stringValue).joined(separator: ".")
        throw ModelConfigError(path: url.path, reason: "field '\(path)': \(context.debugDescription)")
    } catch {
        throw ModelConfigError(path: url.path, reason: "not valid JSON for this model (\(error))")
    }
}

/// The sizes a config states, checked before any of them sizes an allocation. A config read from
/// a file may say anything, and a model built from it allocates what it says before its weights
/// are bound: each size must lie in a plausible range, and the checkpoint's tensors must agree with
/// the sizes that shape them.
public struct ConfigCheck: Sendable {
    /// The config file, named in every error.
    public let path: String

    /// Checks for the config at `path`.
    public init(path: String) { self.path = path }

    /// `value` when it lies in `range`, else a ``ModelConfigError`` naming `field`.
    @discardableResult
    public func size(_ field: String, _ value: Int, in range: ClosedRange<Int>) throws -> Int {
        guard range.contains(value) else {
            throw ModelConfigError(
                path: path, reason: "\(field) is \(value); expected \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }

    /// Throws a ``ModelConfigError`` unless `checkpoint` holds `key` with `shape`, the shape the
    /// config's `fields` imply.
    public func agrees(_ checkpoint: Checkpoint, _ key: String, _ shape: [Int], fields: String) throws {
        try compare(checkpoint.entry(key)?.shape, key, shape, fields: fields)
    }

    /// The shape `found` under `key` (nil: absent) against the `shape` the config's `fields` imply.
    private func compare(_ found: [Int]?, _ key: String, _ shape: [Int], fields: String) throws {
        guard found != shape else { return }
        let problem = found.map { "'\(key)' is \($0), the config implies \(shape)" }
        throw ModelConfigError(
            path: path,
            reason: "\(fields) disagree with the checkpoint: " + (problem ?? "it has no '\(key)' (expected \(shape))"))
    }

    /// As ``agrees(_:_:_:fields:)-(Checkpoint,_,_,_)``, for the tensor `name` under a loader's scope
    /// (its renames and rewrites applied). Seeded random weights (no checkpoint) take any shape.
    public func agrees(_ w: WeightScope, _ name: String, _ shape: [Int], fields: String) throws {
        guard w.loader.checkpoint != nil else { return }
        try compare(w.loader.shape(of: w.key(name)), w.key(name), shape, fields: fields)
    }
}

extension ConfigCheck {
    /// Throws a ``ModelConfigError`` unless `checkpoint` holds at least `elements` values in all: a
    /// config implying more weights than the file has cannot bind, and building it would only
    /// allocate zero placeholders of the sizes it names.
    public func fits(_ elements: Double, in checkpoint: Checkpoint, fields: String) throws {
        let held = checkpoint.names.reduce(0.0) { total, name in
            total + (checkpoint.entry(name)?.shape.reduce(1.0) { $0 * Double($1) } ?? 0)
        }
        guard elements <= held else {
            throw ModelConfigError(
                path: path,
                reason: "\(fields) imply \(Int(min(elements, 9e18))) weights; \(checkpoint.path) holds \(Int(held))")
        }
    }
}
