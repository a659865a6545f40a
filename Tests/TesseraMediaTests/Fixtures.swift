import Foundation
import TesseraCore

/// Committed reference fixtures (made by Tests/Reference/make_media_fixtures.py).
enum Fixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures")
    static let media = root.appendingPathComponent("media")

    /// Decodes a JSON manifest under `Tests/Fixtures/media`; an empty result when it is
    /// missing (the test that checks the manifest's size then fails).
    static func load<T: Decodable>(_ path: String, as: T.Type = T.self) -> T? {
        guard let data = try? Data(contentsOf: media.appendingPathComponent(path)) else { return nil }
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch {
            print("cannot decode fixture manifest \(path): \(error)")
            return nil
        }
    }

    static func npy(_ path: String) throws -> NPYArray {
        try NPYArray(contentsOf: media.appendingPathComponent(path))
    }
}

/// Largest absolute difference between two equally long byte arrays.
func maxAbsDiff(_ a: [UInt8], _ b: [UInt8]) -> Int {
    precondition(a.count == b.count)
    var m = 0
    for i in 0..<a.count { m = max(m, abs(Int(a[i]) - Int(b[i]))) }
    return m
}

func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count)
    var m: Float = 0
    for i in 0..<a.count { m = max(m, abs(a[i] - b[i])) }
    return m
}
