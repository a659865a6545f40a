// Emu3's image span in its LM vocabulary, read from the LM's own tokenizer files: transformers'
// conversion (config.json `vocabulary_map`, else tokenizer.json) or the original release
// (`emu3.tiktoken` + `emu3_vision_tokens.txt`, special ids numbered from the size of the ranks).
// The span is `<|image start|>` `h*w` `<|image token|>` (row of visual tokens `<|extra_200|>`)×h
// `<|extra_201|>` `<|image end|>` (baaivision/Emu3 emu3/mllm/processing_emu3.py). The resolution
// text is where the two tokenizers differ: the original's tiktoken pattern takes digits one at a
// time, transformers' byte-level BPE keeps digit runs together.
import Foundation
import TesseraNN
import TesseraStreams

extension Emu3 {
    /// The image span of the Emu3 LM whose tokenizer files are in `directory`; nil when it has none.
    /// - Parameters:
    ///   - codes: The VQ's codebook size (nil: as many as the vocabulary has visual tokens).
    ///   - behaviour: `.original` spells the resolution digit by digit as Emu3's own tokenizer;
    ///     `.transformers` as the converted `tokenizer.json` (digit runs that are one token in its
    ///     vocabulary, longest first: exact for Emu3's, where every number below 1000 is one token).
    /// - Throws: ``ModelConfigError`` naming the file that lacks a token or cannot be read.
    public static func lmVocabulary(
        directory: URL, codes: Int? = nil, behaviour: ReferenceBehaviour = .original
    ) throws -> VisualVocabulary? {
        let tiktoken = directory.appendingPathComponent("emu3.tiktoken")
        if FileManager.default.fileExists(atPath: tiktoken.path) {
            let names = try originalNames(tiktoken, vision: directory.appendingPathComponent("emu3_vision_tokens.txt"))
            return try vocabulary(names.ids, size: names.size, codes: codes, grouped: false, path: tiktoken.path)
        }
        let configURL = directory.appendingPathComponent("config.json")
        let tokenizerURL = directory.appendingPathComponent("tokenizer.json")
        let fm = FileManager.default
        if fm.fileExists(atPath: configURL.path) {
            let config = try readJSONConfig(configURL, limit: 256 << 20)
            if let map = config["vocabulary_map"] as? [String: Any] {
                let ids = map.compactMapValues { JSONFields.integer($0) }
                let text = config["text_config"] as? [String: Any] ?? [:]
                let size = text["vocab_size"].flatMap { JSONFields.integer($0) }
                return try vocabulary(
                    ids, size: size, codes: codes, grouped: behaviour == .transformers, path: configURL.path)
            }
        }
        guard fm.fileExists(atPath: tokenizerURL.path) else { return nil }
        let tokenizer = try readJSONConfig(tokenizerURL, limit: 256 << 20)
        var ids = ((tokenizer["model"] as? [String: Any])?["vocab"] as? [String: Any] ?? [:])
            .compactMapValues { JSONFields.integer($0) }
        for token in tokenizer["added_tokens"] as? [[String: Any]] ?? [] {
            if let content = token["content"] as? String, let id = token["id"].flatMap(JSONFields.integer) {
                ids[content] = id
            }
        }
        return try vocabulary(
            ids, size: nil, codes: codes, grouped: behaviour == .transformers, path: tokenizerURL.path)
    }

    /// Token → id of the original tokenizer: the tiktoken ranks, then `<|endoftext|>`, `<|im_start|>`,
    /// `<|im_end|>`, `<|extra_0…204|>` and the vision-tokens file, numbered from the number of ranks
    /// (tokenization_emu3.py; its `SPECIAL_START_ID` 151643 is the size of the real ranks).
    static func originalNames(_ tiktoken: URL, vision: URL) throws -> (ids: [String: Int], size: Int) {
        func read(_ url: URL) throws -> String {
            let size = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0
            guard size <= 64 << 20, let data = try? Data(contentsOf: url),
                let text = String(data: data, encoding: .utf8)
            else {
                throw ModelConfigError(
                    path: url.path, reason: "cannot read the file (missing, not UTF-8 or over 64 MB)")
            }
            return text
        }
        var ids: [String: Int] = [:], ranks = Set<Int>()
        for (n, line) in try read(tiktoken).split(whereSeparator: \.isNewline).enumerated() {
            let fields = line.split(separator: " ")
            guard fields.count == 2, let bytes = Data(base64Encoded: String(fields[0])), let rank = Int(fields[1]),
                rank >= 0, ranks.insert(rank).inserted
            else {
                throw ModelConfigError(path: tiktoken.path, reason: "line \(n + 1) is not \"<base64> <new rank>\"")
            }
            // Only the single ASCII characters matter here (the resolution's digits and '*').
            if bytes.count == 1, let byte = bytes.first, byte < 128 { ids[String(UnicodeScalar(byte))] = rank }
        }
        guard ranks.count == (ranks.max() ?? -1) + 1 else {
            throw ModelConfigError(path: tiktoken.path, reason: "the ranks are not 0..<\(ranks.count)")
        }
        let vision = try read(vision).split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }
        let specials =
            ["<|endoftext|>", "<|im_start|>", "<|im_end|>"] + (0..<205).map { "<|extra_\($0)|>" }
            + vision.filter { !$0.isEmpty }
        for (i, name) in specials.enumerated() { ids[name] = ranks.count + i }
        return (ids, ranks.count + specials.count)
    }

    /// The vocabulary from token names: visual tokens `<|visual token NNNNNN|>` at consecutive ids,
    /// the five structure tokens, and the resolution's pieces (digits one by one, or with `grouped`
    /// every all-digit token of the vocabulary, as byte-level BPE keeps digit runs together).
    static func vocabulary(
        _ ids: [String: Int], size: Int?, codes: Int?, grouped: Bool, path: String
    ) throws -> VisualVocabulary {
        func fail(_ reason: String) -> ModelConfigError { ModelConfigError(path: path, reason: reason) }
        var visual: [Int: Int] = [:]
        for (name, id) in ids where name.hasPrefix("<|visual token ") && name.hasSuffix("|>") {
            guard let code = Int(name.dropFirst(15).dropLast(2)), code >= 0 else { continue }
            visual[code] = id
        }
        let count = codes ?? visual.count
        guard count > 0, let first = visual[0] else { throw fail("no visual tokens (<|visual token 000000|>…)") }
        for code in 0..<count where visual[code] != first + code {
            throw fail(
                visual[code] == nil
                    ? "visual token \(code) is missing (the codebook has \(count))"
                    : "visual tokens are not consecutive ids (code \(code))")
        }
        func id(_ name: String) throws -> Int {
            guard let id = ids[name] else { throw fail("no \(name) token") }
            return id
        }
        var pieces: [String: Int] = [:]
        for ch in "0123456789*" { pieces[String(ch)] = try id(String(ch)) }
        if grouped {
            let numbers = ids.filter { name, _ in (2...4).contains(name.count) && name.allSatisfy(\.isASCIIDigit) }
            for (name, id) in numbers {
                pieces[name] = id
            }
        }
        return VisualVocabulary(
            layout: "emu3", offset: first, codebookSizes: [count],
            lmVocabularySize: size ?? (ids.values.max() ?? 0) + 1,
            special: .init(
                imageStart: try id("<|image start|>"), imageEnd: try id("<|image end|>"),
                imageToken: try id("<|image token|>"), rowBreak: try id("<|extra_200|>"),
                frameEnd: try id("<|extra_201|>")),
            resolutionPieces: pieces,
            text: .init(
                visual: "<|visual token %06d|>", imageStart: "<|image start|>", imageEnd: "<|image end|>",
                imageToken: "<|image token|>", rowBreak: "<|extra_200|>", frameEnd: "<|extra_201|>",
                resolution: "%d*%d"))
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
