import Foundation

/// The weights of a model directory in the Hugging Face or diffusers layout: `model.safetensors`
/// (`diffusion_pytorch_model.safetensors`), or shards listed by an `*.index.json`
/// (`weight_map`: tensor name → file), or — for checkpoints saved by the original training
/// code — `pytorch_model.bin` and similar (read by the restricted ``TorchCheckpoint`` reader,
/// never by executing a pickle).
public final class Checkpoint: @unchecked Sendable {
    /// The directory (or single file) the weights came from.
    public let path: String
    private var files: [String: SafeTensorsFile] = [:]
    private var location: [String: String] = [:]  // tensor name → file name

    /// Every tensor name, sorted.
    public var names: [String] { location.keys.sorted() }

    /// The conventional weight files of a model directory, in the order they are looked for:
    /// single safetensors files, then sharded indexes, then PyTorch checkpoints (Hugging Face
    /// `transformers` names, then `diffusers` names).
    public static let conventionalFiles = [
        "model.safetensors", "diffusion_pytorch_model.safetensors",
        "model.safetensors.index.json", "diffusion_pytorch_model.safetensors.index.json",
        "pytorch_model.bin", "diffusion_pytorch_model.bin", "model.pt", "model.pth",
    ]

    /// Opens the first weight file of `directory` among `files` (by default
    /// ``conventionalFiles``; a model may declare its own, e.g. `vq_ds16_c2i.pt`); a path to a
    /// `.safetensors` (or `.bin`, `.pt`, `.pth`, `.ckpt`) file opens that file alone, and a
    /// `*.index.json` the shards it lists.
    public init(directory url: URL, files: [String] = Checkpoint.conventionalFiles) throws {
        path = url.path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw SafeTensorsError(path: url.path, reason: "no such file or directory")
        }
        if !isDirectory.boolValue {
            if url.lastPathComponent.hasSuffix(".index.json") { try addShards(index: url) } else { try add(file: url) }
            return
        }
        guard
            let found = files.map(url.appendingPathComponent)
                .first(where: { FileManager.default.fileExists(atPath: $0.path) })
        else {
            throw SafeTensorsError(path: url.path, reason: "no weights: none of " + files.joined(separator: ", "))
        }
        if found.lastPathComponent.hasSuffix(".index.json") {
            try addShards(index: found)
        } else {
            try add(file: found)
        }
    }

    /// `__metadata__` of the weight files (safetensors only), merged.
    public var metadata: [String: String] {
        files.values.reduce(into: [:]) { out, file in out.merge(file.metadata) { first, _ in first } }
    }

    /// The shards a `*.safetensors.index.json` lists (`weight_map`: tensor name → file).
    private func addShards(index: URL) throws {
        struct Index: Decodable { var weight_map: [String: String] }
        let map: Index
        do {
            map = try JSONDecoder().decode(Index.self, from: Data(contentsOf: index))
        } catch {
            throw SafeTensorsError(path: index.path, reason: "not a valid index (needs a weight_map of name → file)")
        }
        let folder = index.deletingLastPathComponent()
        for shard in Set(map.weight_map.values).sorted() {
            guard !shard.contains("/") && !shard.hasPrefix(".") else {
                throw SafeTensorsError(path: index.path, reason: "shard name '\(shard)' points outside the directory")
            }
            try add(file: folder.appendingPathComponent(shard))
        }
        for (name, shard) in map.weight_map where location[name] != shard {
            throw SafeTensorsError(
                path: index.path, reason: "tensor '\(name)' is listed in \(shard) but not stored there")
        }
        let listed = Set(map.weight_map.keys)
        if let extra = location.first(where: { !listed.contains($0.key) }) {
            throw SafeTensorsError(
                path: index.path,
                reason: "tensor '\(extra.key)' is stored in \(extra.value) but missing from the index")
        }
    }

    /// Whether a file is a PyTorch checkpoint (read through ``TorchCheckpoint``) by its extension.
    static func isTorchFile(_ url: URL) -> Bool {
        ["bin", "pt", "pth", "ckpt"].contains(url.pathExtension.lowercased())
    }

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
