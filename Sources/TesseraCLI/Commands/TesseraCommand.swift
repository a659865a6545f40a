import ArgumentParser
import Foundation
import Tessera

/// The `tessera` command line (`tessera/main.swift` runs it).
public struct TesseraCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "tessera",
        abstract: "Visual tokenization toolkit: decode media, preprocess, tokenize.",
        subcommands: [
            Info.self, Frames.self, Preprocess.self, Encode.self, Decode.self, Roundtrip.self, Features.self,
            Prune.self,
            Quantize.self, Dequantize.self, CodebookCommand.self, TokensCommand.self, Models.self, Demo.self,
            Bench.self,
        ])

    public init() {}

    /// Runs the command line of this process (allocator policy first: see ``MemoryPolicy``), with
    /// the command's resource limits set before it runs.
    public static func main() {
        MemoryPolicy.reuseFreedBuffers()
        do {
            var command = try parseAsRoot()
            (command as? any ResourceLimited)?.resources.apply()
            try command.run()
        } catch {
            exit(withError: error)
        }
    }
}
