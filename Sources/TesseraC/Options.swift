// The JSON options of the entry points, read strictly: a key that is not expected, or a value of
// the wrong type or range, is an error naming the key (a typo must not be silently ignored).
import CTesseraABI
import Foundation

/// A JSON value, with integers kept exact (seeds are 64-bit).
enum JSONValue: Decodable {
    case null
    case bool(Bool)
    case int(Int)
    case uint(UInt64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let v = try Self.decode(c, Bool.self) {
            self = .bool(v)
        } else if let v = try Self.decode(c, Int.self) {
            self = .int(v)
        } else if let v = try Self.decode(c, UInt64.self) {
            self = .uint(v)
        } else if let v = try Self.decode(c, Double.self) {
            self = .double(v)
        } else if let v = try Self.decode(c, String.self) {
            self = .string(v)
        } else if let v = try Self.decode(c, [JSONValue].self) {
            self = .array(v)
        } else {
            self = .object(try c.decode([String: JSONValue].self))
        }
    }

    /// The value as `T`, or nil when it is another kind of value (then the next kind is tried): a
    /// type mismatch, or a number that `T` cannot hold (1.5 or -1 as an `Int`/`UInt64`).
    private static func decode<T: Decodable>(_ c: any SingleValueDecodingContainer, _: T.Type) throws -> T? {
        do {
            return try c.decode(T.self)
        } catch let error as DecodingError {
            switch error {
            case .typeMismatch, .dataCorrupted: return nil
            default: throw error
            }
        }
    }
}

struct Options {
    private let values: [String: JSONValue]
    private let call: String

    /// Parses `pointer` (NULL or "" for none) for `call`, accepting only `allowed` keys.
    init(_ pointer: UnsafePointer<CChar>?, call: String, allowed: Set<String>) throws {
        let text = pointer.map { String(cString: $0) } ?? ""
        guard !text.trimmingCharacters(in: .whitespaces).isEmpty else {
            self.init(values: [:], call: call)
            return
        }
        let parsed: JSONValue
        do { parsed = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) } catch {
            throw BoundaryError.argument("\(call): options are not JSON (\(error)): \(text.prefix(200))")
        }
        guard case .object(let dictionary) = parsed else {
            throw BoundaryError.argument("\(call): options must be a JSON object, got \(text.prefix(200))")
        }
        try self.init(dictionary, call: call, allowed: allowed)
    }

    /// Options from a JSON object (a nested one: a request's `sampling`).
    init(_ dictionary: [String: JSONValue], call: String, allowed: Set<String>) throws {
        let unknown = Set(dictionary.keys).subtracting(allowed).sorted()
        guard unknown.isEmpty else {
            throw BoundaryError.argument(
                "\(call): unknown option(s) \(unknown.joined(separator: ", ")) (known: "
                    + allowed.sorted().joined(separator: ", ") + ")")
        }
        // JSON null means "the default", like an absent key.
        self.init(values: dictionary.filter { if case .null = $0.value { false } else { true } }, call: call)
    }

    private init(values: [String: JSONValue], call: String) {
        self.values = values
        self.call = call
    }

    private func fail(_ key: String, _ expected: String) -> BoundaryError {
        BoundaryError.argument("\(call): option \(key) must be \(expected)")
    }

    /// Whether the option was given (and not null).
    func has(_ key: String) -> Bool { values[key] != nil }

    /// An integer in `range`.
    func int(_ key: String, in range: ClosedRange<Int> = Int.min...Int.max) throws -> Int? {
        guard let raw = values[key] else { return nil }
        guard case .int(let value) = raw, range.contains(value) else {
            throw fail(key, "an integer in \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }

    func uint64(_ key: String) throws -> UInt64? {
        switch values[key] {
        case nil: return nil
        case .int(let v)? where v >= 0: return UInt64(v)
        case .uint(let v)?: return v
        default: throw fail(key, "a non-negative integer")
        }
    }

    func double(_ key: String) throws -> Double? {
        switch values[key] {
        case nil: return nil
        case .int(let v)?: return Double(v)
        case .uint(let v)?: return Double(v)
        case .double(let v)? where v.isFinite: return v
        default: throw fail(key, "a finite number")
        }
    }

    func bool(_ key: String) throws -> Bool? {
        guard let raw = values[key] else { return nil }
        guard case .bool(let value) = raw else { throw fail(key, "true or false") }
        return value
    }

    func string(_ key: String) throws -> String? {
        guard let raw = values[key] else { return nil }
        guard case .string(let value) = raw else { throw fail(key, "a string") }
        return value
    }

    /// A string naming one case of `T`.
    func choice<T: RawRepresentable & CaseIterable>(_ key: String, _: T.Type) throws -> T? where T.RawValue == String {
        guard let text = try string(key) else { return nil }
        guard let value = T(rawValue: text) else {
            throw fail(key, "one of " + T.allCases.map(\.rawValue).joined(separator: ", "))
        }
        return value
    }

    func strings(_ key: String) throws -> [String]? {
        guard let raw = values[key] else { return nil }
        guard case .array(let list) = raw else { throw fail(key, "a list of strings") }
        return try list.map {
            guard case .string(let s) = $0 else { throw fail(key, "a list of strings") }
            return s
        }
    }

    func object(_ key: String) throws -> [String: JSONValue]? {
        guard let raw = values[key] else { return nil }
        guard case .object(let value) = raw else { throw fail(key, "a JSON object") }
        return value
    }
}

/// Serializes a JSON-compatible value (sorted keys, so the text is stable). The values are built
/// in this target from strings, numbers, arrays and NSNull, which always serialize; "{}" stands in
/// for the impossible failure rather than a trap.
func jsonText(_ value: Any) -> String {
    guard
        let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .withoutEscapingSlashes])
    else { return "{}" }
    return String(decoding: data, as: UTF8.self)
}
