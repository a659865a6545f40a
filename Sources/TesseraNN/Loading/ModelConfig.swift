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
