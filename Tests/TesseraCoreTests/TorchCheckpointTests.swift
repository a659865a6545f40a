import Foundation
import TesseraTestSupport
import Testing

@testable import TesseraCore

/// `torch.save` files read without Python, against the same tensors saved as safetensors by
/// `Tests/Reference/make_torch_checkpoint_fixtures.py`.
@Suite struct TorchCheckpointTests {
    static let folder = Fixtures.url("core/torch")

    @Test func stateDictMatchesTorch() throws {
        let file = try TorchCheckpoint.read(Self.folder.appendingPathComponent("pytorch_model.bin"))
        let expected = try SafeTensorsFile(url: Self.folder.appendingPathComponent("expected.safetensors"))
        let names = expected.names.filter { !$0.hasPrefix("nested.") }
        #expect(Set(file.names) == Set(names))
        for name in names {
            #expect(file.entries[name]?.dtype == expected.entries[name]?.dtype, "\(name)")
            #expect(file.entries[name]?.shape == expected.entries[name]?.shape, "\(name)")
            // Same bytes: dtype kept, views and transposes copied out in row-major order.
            let a = try file.withUnsafeBytes(of: name) { Array($0) }
            let b = try expected.withUnsafeBytes(of: name) { Array($0) }
            #expect(a == b, "\(name)")
        }
        #expect(try file.integers("ids.long") == [1, -2, 3_000_000_000])
    }

    @Test func nestedTrainingCheckpointsFlattenWithDots() throws {
        let file = try TorchCheckpoint.read(Self.folder.appendingPathComponent("nested.pt"))
        let expected = try SafeTensorsFile(url: Self.folder.appendingPathComponent("expected.safetensors"))
        #expect(Set(file.names) == ["model.a.weight", "model.a.bias", "optimizer.state.0.exp_avg"])
        for name in file.names { #expect(try file.tensor(name) == expected.tensor("nested." + name)) }
    }

    @Test func checkpointDirectoryFallsBackToPytorchModelBin() throws {
        let checkpoint = try Checkpoint(directory: Self.folder)
        #expect(checkpoint.contains("decoder.transposed"))
        #expect(try checkpoint.tensor("decoder.transposed").shape == [6, 4])
    }

    @Test func hostileTruncatedAndLegacyFilesAreRefused() throws {
        func reason(_ name: String) -> String {
            do { _ = try TorchCheckpoint.read(Self.folder.appendingPathComponent(name)); return "loaded" } catch {
                return "\(error)"
            }
        }
        #expect(
            reason("hostile.bin").contains("refusing to load 'posix.system'")
                || reason("hostile.bin").contains("refusing to load 'os.system'"))
        #expect(reason("legacy.bin").contains("legacy"))
        let bytes = try [UInt8](Data(contentsOf: Self.folder.appendingPathComponent("pytorch_model.bin")))
        // Every truncation and a sweep of byte flips: an error or a file, never a crash.
        for cut in stride(from: 0, to: bytes.count, by: 97) {
            #expect(throws: SafeTensorsError.self) {
                _ = try bytes.prefix(cut).withUnsafeBytes { try TorchCheckpoint.read(bytes: $0, path: "cut") }
            }
        }
        var state: UInt64 = 42
        for _ in 0..<2000 {
            var mutated = bytes
            for _ in 0..<3 {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                mutated[Int(state >> 33) % mutated.count] = UInt8(truncatingIfNeeded: state >> 17)
            }
            _ = try? mutated.withUnsafeBytes { try TorchCheckpoint.read(bytes: $0, path: "fuzz") }
        }
    }
}
