import ArgumentParser
import Foundation
import Tessera

/// `tessera tokens vocabulary`: write a visual-vocabulary JSON from a preset layout.
struct VocabularyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vocabulary",
        abstract: "Write a visual vocabulary (visual ids → LM ids, special tokens, text form) as JSON.",
        discussion: """
            --from-model reads an LM tokenizer's own files (Chameleon: the IMGIMG names and image delimiters of \
            config.json's vocabulary_map; Janus: <begin_of_image> from tokenizer.json, codes in the generation \
            vocabulary; Emu3: the visual tokens, <|image start|>/<|image token|>/<|extra_200|>/<|extra_201|>/\
            <|image end|> and the digits of the h*w resolution text from config.json's vocabulary_map, \
            tokenizer.json or the original emu3.tiktoken + emu3_vision_tokens.txt; --behave-as transformers \
            spells the resolution as transformers' converted tokenizer, digit runs together). Presets otherwise: \
            plain: ids + --offset. chameleon: 8192 codes at 4…8195, <racm3:break> 8197 / <eoss> 8196. \
            emu3: codes after --text-vocabulary ids and five specials, with the <|visual token %06d|> text form. \
            Edit the JSON for other layouts (keys: offset, codebook_sizes, codebook_offsets, lm_vocabulary_size, \
            special, resolution, text).
            """)

    /// The preset layouts.
    enum Layout: String, ExpressibleByArgument, CaseIterable { case plain, chameleon, emu3 }

    @Option(help: "Derive the vocabulary from an LM tokenizer's directory (see `tessera models`).")
    var fromModel: String?
    @Option(help: "--from-model: reproduce the original tokenizer or transformers' port where they differ.")
    var behaveAs: ReferenceBehaviour = .original
    @Option(help: "plain, chameleon or emu3 (presets; ignored with --from-model).")
    var layout: Layout = .plain
    @Option(help: "Codebook sizes, comma-separated (default: 8192 for chameleon, else 1024).")
    var codebooks: IntegerList?
    @Option(help: "plain: LM id of visual id 0.")
    var offset: Int = 0
    @Option(help: "emu3: size of the text vocabulary the visual ids follow.")
    var textVocabulary: Int = 151_643
    @Option(name: .shortAndLong, help: "Output JSON file.")
    var output: String

    func run() throws {
        if let fromModel {
            let vocabulary = try TokenizerRegistry.lmVocabulary(URL(fileURLWithPath: fromModel), behaviour: behaveAs)
            try vocabulary.validate()
            try vocabulary.write(to: URL(fileURLWithPath: output))
            print(
                "\(vocabulary.layout ?? "model") vocabulary from \(fromModel): codes at "
                    + "\(vocabulary.lmOffsets), ids stored as \(vocabulary.storageType.rawValue) -> \(output)")
            return
        }
        let sizes = codebooks?.values
        let vocabulary: VisualVocabulary
        switch layout {
        case .plain: vocabulary = .plain(codebookSizes: sizes ?? [1024], offset: offset)
        case .chameleon:
            guard (sizes ?? [8192]).count == 1 else { throw ValidationError("chameleon has one codebook") }
            vocabulary = .chameleon(codebookSize: sizes?[0] ?? 8192)
        case .emu3:
            guard (sizes ?? [1024]).count == 1 else { throw ValidationError("emu3 has one codebook") }
            vocabulary = .emu3(codebookSize: sizes?[0] ?? 1024, textVocabularySize: textVocabulary)
        }
        try vocabulary.validate()
        try vocabulary.write(to: URL(fileURLWithPath: output))
        print(
            "\(layout.rawValue) vocabulary: codebooks \(vocabulary.codebookSizes) at \(vocabulary.lmOffsets), ids "
                + "stored as \(vocabulary.storageType.rawValue) -> \(output)"
        )
    }
}

/// `tessera tokens to-lm`: token file → LM streams (ids or text), one JSON line per record.
struct ToLM: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "to-lm",
        abstract: "Map a token file (or shard) to LM streams: JSON lines with source and lm ids, or text with --text.")

    @Option(help: "Visual vocabulary JSON (tessera tokens vocabulary).")
    var vocabulary: String
    @Argument(help: "Token file or shard (.jsonl, .npy, .safetensors, .bin, .tar).")
    var tokenFile: String
    @Flag(help: "Write the text form instead of ids.")
    var text = false
    @Option(name: .shortAndLong, help: "Output .jsonl (default: standard output).")
    var output: String?

    func run() throws {
        let vocab = try VisualVocabulary(contentsOf: URL(fileURLWithPath: vocabulary))
        var lines = ""
        for record in try TokenFile.read(URL(fileURLWithPath: tokenFile)) {
            var object: [String: Any] = ["source": record.source, "model": record.tokens.model]
            if let t = record.frameTimestamp { object["frame_timestamp"] = t }
            if text {
                object["text"] = try vocab.text([record.tokens])
            } else {
                object["lm"] = try vocab.stream([record.tokens])
            }
            lines +=
                String(
                    decoding: try JSONSerialization.data(
                        withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]), as: UTF8.self) + "\n"
        }
        if let output {
            try Data(lines.utf8).write(to: URL(fileURLWithPath: output), options: .atomic)
        } else {
            print(lines, terminator: "")
        }
    }
}

/// `tessera tokens from-lm`: LM streams (as `to-lm` writes them) → a token file for `tessera decode`.
struct FromLM: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "from-lm",
        abstract: "Map LM streams (JSON lines with lm ids or text) back to a token file that tessera decode reads.")

    @Option(help: "Visual vocabulary JSON.")
    var vocabulary: String
    @Argument(
        help: ArgumentHelp(
            "JSON lines with an \"lm\" id array or a \"text\" string per line (optionally source, frame_timestamp, "
                + "model).")
    )
    var streams: String
    @Option(name: .shortAndLong, help: "Output token file (.jsonl, .npy or .safetensors).")
    var output: String

    func run() throws {
        let vocab = try VisualVocabulary(contentsOf: URL(fileURLWithPath: vocabulary))
        guard let text = try? String(contentsOfFile: streams, encoding: .utf8) else {
            throw InputError("cannot read \(streams)")
        }
        var records: [TokenRecord] = []
        for (n, line) in text.split(separator: "\n").enumerated() {
            func fail(_ reason: String) -> InputError { InputError("\(streams): line \(n + 1): \(reason)") }
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw fail("not a JSON object")
            }
            let model = object["model"] as? String ?? ""
            let frames: [Tokens]
            do {
                if let ids = object["lm"] as? [NSNumber] {
                    frames = try vocab.tokens(fromStream: ids.map(\.intValue), model: model)
                } else if let s = object["text"] as? String {
                    frames = try vocab.tokens(fromText: s, model: model)
                } else {
                    throw fail("no \"lm\" or \"text\"")
                }
            } catch let e as TokenFileError { throw fail(e.reason) }
            for tokens in frames {
                records.append(
                    TokenRecord(
                        source: object["source"] as? String ?? "",
                        frameTimestamp: (object["frame_timestamp"] as? NSNumber)?.doubleValue, tokens: tokens))
            }
        }
        guard !records.isEmpty else { throw InputError("\(streams): no streams") }
        try TokenFile.write(records, to: URL(fileURLWithPath: output), format: TokenFileFormat(path: output) ?? .jsonl)
        print("\(records.count) token set(s) -> \(output)")
    }
}
