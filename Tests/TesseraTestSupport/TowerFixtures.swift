import Foundation
import TesseraCore
import TesseraMedia
import Testing

/// The reduced CLIP/SigLIP towers of `Tests/Fixtures/towers` (Tests/Reference/make_tower_fixtures.py).
public enum TowerFixtures {
    /// `Tests/Fixtures/towers`.
    public static let root = Fixtures.url("towers")

    struct Manifest: Decodable { var batch_order: [String] }

    /// The fixture images in the reference's batch order.
    public static func images() throws -> [Image] {
        let data = try Data(contentsOf: root.appendingPathComponent("manifest.json"))
        let names = try JSONDecoder().decode(Manifest.self, from: data).batch_order
        return try names.map { name in
            try Image(contentsOf: root.appendingPathComponent(name.hasPrefix("images/") ? name : "images/" + name))
        }
    }
}

/// Expects `got` to match the reference tensor `name` of `e` within `tolerance`, relative to the
/// reference's largest magnitude.
public func expectClose(
    _ name: String, _ got: Tensor, _ e: SafeTensorsFile, tolerance: Float = 1e-4,
    sourceLocation: SourceLocation = #_sourceLocation
) throws {
    let ref = try e.tensor(name)
    #expect(got.shape == ref.shape, "\(name): \(got.shape) vs \(ref.shape)", sourceLocation: sourceLocation)
    guard got.count == ref.count else { return }
    let error = relativeError(got, ref)
    #expect(error <= tolerance, "\(name): relative error \(error)", sourceLocation: sourceLocation)
}
