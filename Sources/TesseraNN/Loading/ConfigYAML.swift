// The YAML subset model configs use (taming / Chameleon `vqgan.yaml`, OmegaConf dumps): block
// mappings by indentation, block sequences (`- item`), flow lists and dicts written as Python /
// JSON literals (`[1, 1, 2]`), plain or quoted scalars, `#` comments. Anchors, tags, multi-line
// strings and documents are refused: the file is data, never a program.
import Foundation

extension ConfigTree {
    /// Parses the YAML subset of model configs into a tree (scalars: `null`/`~`, `true`/`false`,
    /// integers, floats, otherwise strings).
    /// - Throws: ``ConfigTreeError`` naming the line of the first unsupported construct.
    public init(parsingYAML text: String) throws {
        guard text.utf8.count <= Self.maximumTextLength else {
            throw ConfigTreeError(reason: "configuration text of \(text.utf8.count) bytes is too long")
        }
        var lines: [YAMLLine] = []
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let content = Self.stripComment(String(raw))
            guard !content.trimmingCharacters(in: .whitespaces).isEmpty else { continue }
            if content.hasPrefix("---") || content.hasPrefix("...") { continue }
            let indent = content.prefix(while: { $0 == " " }).count
            if content.dropFirst(indent).first == "\t" {
                throw ConfigTreeError(reason: "line \(n + 1): tabs are not allowed for indentation")
            }
            lines.append(YAMLLine(number: n + 1, indent: indent, text: String(content.dropFirst(indent))))
        }
        var parser = YAMLParser(lines: lines)
        self = lines.isEmpty ? .dict([]) : try parser.block(indent: lines[0].indent, depth: 0)
        if parser.i < lines.count {
            throw ConfigTreeError(reason: "line \(lines[parser.i].number): unexpected indentation")
        }
    }

    /// The line without a `#` comment (a `#` inside quotes, or not after a space, stays).
    static func stripComment(_ line: String) -> String {
        var quote: Character?
        var previous: Character = " "
        for (offset, c) in line.enumerated() {
            if let q = quote {
                if c == q { quote = nil }
            } else if c == "'" || c == "\"" {
                quote = c
            } else if c == "#" && previous == " " {
                return String(line.prefix(offset))
            }
            previous = c
        }
        return line
    }

    /// A scalar or flow value: literals as ``init(parsing:)`` reads them, YAML's words, else a string.
    static func yamlScalar(_ text: String, line: Int) throws -> ConfigTree {
        let s = text.trimmingCharacters(in: .whitespaces)
        switch s {
        case "", "~", "null", "Null", "NULL": return .none
        case "true", "True", "TRUE": return .bool(true)
        case "false", "False", "FALSE": return .bool(false)
        default: break
        }
        if let first = s.first, "&*!|>%@`".contains(first) {
            throw ConfigTreeError(reason: "line \(line): YAML anchors, tags and block scalars are not supported")
        }
        if let first = s.first, "[{'\"".contains(first) {
            do { return try ConfigTree(parsing: s) } catch {
                throw ConfigTreeError(reason: "line \(line): \(error)")
            }
        }
        if let i = Int(s) { return .int(i) }
        if let d = Double(s), s.contains(where: { ".eE".contains($0) }) { return .double(d) }
        return .string(s)
    }
}

private struct YAMLLine {
    let number: Int
    let indent: Int
    let text: String
}

private struct YAMLParser {
    let lines: [YAMLLine]
    var i = 0

    /// The mapping or sequence whose lines sit at exactly `indent`.
    mutating func block(indent: Int, depth: Int) throws -> ConfigTree {
        guard depth < ConfigTree.maximumDepth else {
            throw ConfigTreeError(reason: "line \(lines[i].number): nesting deeper than \(ConfigTree.maximumDepth)")
        }
        if lines[i].text.hasPrefix("- ") || lines[i].text == "-" { return try sequence(indent: indent, depth: depth) }
        var entries: [ConfigTree.Entry] = []
        while i < lines.count, lines[i].indent == indent {
            let line = lines[i]
            guard let colon = keyColon(line.text) else {
                throw ConfigTreeError(reason: "line \(line.number): expected 'key: value'")
            }
            var key = String(line.text[..<colon]).trimmingCharacters(in: .whitespaces)
            if key.count >= 2, let q = key.first, q == "'" || q == "\"", key.last == q {
                key = String(key.dropFirst().dropLast())
            }
            if entries.contains(where: { $0.key == key }) {
                throw ConfigTreeError(reason: "line \(line.number): duplicate key '\(key)'")
            }
            let rest = String(line.text[line.text.index(after: colon)...])
            i += 1
            if rest.trimmingCharacters(in: .whitespaces).isEmpty {
                // A nested block (deeper, or a sequence at the same indentation), else null.
                if i < lines.count,
                    lines[i].indent > indent
                        || (lines[i].indent == indent && lines[i].text.hasPrefix("-"))
                {
                    entries.append(.init(key, try block(indent: lines[i].indent, depth: depth + 1)))
                } else {
                    entries.append(.init(key, .none))
                }
            } else {
                entries.append(.init(key, try ConfigTree.yamlScalar(rest, line: line.number)))
            }
        }
        return .dict(entries)
    }

    mutating func sequence(indent: Int, depth: Int) throws -> ConfigTree {
        var items: [ConfigTree] = []
        while i < lines.count, lines[i].indent == indent, lines[i].text.hasPrefix("-") {
            let line = lines[i]
            let rest = String(line.text.dropFirst()).trimmingCharacters(in: .whitespaces)
            i += 1
            if rest.isEmpty {
                if i < lines.count, lines[i].indent > indent {
                    items.append(try block(indent: lines[i].indent, depth: depth + 1))
                } else {
                    items.append(.none)
                }
            } else if keyColon(rest) != nil, !"[{'\"".contains(rest.first ?? " ") {
                throw ConfigTreeError(reason: "line \(line.number): mappings inside sequences are not supported")
            } else {
                items.append(try ConfigTree.yamlScalar(rest, line: line.number))
            }
        }
        return .list(items)
    }

    /// The `:` that ends a mapping key (followed by a space or the end of the line), outside quotes
    /// and brackets.
    func keyColon(_ text: String) -> String.Index? {
        var quote: Character?
        var depth = 0
        var index = text.startIndex
        while index < text.endIndex {
            let c = text[index]
            let next = text.index(after: index)
            if let q = quote {
                if c == q { quote = nil }
            } else if c == "'" || c == "\"" {
                quote = c
            } else if c == "[" || c == "{" {
                depth += 1
            } else if c == "]" || c == "}" {
                depth -= 1
            } else if c == ":", depth == 0, next == text.endIndex || text[next] == " " {
                return index
            }
            index = next
        }
        return nil
    }
}
