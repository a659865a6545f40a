import Foundation
import TesseraCore

enum Fixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func load<T: Decodable>(_ path: String, as: T.Type = T.self) -> T? {
        guard let data = try? Data(contentsOf: root.appendingPathComponent(path)) else { return nil }
        do { return try JSONDecoder().decode(T.self, from: data) } catch {
            print("cannot decode fixture manifest \(path): \(error)")
            return nil
        }
    }
}

/// max |a − b| / max |b|: the error relative to the reference's scale.
func relativeError(_ a: Tensor, _ b: Tensor) -> Float {
    precondition(a.count == b.count)
    var diff: Float = 0, scale: Float = 0
    for i in 0..<a.count {
        diff = max(diff, abs(a.scalars[i] - b.scalars[i]))
        scale = max(scale, abs(b.scalars[i]))
    }
    return diff / max(scale, 1e-30)
}

/// A JSON value of any shape (for free-form `params`).
enum JSONValue: Decodable, Sendable {
    case number(Double), string(String), bool(Bool), array([JSONValue]), object([String: JSONValue]), null

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let n = try? c.decode(Double.self) { self = .number(n) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    var int: Int? { if case .number(let n) = self { return Int(n) } else { return nil } }
    var double: Double? { if case .number(let n) = self { return n } else { return nil } }
    var bool: Bool? { if case .bool(let b) = self { return b } else { return nil } }
    var string: String? { if case .string(let s) = self { return s } else { return nil } }
    var ints: [Int]? { if case .array(let a) = self { return a.compactMap(\.int) } else { return nil } }
}
