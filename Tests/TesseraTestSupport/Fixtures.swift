// Shared helpers of the test targets: where the committed fixtures live, how to read their
// manifests, and the error measures the reference comparisons use.
import Foundation
import TesseraCore

/// The committed reference fixtures under `Tests/Fixtures` (made by `Tests/Reference/*.py`).
public enum Fixtures {
    /// `Tests/Fixtures`.
    public static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures")

    /// The repository root (for the bundled `Assets/`).
    public static let repository = root.deletingLastPathComponent().deletingLastPathComponent()

    /// A path under `Tests/Fixtures`.
    public static func url(_ path: String) -> URL { root.appendingPathComponent(path) }

    /// Decodes a JSON manifest under `Tests/Fixtures`; nil (and a printed reason) when it is
    /// missing or malformed, so the test that counts the cases fails visibly.
    public static func load<T: Decodable>(_ path: String, as: T.Type = T.self) -> T? {
        guard let data = try? Data(contentsOf: url(path)) else { return nil }
        do { return try JSONDecoder().decode(T.self, from: data) } catch {
            print("cannot decode fixture manifest \(path): \(error)")
            return nil
        }
    }

    /// A `.npy` file under `Tests/Fixtures`.
    public static func npy(_ path: String) throws -> NPYArray { try NPYArray(contentsOf: url(path)) }

    /// The `params` object of every entry of a `cases.json` list (`[{"case": …, "params": {…}}]`).
    public static func caseParameters(_ path: String) -> [String: [String: Any]] {
        guard let data = try? Data(contentsOf: url(path)),
            let list = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]]
        else { return [:] }
        var out: [String: [String: Any]] = [:]
        for entry in list {
            if let name = entry["case"] as? String { out[name] = entry["params"] as? [String: Any] ?? [:] }
        }
        return out
    }

    /// Every file of a folder (name → bytes), for byte-for-byte comparisons.
    public static func snapshot(_ folder: URL) throws -> [String: Data] {
        var out: [String: Data] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: folder.path) {
            out[name] = try Data(contentsOf: folder.appendingPathComponent(name))
        }
        return out
    }

    /// Writes a sparse `model.safetensors` at `url` with a real header for `shapes` (float32) and
    /// zero data that takes no disk space: published key sets bind without their gigabytes.
    public static func writeSparseSafeTensors(
        shapes: [String: [Int]], metadata: [String: String] = [:], to url: URL
    ) throws {
        var header: [String: Any] = metadata.isEmpty ? [:] : ["__metadata__": metadata]
        var offset = 0
        for (name, shape) in shapes.sorted(by: { $0.key < $1.key }) {
            let bytes = shape.reduce(1, *) * 4
            header[name] = ["dtype": "F32", "shape": shape, "data_offsets": [offset, offset + bytes]] as [String: Any]
            offset += bytes
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }
        var prefix = Data()
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { prefix.append(contentsOf: $0) }
        try (prefix + json).write(to: url)
        let handle = try FileHandle(forWritingTo: url)
        try handle.truncate(atOffset: UInt64(8 + json.count + offset))
        try handle.close()
    }

    /// A fresh folder under the temporary directory.
    public static func scratchFolder(_ name: String) -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("tessera-test-\(name)-\(UUID().uuidString)")
    }

    /// A fresh scratch folder of symbolic links to the files of the model folder `model`, except
    /// `file`, which is written as `contents`: a model with one file edited (configs of hostile
    /// inputs). The caller removes the folder.
    public static func modelWithEditedFile(_ model: URL, _ file: String, contents: Data) throws -> URL {
        let dir = scratchFolder("edited-" + model.lastPathComponent)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: model.path) where name != file {
            try FileManager.default.createSymbolicLink(
                at: dir.appendingPathComponent(name), withDestinationURL: model.appendingPathComponent(name))
        }
        try contents.write(to: dir.appendingPathComponent(file))
        return dir
    }
}

/// max |a − b| / max |b|: the error relative to the reference's scale.
public func relativeError(_ a: Tensor, _ b: Tensor) -> Float {
    precondition(a.count == b.count, "sizes differ: \(a.shape) vs \(b.shape)")
    var diff: Float = 0, scale: Float = 0
    for i in 0..<a.count {
        diff = max(diff, abs(a.scalars[i] - b.scalars[i]))
        scale = max(scale, abs(b.scalars[i]))
    }
    return diff / max(scale, 1e-30)
}

/// max |a − b| over two tensors of equal size.
public func maxDifference(_ a: Tensor, _ b: Tensor) -> Float { maxAbsDiff(a.scalars, b.scalars) }

/// max |a − b| over two equally long float arrays.
public func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count, "sizes differ: \(a.count) vs \(b.count)")
    var m: Float = 0
    for i in 0..<a.count { m = max(m, abs(a[i] - b[i])) }
    return m
}

/// max |a − b| over two equally long byte arrays.
public func maxAbsDiff(_ a: [UInt8], _ b: [UInt8]) -> Int {
    precondition(a.count == b.count, "sizes differ: \(a.count) vs \(b.count)")
    var m = 0
    for i in 0..<a.count { m = max(m, abs(Int(a[i]) - Int(b[i]))) }
    return m
}

/// A JSON value of any shape (for free-form `params` in fixture manifests).
public enum JSONValue: Decodable, Sendable {
    case number(Double)
    case string(String)
    case bool(Bool)
    case array([JSONValue])
    case object([String: JSONValue])
    case null

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let n = try? c.decode(Double.self) {
            self = .number(n)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let a = try? c.decode([JSONValue].self) {
            self = .array(a)
        } else {
            self = .object(try c.decode([String: JSONValue].self))
        }
    }

    public var int: Int? { if case .number(let n) = self { Int(n) } else { nil } }
    public var double: Double? { if case .number(let n) = self { n } else { nil } }
    public var bool: Bool? { if case .bool(let b) = self { b } else { nil } }
    public var string: String? { if case .string(let s) = self { s } else { nil } }
    public var ints: [Int]? { if case .array(let a) = self { a.compactMap(\.int) } else { nil } }
}
