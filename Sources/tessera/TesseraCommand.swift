import ArgumentParser
import Foundation
import Tessera

@main
struct TesseraCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tessera",
        abstract: "Visual tokenization toolkit: decode media, preprocess, tokenize.",
        subcommands: [Info.self, Frames.self, Preprocess.self, Encode.self, Decode.self, Roundtrip.self, Features.self, Prune.self, Quantize.self, Dequantize.self, CodebookCommand.self, TokensCommand.self, Models.self, Demo.self, Bench.self])

    static func main() {
        MemoryPolicy.reuseFreedBuffers()
        main(nil)
    }
}

/// Prints one line per failed input to stderr and remembers that something failed, so a
/// command finishes the other inputs and then exits with status 1.
struct FailureLog {
    private(set) var count = 0

    mutating func record(_ error: Error, input: String) {
        count += 1
        let message: String
        switch error {
        case let e as MediaError: message = e.description
        case let e as ArrayFileError: message = e.description
        default: message = "\(input): \(error)"
        }
        FileHandle.standardError.write(Data("error: \(message)\n".utf8))
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
        throw ValidationError("cannot create output folder \(path): \(error.localizedDescription)")
    }
    return url
}

func formatSeconds(_ s: Double?) -> String {
    guard let s else { return "?" }
    return String(format: "%.3f", s)
}

/// Runs `body` on every input across cores; results come back in input order.
func decodeInParallel<T>(_ inputs: [URL], _ body: @Sendable (URL) throws -> T) -> [Result<T, Error>] {
    let results = UnsafeMutableBufferPointer<Result<T, Error>?>.allocate(capacity: inputs.count)
    results.initialize(repeating: nil)
    defer { results.deallocate() }
    let box = UncheckedSendable(results)
    DispatchQueue.concurrentPerform(iterations: inputs.count) { i in
        box.value[i] = Result { try body(inputs[i]) }
    }
    return results.map { $0! }
}
