import ArgumentParser
import Foundation
import Tessera

// Option values as types: the parser checks them and `--help` lists them.

extension TokenFileFormat: ExpressibleByArgument {}
extension ShardFormat: ExpressibleByArgument {}
extension ResizeFilter: ExpressibleByArgument {}
extension FeaturePooling: ExpressibleByArgument {}
extension TokenReductionMethod: ExpressibleByArgument {}
extension ImageRounding: ExpressibleByArgument {}
extension ReferenceBehaviour: ExpressibleByArgument {}

/// A size in bytes with an optional K, M or G suffix (`512K`, `256M`, `1G`).
struct ByteSize: ExpressibleByArgument, Sendable, Equatable, CustomStringConvertible {
    var bytes: Int

    init(bytes: Int) { self.bytes = bytes }

    /// `MemoryLimit.parse`'s sizes (`4096`, `512K`, `256MB`, `8GiB`, `1T`), at least one byte.
    init?(argument: String) {
        guard let bytes = MemoryLimit.parse(argument), bytes >= 1 else { return nil }
        self.bytes = bytes
    }

    var description: String { "\(bytes) bytes" }
    static var defaultCompletionKind: CompletionKind { .default }
}

extension TileGrid: ExpressibleByArgument {
    public init?(argument: String) { self.init(argument) }
}

/// HiRED's `--tiles`: a fixed grid or LLaVA-NeXT's best fit per image.
enum TileChoice: ExpressibleByArgument, Equatable {
    case grid(TileGrid)
    case auto

    init?(argument: String) {
        if argument.lowercased() == "auto" {
            self = .auto
        } else if let grid = TileGrid(argument) {
            self = .grid(grid)
        } else {
            return nil
        }
    }
}

/// A comma-separated list of positive integers (`2,2,3`).
struct IntegerList: ExpressibleByArgument, Equatable {
    var values: [Int]

    init?(argument: String) {
        let parts = argument.split(separator: ",", omittingEmptySubsequences: false)
            .map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !parts.isEmpty, parts.allSatisfy({ ($0 ?? 0) > 0 }) else { return nil }
        values = parts.compactMap { $0 }
    }
}

/// Locates the bundled `Assets/` folder: the given path, `./Assets`, or the checkout the
/// tool was built from.
func locateAssets(_ explicit: String?) throws -> URL {
    if let explicit { return URL(fileURLWithPath: explicit) }
    let candidates = [
        URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent("Assets"),
        // Sources/TesseraCLI/Support/Arguments.swift → the repository root
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Assets"),
    ]
    for c in candidates where FileManager.default.fileExists(atPath: c.appendingPathComponent("images").path) {
        return c
    }
    throw ValidationError("cannot find the bundled Assets folder; run from the repository root or pass --assets")
}

extension GuidanceMode: ExpressibleByArgument {}

/// A problem with an input file or the data in it (not with how the command was called): printed as
/// `Error: …` naming the file, without the usage text a `ValidationError` brings.
struct InputError: Error, CustomStringConvertible {
    /// The message, starting with the file it is about.
    let description: String

    init(_ description: String) { self.description = description }
}
