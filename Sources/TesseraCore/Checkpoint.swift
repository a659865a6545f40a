import Foundation

/// The weights of a model directory in the Hugging Face layout: `model.safetensors`, or
/// shards listed by `model.safetensors.index.json` (`weight_map`: tensor name → file), or —
/// for checkpoints saved by the original training code — `pytorch_model.bin` (read by the
/// restricted ``TorchCheckpoint`` reader, never by executing a pickle).
public final class Checkpoint: @unchecked Sendable {
    /// The directory (or single file) the weights came from.
    public let path: String
    private var files: [String: SafeTensorsFile] = [:]
    private var location: [String: String] = [:]   // tensor name → file name

    /// Every tensor name, sorted.
    public var names: [String] { location.keys.sorted() }

    /// Opens `directory/model.safetensors`, the sharded index or `pytorch_model.bin`; a path
    /// to a `.safetensors` (or `.bin`, `.pt`, `.pth`) file opens that file alone.
    public init(directory url: URL) throws {
        path = url.path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw SafeTensorsError(path: url.path, reason: "no such file or directory")
        }
        if !isDirectory.boolValue {
            try add(file: url)
            return
        }
        let single = url.appendingPathComponent("model.safetensors")
        let index = url.appendingPathComponent("model.safetensors.index.json")
        if FileManager.default.fileExists(atPath: single.path) {
            try add(file: single)
        } else if FileManager.default.fileExists(atPath: index.path) {
            struct Index: Decodable { var weight_map: [String: String] }
            let map: Index
            do {
                map = try JSONDecoder().decode(Index.self, from: Data(contentsOf: index))
            } catch {
                throw SafeTensorsError(path: index.path, reason: "not a valid index (needs a weight_map of name → file)")
            }
            for shard in Set(map.weight_map.values).sorted() {
                guard !shard.contains("/") && !shard.hasPrefix(".") else {
                    throw SafeTensorsError(path: index.path, reason: "shard name '\(shard)' points outside the directory")
                }
                try add(file: url.appendingPathComponent(shard))
            }
            for (name, shard) in map.weight_map {
                guard location[name] == shard else {
                    throw SafeTensorsError(path: index.path, reason: "tensor '\(name)' is listed in \(shard) but not stored there")
                }
            }
            let listed = Set(map.weight_map.keys)
            if let extra = location.keys.first(where: { !listed.contains($0) }) {
                throw SafeTensorsError(path: index.path, reason: "tensor '\(extra)' is stored in \(location[extra]!) but missing from the index")
            }
        } else if let torch = ["pytorch_model.bin", "model.pt", "model.pth"].map(url.appendingPathComponent)
                    .first(where: { FileManager.default.fileExists(atPath: $0.path) }) {
            try add(file: torch)
        } else {
            throw SafeTensorsError(path: url.path, reason: "no model.safetensors, model.safetensors.index.json or pytorch_model.bin")
        }
    }

    /// Whether a file is a PyTorch checkpoint (read through ``TorchCheckpoint``) by its extension.
    static func isTorchFile(_ url: URL) -> Bool { ["bin", "pt", "pth", "ckpt"].contains(url.pathExtension.lowercased()) }

    private func add(file: URL) throws {
        let f = Self.isTorchFile(file) ? try TorchCheckpoint.read(file) : try SafeTensorsFile(url: file)
        let name = file.lastPathComponent
        files[name] = f
        for tensor in f.entries.keys {
            if let other = location[tensor] {
                throw SafeTensorsError(path: file.path, reason: "tensor '\(tensor)' is also stored in \(other)")
            }
            location[tensor] = name
        }
    }

    /// Whether the checkpoint holds a tensor.
    public func contains(_ name: String) -> Bool { location[name] != nil }

    /// Header entry of a tensor.
    public func entry(_ name: String) -> SafeTensorsEntry? {
        location[name].flatMap { files[$0]?.entries[name] }
    }

    /// A tensor as Float32.
    public func tensor(_ name: String) throws -> Tensor {
        guard let file = location[name].flatMap({ files[$0] }) else {
            throw SafeTensorsError(path: path, reason: "no tensor named '\(name)'")
        }
        return try file.tensor(name)
    }
}
