import ArgumentParser
import Foundation
import Tessera

struct Models: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "List the model families Tessera loads (tokenizers and vision encoders) and their published checkpoints.",
        discussion:
            "The lists are the registries the loaders use: a directory loads when one family's predicate accepts it.")

    @Flag(help: "Print one JSON object (tokenizers, vision_encoders: family, notes, repositories).")
    var json = false

    struct Family: Encodable {
        var family: String
        var notes: String
        var repositories: [String]
    }

    func run() throws {
        let tokenizers = TokenizerRegistry.entries.map {
            Family(family: $0.family, notes: $0.notes, repositories: $0.repositories)
        }
        let encoders = VisionEncoderRegistry.entries.map {
            Family(family: $0.family, notes: $0.notes, repositories: $0.repositories)
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            let object = ["tokenizers": tokenizers, "vision_encoders": encoders]
            print(String(decoding: try encoder.encode(object), as: UTF8.self))
            return
        }
        for (title, families) in [
            ("Tokenizers (encode, decode, roundtrip)", tokenizers),
            ("Vision encoders (features, prune)", encoders),
        ] {
            print(title)
            for f in families {
                print("  \(f.family) — \(f.notes)")
                for r in f.repositories { print("      \(r)") }
            }
            print("")
        }
        print(
            "Download a checkpoint directory, e.g.:  "
                + "huggingface-cli download yucornetto/tokenizer_titok_s128_imagenet --local-dir titok-s128")
    }
}
