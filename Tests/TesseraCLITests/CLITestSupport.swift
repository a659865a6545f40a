// Shared helpers of the command-line tests: the committed fixtures the commands run on,
// scratch folders, error messages and captured output.
import Foundation
import Tessera
import TesseraTestSupport
import Testing

/// The fixtures the CLI tests run the commands on (all small enough for debug builds).
enum CLIFixtures {
    /// The bundled demo TiTok (32 tokens, codebook 1024, 128² input).
    static let demoModel = Fixtures.repository.appendingPathComponent("Assets/models/titok-demo")
    /// `Assets/images`.
    static let assetImages = Fixtures.repository.appendingPathComponent("Assets/images")
    /// `Assets/video/sample.mp4`.
    static let video = Fixtures.repository.appendingPathComponent("Assets/video/sample.mp4")
    /// The tiny CLIP and SigLIP towers (56×56 input, 14 px patches: 4×4 grid, width 64, 2 layers).
    static let clip = Fixtures.url("towers/clip")
    static let siglip = Fixtures.url("towers/siglip")
    /// The timm ViT (vit_tiny layout: 224 px, 16 px patches: 14×14 grid, width 192, depth 2).
    static let vit = Fixtures.url("vit/model")
    /// The two small tower test images.
    static let towerImages = ["astronaut_75x100.png", "chelsea_100x67.png"].map {
        Fixtures.url("towers/images/\($0)").path
    }

    /// An image of `Assets/images`.
    static func asset(_ name: String) -> String { assetImages.appendingPathComponent(name).path }
}

/// A fresh, existing scratch folder.
func scratch(_ name: String) throws -> URL {
    let url = Fixtures.scratchFolder(name)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// The message of the error `body` throws; nil (and a recorded issue) when it throws nothing.
func errorMessage(sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) -> String? {
    do {
        try body()
    } catch {
        return "\(error)"
    }
    Issue.record("expected an error, none was thrown", sourceLocation: sourceLocation)
    return nil
}

/// A JSON object read from a file.
func jsonObject(_ url: URL) throws -> [String: Any] {
    let object = try JSONSerialization.jsonObject(with: Data(contentsOf: url))
    return try #require(object as? [String: Any], "\(url.path) is not a JSON object")
}

/// The non-empty lines of a text file.
func lines(_ url: URL) throws -> [String] {
    try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map(String.init)
}

/// The PNG files in a folder, by name.
func pngNames(in folder: URL) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".png") }.sorted()
}

/// Redirects a file descriptor (1: stdout, 2: stderr) to a file while `body` runs and returns
/// what was written. Captures are serialized; other tests running meanwhile may add lines, so
/// callers look for what they expect rather than compare the whole text.
enum OutputCapture {
    private static let lock = NSLock()

    static func capture(_ descriptor: Int32, _ body: () throws -> Void) throws -> String {
        lock.lock()
        defer { lock.unlock() }
        let file = Fixtures.scratchFolder("capture").appendingPathExtension("txt")
        _ = FileManager.default.createFile(atPath: file.path, contents: nil)
        let handle = try FileHandle(forWritingTo: file)
        fflush(nil)
        let saved = dup(descriptor)
        dup2(handle.fileDescriptor, descriptor)
        var thrown: Error?
        do { try body() } catch { thrown = error }
        fflush(nil)
        dup2(saved, descriptor)
        close(saved)
        try handle.close()
        if let thrown { throw thrown }
        return try String(contentsOf: file, encoding: .utf8)
    }
}
