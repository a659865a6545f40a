import ArgumentParser
import Dispatch
import Foundation
import Tessera

/// Prints one line per failed input to stderr and remembers that something failed, so a
/// command finishes the other inputs and then exits with status 1.
struct FailureLog {
    private(set) var count = 0

    /// Records a failed input; the message names the file (prefixed when the error does not).
    mutating func record(_ error: Error, input: String) {
        let text = "\(error)"
        record(message: text.contains(input) ? text : "\(input): \(text)")
    }

    /// A failure already described (names its file).
    mutating func record(message: String) {
        count += 1
        FileHandle.standardError.write(Data("error: \(message)\n".utf8))
    }

    /// Exit status 1 when any input failed.
    func finish() throws {
        if count > 0 {
            FileHandle.standardError.write(Data("\(count) input(s) failed\n".utf8))
            throw ExitCode(1)
        }
    }
}

/// Creates the output folder (and parents).
func makeOutputDirectory(_ path: String) throws -> URL {
    let url = URL(fileURLWithPath: path)
    do {
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    } catch {
        throw InputError("cannot create output folder \(path): \(error.localizedDescription)")
    }
    return url
}

func formatSeconds(_ s: Double?) -> String {
    guard let s else { return "?" }
    return String(format: "%.3f", s)
}

/// Runs `body` on every input across cores; results (or errors) come back in input order.
func decodeInParallel<Input, T>(_ inputs: [Input], _ body: (Input) throws -> T) -> [Result<T, Error>] {
    parallelMap(inputs) { input in Result { try body(input) } }
}
