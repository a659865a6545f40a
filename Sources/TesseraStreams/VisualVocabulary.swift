import Foundation
import TesseraCore

/// How visual token ids enter a language model's vocabulary: an offset into an extended
/// vocabulary (per codebook for multi-codebook tokens), special tokens around each image
/// (begin/end, row breaks, frame separators, resolution markers) and a text form for
/// tokenizers that add visual tokens as strings.
///
/// It is a small JSON file (snake_case keys) stored next to the shards it produced, so a
/// stream can always be mapped back:
///
/// ```json
/// {"layout": "chameleon", "offset": 4, "codebook_sizes": [8192], "lm_vocabulary_size": 65536,
///  "special": {"image_start": 8197, "image_end": 8196}}
/// ```
///
/// Stream of one image: `[image_start] [resolution] [image_token] tokens… [frame_end] [image_end]`,
/// where tokens are in row-major order, codebooks interleaved per position (codebook `c` of a
/// position maps to `codebook_offsets[c] + id`), and for 2D token grids `row_break` follows
/// every row (Emu3 style). The resolution is one id per grid size (`resolution`) or the tokens
/// of its text (`resolution_pieces`, Emu3's digit-by-digit `h*w`). A `[T, H, W]` clip is one
/// span whose frames each end in `frame_end`; separate images of a video are joined with
/// `frame_separator`.
public struct VisualVocabulary: Codable, Sendable, Equatable {
    /// Ids of the special tokens in the LM vocabulary (each optional).
    public struct Specials: Codable, Sendable, Equatable {
        /// LM id placed before each image.
        public var imageStart: Int?
        /// LM id placed after each image.
        public var imageEnd: Int?
        /// Marks where the grid starts, after the resolution marker (Emu3's `<|image token|>`).
        public var imageToken: Int?
        /// LM id after every row of a 2D token grid (Emu3's end of line).
        public var rowBreak: Int?
        /// LM id between the images of a video given frame by frame.
        public var frameSeparator: Int?
        /// LM id after the last row of each frame (Emu3's end of frame `<|extra_201|>`; an image is one frame).
        public var frameEnd: Int?
        /// Special tokens; each nil one is left out of streams.
        public init(
            imageStart: Int? = nil, imageEnd: Int? = nil, imageToken: Int? = nil, rowBreak: Int? = nil,
            frameSeparator: Int? = nil, frameEnd: Int? = nil
        ) {
            (self.imageStart, self.imageEnd, self.imageToken, self.rowBreak, self.frameSeparator, self.frameEnd) =
                (imageStart, imageEnd, imageToken, rowBreak, frameSeparator, frameEnd)
        }
        var all: [Int] { [imageStart, imageEnd, imageToken, rowBreak, frameSeparator, frameEnd].compactMap { $0 } }
    }

    /// The text form: a `printf` template with one integer for visual tokens (the id relative
    /// to `offset`, e.g. `<|visual token %06d|>`) and strings for the special tokens.
    public struct TextForm: Codable, Sendable, Equatable {
        /// Template of a visual token: one `%d` or `%0Nd` for the id relative to ``VisualVocabulary/offset``
        /// (`%A`: its digits as the letters A–J, Chameleon's `IMGIMG%AZ`).
        public var visual: String
        /// Text placed before each image.
        public var imageStart: String?
        /// Text placed after each image.
        public var imageEnd: String?
        /// Text that marks where the grid starts, after the resolution marker.
        public var imageToken: String?
        /// Text after every row of a 2D token grid.
        public var rowBreak: String?
        /// Text between the images of a video given frame by frame.
        public var frameSeparator: String?
        /// Text after the last row of each frame.
        public var frameEnd: String?
        /// Resolution marker with two integers, rows then columns of the token grid (Emu3: `%d*%d`).
        public var resolution: String?
        /// A text form; each nil string is left out of the text.
        public init(
            visual: String, imageStart: String? = nil, imageEnd: String? = nil, imageToken: String? = nil,
            rowBreak: String? = nil, frameSeparator: String? = nil, frameEnd: String? = nil,
            resolution: String? = nil
        ) {
            (
                self.visual, self.imageStart, self.imageEnd, self.imageToken, self.rowBreak, self.frameSeparator,
                self.frameEnd, self.resolution
            ) =
                (visual, imageStart, imageEnd, imageToken, rowBreak, frameSeparator, frameEnd, resolution)
        }
    }

    /// A name for the layout (informational: `plain`, `chameleon`, `emu3`, …).
    public var layout: String?
    /// LM id of visual id 0 of the first codebook.
    public var offset: Int
    /// Ids per codebook; more than one means the tokens' last axis is the codebook axis.
    public var codebookSizes: [Int]
    /// Explicit LM offset of each codebook; default `offset` plus the sizes of the codebooks before it.
    public var codebookOffsets: [Int]?
    /// Size of the whole LM vocabulary, if known (decides the shard element type).
    public var lmVocabularySize: Int?
    /// Ids of the special tokens.
    public var special: Specials
    /// Resolution markers: token-grid size (`"32"` for 1D, `"16x16"` for 2D) → LM id.
    public var resolution: [String: Int]?
    /// The LM ids of the pieces the text form's resolution marker is tokenized into, matched
    /// longest first (Emu3's tokenizer splits `64*64` into `6`, `4`, `*`, `6`, `4`).
    public var resolutionPieces: [String: Int]?
    /// The text form, for tokenizers that add visual tokens as strings; nil when there is none.
    public var text: TextForm?

    /// A vocabulary mapping (not validated; ``validate()`` checks it).
    /// - Parameters:
    ///   - layout: A name for the layout (informational).
    ///   - offset: LM id of visual id 0 of the first codebook.
    ///   - codebookSizes: Ids per codebook.
    ///   - codebookOffsets: Explicit LM offset of each codebook; nil packs the codebooks from `offset`.
    ///   - lmVocabularySize: Size of the whole LM vocabulary, if known.
    ///   - special: Ids of the special tokens.
    ///   - resolution: Resolution marker ids by token-grid size (`"32"`, `"16x16"`).
    ///   - resolutionPieces: LM ids of the pieces of the text form's resolution marker.
    ///   - text: The text form, if any.
    public init(
        layout: String? = nil, offset: Int = 0, codebookSizes: [Int], codebookOffsets: [Int]? = nil,
        lmVocabularySize: Int? = nil, special: Specials = Specials(), resolution: [String: Int]? = nil,
        resolutionPieces: [String: Int]? = nil, text: TextForm? = nil
    ) {
        self.layout = layout
        self.offset = offset
        self.codebookSizes = codebookSizes
        self.codebookOffsets = codebookOffsets
        self.lmVocabularySize = lmVocabularySize
        self.special = special
        self.resolution = resolution
        self.resolutionPieces = resolutionPieces
        self.text = text
    }

    // MARK: presets

    /// Visual ids shifted by `offset`, nothing else (nanoGPT-style pretraining on pure visual streams).
    public static func plain(codebookSizes: [Int], offset: Int = 0) -> VisualVocabulary {
        VisualVocabulary(layout: "plain", offset: offset, codebookSizes: codebookSizes)
    }

    /// Chameleon-style: one 8192-code image codebook at ids 4…8195, `<racm3:break>` (8197)
    /// before and `<eoss>` (8196) after each image, in a 65,536-id vocabulary.
    public static func chameleon(codebookSize: Int = 8192) -> VisualVocabulary {
        VisualVocabulary(
            layout: "chameleon", offset: 4, codebookSizes: [codebookSize], lmVocabularySize: 65536,
            special: Specials(imageStart: 8197, imageEnd: 8196))
    }

    /// Emu3-style: visual tokens appended after a text vocabulary of `textVocabularySize` ids,
    /// preceded by five special tokens (image start/end, image token, end of line, end of frame);
    /// text form `<|image start|>H*W<|image token|>…<|extra_200|>…<|extra_200|><|extra_201|><|image end|>`.
    /// The ids are illustrative: `tessera tokens vocabulary --from-model` reads a real Emu3's.
    public static func emu3(codebookSize: Int, textVocabularySize: Int) -> VisualVocabulary {
        let t = textVocabularySize
        return VisualVocabulary(
            layout: "emu3", offset: t + 5, codebookSizes: [codebookSize], lmVocabularySize: t + 5 + codebookSize,
            special: Specials(imageStart: t, imageEnd: t + 1, imageToken: t + 2, rowBreak: t + 3, frameEnd: t + 4),
            text: TextForm(
                visual: "<|visual token %06d|>", imageStart: "<|image start|>", imageEnd: "<|image end|>",
                imageToken: "<|image token|>", rowBreak: "<|extra_200|>", frameEnd: "<|extra_201|>",
                resolution: "%d*%d"))
    }

    // MARK: files

    /// Reads a vocabulary JSON file, checking it is consistent.
    public init(contentsOf url: URL) throws {
        guard let data = try? Data(contentsOf: url) else {
            throw TokenFileError(path: url.path, reason: "cannot read vocabulary file")
        }
        do { self = try VisualVocabulary.decoder.decode(VisualVocabulary.self, from: data) } catch {
            throw TokenFileError(path: url.path, reason: "not a visual vocabulary (\(error))")
        }
        do { try validate() } catch let e as TokenFileError { throw TokenFileError(path: url.path, reason: e.reason) }
    }

    /// Writes the vocabulary as JSON (atomically).
    public func write(to url: URL) throws { try jsonData().write(to: url, options: .atomic) }

    /// The vocabulary file's JSON (snake-case keys, sorted).
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(self)
    }

    static let decoder: JSONDecoder = {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        return d
    }()

    /// Checks sizes and offsets: no visual range overlaps another or a special token, all ids
    /// fit `lm_vocabulary_size`, templates have the right number of integers.
    public func validate() throws {
        func fail(_ reason: String) -> TokenFileError { TokenFileError(path: "vocabulary", reason: reason) }
        guard !codebookSizes.isEmpty, codebookSizes.allSatisfy({ $0 > 0 }) else {
            throw fail("codebook_sizes must be positive")
        }
        guard offset >= 0 else { throw fail("offset must be ≥ 0") }
        if let o = codebookOffsets, o.count != codebookSizes.count {
            throw fail("codebook_offsets needs one entry per codebook")
        }
        let ranges = zip(lmOffsets, codebookSizes).map { $0..<($0 + $1) }
        for (i, r) in ranges.enumerated() {
            guard r.lowerBound >= 0 else { throw fail("codebook \(i) starts below 0") }
            for other in ranges[(i + 1)...] where r.overlaps(other) {
                throw fail("codebook ranges \(r) and \(other) overlap")
            }
        }
        for s in nonVisualIDs {
            guard s >= 0 else { throw fail("special id \(s) is negative") }
            if let r = ranges.first(where: { $0.contains(s) }) {
                throw fail("special id \(s) lies inside visual range \(r)")
            }
        }
        guard Set(special.all).count == special.all.count else { throw fail("special tokens must have distinct ids") }
        if let pieces = resolutionPieces {
            guard resolution == nil, text?.resolution != nil else {
                throw fail("resolution_pieces spell text.resolution and replace the resolution ids")
            }
            guard !pieces.keys.contains(""), Set(pieces.values).isDisjoint(with: special.all) else {
                throw fail("resolution_pieces must be non-empty strings with ids apart from the special tokens")
            }
        }
        if let n = lmVocabularySize, maxID >= n { throw fail("id \(maxID) does not fit lm_vocabulary_size \(n)") }
        if let t = text {
            guard (try? Template(t.visual, integers: 1)) != nil else {
                throw fail("text.visual must hold exactly one %d (or %A)")
            }
            if let r = t.resolution, (try? Template(r, integers: 2)) == nil {
                throw fail("text.resolution must hold two %d")
            }
        }
    }

    // MARK: ids

    /// LM offset of each codebook.
    public var lmOffsets: [Int] {
        codebookOffsets ?? codebookSizes.indices.map { c in offset + codebookSizes[..<c].reduce(0, +) }
    }

    /// Every id a stream can hold besides the visual ones.
    var nonVisualIDs: [Int] {
        special.all + (resolution?.values.map { $0 } ?? []) + (resolutionPieces?.values.map { $0 } ?? [])
    }

    /// Largest id a stream can contain.
    public var maxID: Int { (zip(lmOffsets, codebookSizes).map { $0 + $1 - 1 } + nonVisualIDs).max() ?? 0 }

    /// Smallest unsigned type that holds every id: uint16 below 65,536, else uint32.
    public var storageType: DType { max(maxID, (lmVocabularySize ?? 0) - 1) < 65536 ? .uint16 : .uint32 }

    /// The LM stream of one image or clip (or of a video's frames given as images, joined by `frame_separator`).
    public func stream(_ images: [Tokens]) throws -> [Int] {
        var out: [Int] = []
        let offsets = lmOffsets
        for (f, tokens) in images.enumerated() {
            if f > 0, let s = special.frameSeparator { out.append(s) }
            let grid = try layout(of: tokens)
            if let s = special.imageStart { out.append(s) }
            out += try resolutionIDs(grid)
            if let s = special.imageToken { out.append(s) }
            grid.forEachRow { positions in
                for i in positions { out.append(offsets[i % grid.codebooks] + tokens.ids[i]) }
                if grid.is2D, let s = special.rowBreak { out.append(s) }
            } frameEnd: {
                if let s = special.frameEnd { out.append(s) }
            }
            if let s = special.imageEnd { out.append(s) }
        }
        return out
    }

    /// Images back from an LM stream (split at frame separators and image ends): special tokens and
    /// resolution markers removed, offsets undone, the grid shape recovered from the row breaks (and
    /// `[T, H, W]` from several frame ends in one image). Any id that is neither visual nor special
    /// is an error.
    public func tokens(fromStream stream: [Int], model: String = "") throws -> [Tokens] {
        // A new image starts after a frame separator or an image end.
        var images: [[Int]] = [[]]
        for id in stream {
            if id == special.frameSeparator { images.append([]); continue }
            images[images.count - 1].append(id)
            if id == special.imageEnd { images.append([]) }
        }
        images = images.filter { !$0.isEmpty }
        if images.isEmpty { images = [[]] }
        let markers = Set(
            [special.imageStart, special.imageEnd, special.imageToken].compactMap { $0 }
                + (resolution?.values.map { $0 } ?? []))
        let pieces = Set(resolutionPieces?.values.map { $0 } ?? [])
        let offsets = lmOffsets, c = codebookSizes.count
        return try images.enumerated().map { f, image in
            func fail(_ reason: String) -> TokenFileError {
                TokenFileError(path: "stream", reason: "image \(f): \(reason)")
            }
            var frames: [(ids: [Int], shape: [Int])] = []
            var ids: [Int] = [], rows = 0, rowLengths: Set<Int> = [], rowStart = 0, header = true
            func closeFrame() throws {
                guard ids.count % c == 0 else { throw fail("\(ids.count) ids are not a multiple of \(c) codebooks") }
                var shape = [ids.count / c]
                if rows > 0 {
                    guard rowStart == ids.count, rowLengths.count == 1, let w = rowLengths.first, w % c == 0 else {
                        throw fail("rows of unequal length")
                    }
                    shape = [rows, w / c]
                }
                frames.append((ids, shape))
                (ids, rows, rowLengths, rowStart) = ([], 0, [], 0)
            }
            for id in image {
                if markers.contains(id) {
                    if id == special.imageToken { header = false }
                    continue
                }
                if header, pieces.contains(id) { continue }  // the resolution text before the grid
                header = false
                if id == special.rowBreak {
                    rows += 1
                    rowLengths.insert(ids.count - rowStart)
                    rowStart = ids.count
                    continue
                }
                if id == special.frameEnd {
                    try closeFrame()
                    continue
                }
                let k = ids.count % c
                guard id >= offsets[k], id < offsets[k] + codebookSizes[k] else {
                    let range = "\(offsets[k])..<\(offsets[k] + codebookSizes[k])"
                    throw fail("id \(id) is not a token of codebook \(k) (\(range))")
                }
                ids.append(id - offsets[k])
            }
            if !ids.isEmpty || rows > 0 || frames.isEmpty { try closeFrame() }
            guard let first = frames.first, frames.allSatisfy({ $0.shape == first.shape }) else {
                throw fail("frames of different shapes")
            }
            var shape = (frames.count > 1 ? [frames.count] : []) + first.shape
            if c > 1 { shape.append(c) }
            return Tokens(ids: frames.flatMap(\.ids), shape: shape, vocabularySizes: codebookSizes, model: model)
        }
    }

    // MARK: text

    /// The text form of one image or clip (or of a video's frames given as images).
    public func text(_ images: [Tokens]) throws -> String {
        guard let t = text else {
            throw TokenFileError(path: "vocabulary", reason: "no text form defined (\"text\": {\"visual\": …})")
        }
        let visual = try Template(t.visual, integers: 1)
        let res = try t.resolution.map { try Template($0, integers: 2) }
        let offsets = lmOffsets
        var out = ""
        for (f, tokens) in images.enumerated() {
            if f > 0, let s = t.frameSeparator { out += s }
            let grid = try layout(of: tokens)
            if let s = t.imageStart { out += s }
            if let res { out += res.render([grid.rows, grid.columns]) }  // 1D: 1*N
            if let s = t.imageToken { out += s }
            grid.forEachRow { positions in
                for i in positions { out += visual.render([offsets[i % grid.codebooks] + tokens.ids[i] - offset]) }
                if grid.is2D, let s = t.rowBreak { out += s }
            } frameEnd: {
                if let s = t.frameEnd { out += s }
            }
            if let s = t.imageEnd { out += s }
        }
        return out
    }

    /// Images back from the text form (whitespace between tokens is ignored).
    public func tokens(fromText string: String, model: String = "") throws -> [Tokens] {
        guard let t = text else { throw TokenFileError(path: "vocabulary", reason: "no text form defined") }
        let visual = try Template(t.visual, integers: 1)
        let res = try t.resolution.map { try Template($0, integers: 2) }
        // Structure tokens without an id get stand-ins, so the text parses like a stream.
        var stand = special
        stand.rowBreak = special.rowBreak ?? -2
        stand.frameSeparator = special.frameSeparator ?? -3
        stand.frameEnd = special.frameEnd ?? -4
        let specials: [(String, Int)] = [
            (t.imageStart, special.imageStart ?? -1), (t.imageEnd, special.imageEnd ?? -1),
            (t.imageToken, special.imageToken ?? -1), (t.rowBreak, stand.rowBreak ?? -2),
            (t.frameSeparator, stand.frameSeparator ?? -3), (t.frameEnd, stand.frameEnd ?? -4),
        ]
        .compactMap { s, id in s.map { ($0, id) } }
        var stream: [Int] = []
        var rest = Substring(string)
        while let first = rest.first {
            if first.isWhitespace { rest = rest.dropFirst(); continue }
            if let (s, id) = specials.first(where: { rest.hasPrefix($0.0) }) {
                if id != -1 { stream.append(id) }
                rest = rest.dropFirst(s.count)
            } else if let (values, after) = visual.match(rest) {
                stream.append(values[0] + offset)
                rest = after
            } else if let res, let (_, after) = res.match(rest) {
                rest = after
            } else {
                throw TokenFileError(path: "text", reason: "unexpected text at \"\(rest.prefix(24))\"")
            }
        }
        var copy = self
        copy.special = stand
        copy.resolutionPieces = nil
        return try copy.tokens(fromStream: stream, model: model)
    }

    // MARK: helpers

    /// Where the ids of one image or clip go: `frames` × `rows` × `columns` positions of `codebooks` ids.
    struct Grid {
        var frames: Int, rows: Int, columns: Int, codebooks: Int, is2D: Bool
        var key: String { is2D ? "\(rows)x\(columns)" : "\(columns)" }

        /// Calls `row` with the id indices of each row in order, and `frameEnd` after each frame's last row.
        func forEachRow(_ row: (Range<Int>) -> Void, frameEnd: () -> Void) {
            let width = columns * codebooks
            for frame in 0..<frames {
                for r in 0..<rows { row(((frame * rows + r) * width)..<((frame * rows + r + 1) * width)) }
                frameEnd()
            }
        }
    }

    /// The resolution marker's ids for `grid`: one per size, or the pieces of its text, longest match first.
    private func resolutionIDs(_ grid: Grid) throws -> [Int] {
        if let id = resolution?[grid.key] { return [id] }
        guard let pieces = resolutionPieces, let pattern = text?.resolution else { return [] }
        var rest = Substring(try Template(pattern, integers: 2).render([grid.rows, grid.columns])), ids: [Int] = []
        let keys = pieces.keys.sorted { $0.count > $1.count }
        while !rest.isEmpty {
            guard let piece = keys.first(where: { rest.hasPrefix($0) }), let id = pieces[piece] else {
                throw TokenFileError(
                    path: "vocabulary", reason: "resolution_pieces cannot spell \"\(rest)\" of the resolution marker")
            }
            ids.append(id)
            rest = rest.dropFirst(piece.count)
        }
        return ids
    }

    private func layout(of tokens: Tokens) throws -> Grid {
        guard !tokens.isContinuous else {
            throw TokenFileError(path: "vocabulary", reason: "continuous tokens have no ids to map")
        }
        let c = codebookSizes.count
        var spatial = tokens.shape
        if c > 1 {
            guard spatial.last == c else {
                throw TokenFileError(path: "vocabulary", reason: "tokens \(tokens.shape) do not end in \(c) codebooks")
            }
            spatial.removeLast()
        }
        guard (1...3).contains(spatial.count), spatial.allSatisfy({ $0 > 0 }),
            tokens.ids.count == spatial.reduce(1, *) * c
        else {
            throw TokenFileError(
                path: "vocabulary", reason: "token shape \(tokens.shape) is not [N], [H, W] or [T, H, W] (+ codebooks)")
        }
        for (i, id) in tokens.ids.enumerated() where id < 0 || id >= codebookSizes[i % c] {
            throw TokenFileError(
                path: "vocabulary", reason: "id \(id) does not fit codebook \(i % c) of size \(codebookSizes[i % c])")
        }
        switch spatial.count {
        case 1: return Grid(frames: 1, rows: 1, columns: spatial[0], codebooks: c, is2D: false)
        case 2: return Grid(frames: 1, rows: spatial[0], columns: spatial[1], codebooks: c, is2D: true)
        default: return Grid(frames: spatial[0], rows: spatial[1], columns: spatial[2], codebooks: c, is2D: true)
        }
    }
}

/// A `printf`-style template with `%d` / `%0Nd` integers and literal text around them; `%A` spells
/// an integer's decimal digits as the letters A–J (Chameleon's `IMGIMG…` token names).
struct Template {
    var literals: [String]  // count = integers + 1
    var widths: [Int]
    /// Per integer: spelt with letters (`%A`).
    var letters: [Bool]

    static let letterDigits = Array("ABCDEFGHIJ")

    init(_ pattern: String, integers: Int) throws {
        var literals = [""], widths: [Int] = [], letters: [Bool] = []
        var chars = Substring(pattern)
        while let ch = chars.first {
            chars = chars.dropFirst()
            guard ch == "%" else { literals[literals.count - 1].append(ch); continue }
            if chars.first == "%" { literals[literals.count - 1].append("%"); chars = chars.dropFirst(); continue }
            let digits = chars.prefix { $0.isNumber }
            chars = chars.dropFirst(digits.count)
            guard chars.first == "d" || (chars.first == "A" && digits.isEmpty) else {
                throw TokenFileError(
                    path: "vocabulary", reason: "template \(pattern): only %d / %0Nd / %A are supported")
            }
            letters.append(chars.first == "A")
            chars = chars.dropFirst()
            widths.append(Int(digits) ?? 0)
            literals.append("")
        }
        guard widths.count == integers, !literals.dropFirst().dropLast().contains("") else {
            throw TokenFileError(
                path: "vocabulary", reason: "template \(pattern) needs \(integers) separated integer(s)")
        }
        self.literals = literals
        self.widths = widths
        self.letters = letters
    }

    func render(_ values: [Int]) -> String {
        var s = literals[0]
        for (i, v) in values.enumerated() {
            var digits = String(v)
            if letters[i] {
                digits = String(digits.map { $0.wholeNumberValue.map { Self.letterDigits[$0] } ?? $0 })
            }
            s += String(repeating: "0", count: max(0, widths[i] - digits.count)) + digits + literals[i + 1]
        }
        return s
    }

    func match(_ text: Substring) -> ([Int], Substring)? {
        guard text.hasPrefix(literals[0]) else { return nil }
        var rest = text.dropFirst(literals[0].count), values: [Int] = []
        for i in widths.indices {
            let spelt = letters[i]
            let digits = rest.prefix { spelt ? Self.letterDigits.contains($0) : $0.isASCII && $0.isNumber }
            // Letters back to digits: A–J are 0–9.
            let decimal =
                spelt
                ? digits.compactMap { Self.letterDigits.firstIndex(of: $0) }.map(String.init).joined() : String(digits)
            guard !digits.isEmpty, digits.count < 10, let v = Int(decimal) else { return nil }
            rest = rest.dropFirst(digits.count)
            guard rest.hasPrefix(literals[i + 1]) else { return nil }
            rest = rest.dropFirst(literals[i + 1].count)
            values.append(v)
        }
        return (values, rest)
    }
}
