import Foundation
import TesseraCore
import TesseraTestSupport
import Testing

/// The shared test helpers measure what the reference comparisons rely on: if they were wrong,
/// every parity test would pass or fail for the wrong reason.
@Suite struct TestSupportTests {
    @Test func errorMeasures() {
        let reference = Tensor(shape: [3], scalars: [2, -4, 1])
        #expect(relativeError(Tensor(shape: [3], scalars: [2, -4, 1]), reference) == 0)
        #expect(relativeError(Tensor(shape: [3], scalars: [2, -3, 1]), reference) == 0.25)  // |Δ| 1 over max |b| 4
        #expect(maxDifference(Tensor(shape: [3], scalars: [2.5, -4, 0]), reference) == 1)
        #expect(maxAbsDiff([1, 200, 7] as [UInt8], [3, 190, 7]) == 10)
        #expect(maxAbsDiff([1.5, -2] as [Float], [1, -2]) == 0.5)
    }

    @Test func jsonValuesKeepTheirKinds() throws {
        let json = #"{"n": 3, "x": 0.5, "s": "a", "b": true, "list": [1, 2], "none": null}"#
        let value = try JSONDecoder().decode([String: JSONValue].self, from: Data(json.utf8))
        #expect(value["n"]?.int == 3 && value["x"]?.double == 0.5 && value["s"]?.string == "a")
        #expect(value["b"]?.bool == true && value["list"]?.ints == [1, 2] && value["b"]?.int == nil)
        if case .null? = value["none"] {} else { Issue.record("null decoded as \(String(describing: value["none"]))") }
    }

    @Test func fixtureManifestsAndFolders() throws {
        #expect(FileManager.default.fileExists(atPath: Fixtures.url("reduction/cases.json").path))
        #expect(
            FileManager.default.fileExists(atPath: Fixtures.repository.appendingPathComponent("Package.swift").path))
        let params = Fixtures.caseParameters("reduction/cases.json")
        #expect(params["tome_cls"]?["class_token"] as? Bool == true)
        #expect(Fixtures.caseParameters("no/such.json").isEmpty)
        let a = Fixtures.scratchFolder("x"), b = Fixtures.scratchFolder("x")
        #expect(a != b)
        try FileManager.default.createDirectory(at: a, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: a) }
        try Data("one".utf8).write(to: a.appendingPathComponent("f.txt"))
        #expect(try Fixtures.snapshot(a) == ["f.txt": Data("one".utf8)])
    }

    /// A model folder with one file edited links every other file and holds the new contents.
    @Test func modelWithEditedFileLinksTheRest() throws {
        let model = Fixtures.repository.appendingPathComponent("Assets/models/titok-demo")
        let dir = try Fixtures.modelWithEditedFile(model, "config.json", contents: Data("{}".utf8))
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(try Data(contentsOf: dir.appendingPathComponent("config.json")) == Data("{}".utf8))
        let weights = dir.appendingPathComponent("model.safetensors").path
        #expect(
            try FileManager.default.destinationOfSymbolicLink(atPath: weights)
                == model.appendingPathComponent("model.safetensors").path)
        #expect(
            Set(try FileManager.default.contentsOfDirectory(atPath: dir.path))
                == Set(try FileManager.default.contentsOfDirectory(atPath: model.path)))
    }
}
