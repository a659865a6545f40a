// A configuration tree read as data: Python literal reprs (what `str(dict)` writes into a
// safetensors `__metadata__`, as FlexTok's checkpoints hold their hydra config) and JSON.
// Nothing is ever evaluated; only literals parse, with limits on size and nesting.
import Foundation

/// One value of a configuration tree.
public indirect enum ConfigTree: Sendable, Equatable {
    case none
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case list([ConfigTree])
    /// Entries in file order (Python dict reprs keep insertion order; JSON objects do not say).
    case dict([Entry])

    /// One key and value of a ``dict(_:)``.
    public struct Entry: Sendable, Equatable {
        /// The key.
        public var key: String
        /// The value.
        public var value: ConfigTree
        /// An entry.
        public init(_ key: String, _ value: ConfigTree) { self.key = key; self.value = value }
    }

    /// The value under `key` of a dict (nil for a missing key or a non-dict).
    public subscript(_ key: String) -> ConfigTree? {
        guard case .dict(let entries) = self else { return nil }
        return entries.first(where: { $0.key == key })?.value
    }

    /// The entries of a dict (empty otherwise).
    public var entries: [Entry] {
        if case .dict(let e) = self { e } else { [] }
    }
    /// The string, if this is one.
    public var string: String? {
        if case .string(let s) = self { s } else { nil }
    }
    /// The integer, if this is one (integral doubles count).
    public var int: Int? {
        switch self {
        case .int(let i): i
        case .double(let d) where d.rounded() == d && abs(d) < 1e15: Int(d)
        default: nil
        }
    }
    /// The number, if this is one.
    public var double: Double? {
        switch self {
        case .int(let i): Double(i)
        case .double(let d): d
        default: nil
        }
    }
    /// The boolean, if this is one.
    public var bool: Bool? {
        if case .bool(let b) = self { b } else { nil }
    }
    /// The list, if this is one.
    public var list: [ConfigTree]? {
        if case .list(let l) = self { l } else { nil }
    }
    /// Whether this is `None` / `null`.
    public var isNone: Bool { self == .none }
}

/// Why a configuration text did not parse: the position and what was expected.
public struct ConfigTreeError: Error, CustomStringConvertible, Sendable {
    /// What is wrong, with the character offset.
    public var reason: String
    /// The reason.
    public var description: String { reason }
}

extension ConfigTree {
    /// Texts longer than this are refused (a hydra config is a few kilobytes).
    public static let maximumTextLength = 1 << 20
    /// Deeper nesting is refused.
    public static let maximumDepth = 64

    /// Parses a Python literal (`repr` of dicts, lists, tuples, strings, numbers, `True`,
    /// `False`, `None`) or JSON (`true`, `false`, `null` too).
    /// - Throws: ``ConfigTreeError`` naming the offset of the first thing that is not a literal.
    public init(parsing text: String) throws {
        guard text.utf8.count <= Self.maximumTextLength else {
            throw ConfigTreeError(reason: "configuration text of \(text.utf8.count) bytes is too long")
        }
        var parser = LiteralParser(bytes: Array(text.utf8))
        self = try parser.value(depth: 0)
        parser.skipSpace()
        guard parser.atEnd else { throw parser.error("unexpected text after the value") }
    }
}

/// A recursive-descent parser over UTF-8 bytes.
private struct LiteralParser {
    let bytes: [UInt8]
    var i = 0

    var atEnd: Bool { i >= bytes.count }

    func error(_ what: String) -> ConfigTreeError { ConfigTreeError(reason: "\(what) at offset \(i)") }

    mutating func skipSpace() {
        while i < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[i]) { i += 1 }
    }

    mutating func value(depth: Int) throws -> ConfigTree {
        guard depth < ConfigTree.maximumDepth else { throw error("nesting deeper than \(ConfigTree.maximumDepth)") }
        skipSpace()
        guard i < bytes.count else { throw error("unexpected end") }
        switch bytes[i] {
        case UInt8(ascii: "{"): return try dict(depth: depth)
        case UInt8(ascii: "["): return .list(try sequence(close: UInt8(ascii: "]"), depth: depth))
        case UInt8(ascii: "("): return .list(try sequence(close: UInt8(ascii: ")"), depth: depth))
        case UInt8(ascii: "'"), UInt8(ascii: "\""): return .string(try string())
        default: return try word()
        }
    }

    mutating func dict(depth: Int) throws -> ConfigTree {
        i += 1
        var entries: [ConfigTree.Entry] = []
        while true {
            skipSpace()
            guard i < bytes.count else { throw error("unterminated dict") }
            if bytes[i] == UInt8(ascii: "}") { i += 1; return .dict(entries) }
            guard case .string(let key) = try value(depth: depth + 1) else { throw error("dict keys must be strings") }
            skipSpace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw error("expected ':'") }
            i += 1
            entries.append(.init(key, try value(depth: depth + 1)))
            skipSpace()
            guard i < bytes.count else { throw error("unterminated dict") }
            if bytes[i] == UInt8(ascii: ",") {
                i += 1
            } else if bytes[i] != UInt8(ascii: "}") {
                throw error("expected ',' or '}'")
            }
        }
    }

    mutating func sequence(close: UInt8, depth: Int) throws -> [ConfigTree] {
        i += 1
        var items: [ConfigTree] = []
        while true {
            skipSpace()
            guard i < bytes.count else { throw error("unterminated list") }
            if bytes[i] == close { i += 1; return items }
            items.append(try value(depth: depth + 1))
            skipSpace()
            guard i < bytes.count else { throw error("unterminated list") }
            if bytes[i] == UInt8(ascii: ",") { i += 1 } else if bytes[i] != close { throw error("expected ','") }
        }
    }

    mutating func string() throws -> String {
        let quote = bytes[i]
        i += 1
        var out: [UInt8] = []
        while i < bytes.count {
            let c = bytes[i]
            if c == quote { i += 1; return String(decoding: out, as: UTF8.self) }
            if c == UInt8(ascii: "\\") {
                i += 1
                guard i < bytes.count else { break }
                switch bytes[i] {
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "u"), UInt8(ascii: "x"):
                    let digits = bytes[i] == UInt8(ascii: "u") ? 4 : 2
                    guard i + digits < bytes.count,
                        let code = UInt32(String(decoding: bytes[(i + 1)...(i + digits)], as: UTF8.self), radix: 16),
                        let scalar = Unicode.Scalar(code)
                    else { throw error("bad escape") }
                    out.append(contentsOf: Array(String(Character(scalar)).utf8))
                    i += digits
                default: out.append(bytes[i])
                }
                i += 1
                continue
            }
            out.append(c)
            i += 1
        }
        throw error("unterminated string")
    }

    mutating func word() throws -> ConfigTree {
        let start = i
        while i < bytes.count, !" \t\r\n,:]})".utf8.contains(bytes[i]) { i += 1 }
        let text = String(decoding: bytes[start..<i], as: UTF8.self)
        switch text {
        case "None", "null": return .none
        case "True", "true": return .bool(true)
        case "False", "false": return .bool(false)
        default: break
        }
        if let v = Int(text) { return .int(v) }
        if let v = Double(text), v.isFinite, text.first.map({ $0.isNumber || $0 == "-" || $0 == "." }) == true {
            return .double(v)
        }
        i = start
        throw error("'\(text.prefix(40))' is not a literal")
    }
}
