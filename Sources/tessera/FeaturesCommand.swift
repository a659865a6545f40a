import ArgumentParser
import Foundation
import Tessera

struct Features: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a vision transformer and write its hidden states as .npy.",
        discussion: """
        --model is a timm hub directory (config.json + model.safetensors). Images are preprocessed \
        as the model's config says (timm's eval transform). The output holds one row per image \
        that decoded; OUT.json next to it lists their sources in order.
        """)

    enum Pool: String, ExpressibleByArgument { case cls, mean, none }

    @Option(help: "Model directory.")
    var model: String
    @Argument(help: "Image files or folders.")
    var inputs: [String]
    @Option(help: "Block whose output to take (0-based; negative counts from the end). Default: the final normalized tokens.")
    var layer: Int?
    @Option(help: "cls: the class token; mean: mean of the patch tokens; none: every token.")
    var pool: Pool = .cls
    @Option(help: "Images per forward pass.")
    var batch: Int = 8
    @Option(name: .shortAndLong, help: "Output .npy file.")
    var output: String

    func validate() throws {
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
    }

    func run() throws {
        let vit = try TimmViT(directory: URL(fileURLWithPath: model))
        let depth = vit.config.depth
        var block: Int? = nil
        if let layer {
            let b = layer < 0 ? depth + layer : layer
            guard b >= 0 && b < depth else { throw ValidationError("--layer \(layer) outside the model's \(depth) blocks") }
            block = b
        }
        var failures = FailureLog()
        let files = try Media.expand(inputs)
        var rows: [Float] = []
        var rowShape: [Int] = []
        var sources: [String] = []
        let pipeline = vit.config.preprocessing
        for start in stride(from: 0, to: files.count, by: batch) {
            let chunk = Array(files[start..<min(files.count, start + batch)])
            let results = decodeInParallel(chunk) { pipeline.tensor(try Image(contentsOf: $0)) }
            var tensors = [Tensor?](repeating: nil, count: chunk.count)
            var errors = [Error?](repeating: nil, count: chunk.count)
            for (i, r) in results.enumerated() {
                switch r {
                case .success(let t): tensors[i] = t
                case .failure(let e): errors[i] = e
                }
            }
            for (i, e) in errors.enumerated() { if let e { failures.record(e, input: chunk[i].path) } }
            let good = chunk.indices.filter { tensors[$0] != nil }
            guard !good.isEmpty else { continue }
            let pixels = Tensor.concatenate(good.map { tensors[$0]!.reshaped([1] + tensors[$0]!.shape) }, axis: 0)
            var hidden = vit.forward(pixels, upTo: block)
            switch pool {
            case .cls: hidden = hidden.slice(axis: 1, 0..<1).reshaped([good.count, vit.config.embedDim])
            case .mean: hidden = hidden.slice(axis: 1, vit.config.prefixTokens..<hidden.shape[1]).mean(axis: 1)
            case .none: break
            }
            rowShape = Array(hidden.shape.dropFirst())
            rows += hidden.scalars
            sources += good.map { chunk[$0].path }
            FileHandle.standardError.write(Data("features: \(min(files.count, start + batch))/\(files.count) images\n".utf8))
        }
        guard !sources.isEmpty else {
            try failures.finish()
            throw ValidationError("no input images")
        }
        let outURL = URL(fileURLWithPath: output)
        try NPYArray(Tensor(shape: [sources.count] + rowShape, scalars: rows)).write(to: outURL)
        let sidecar: [String: Any] = ["model": model, "architecture": vit.config.architecture, "layer": layer.map { $0 as Any } ?? "final",
                                      "pool": pool.rawValue, "shape": [sources.count] + rowShape, "sources": sources]
        try JSONSerialization.data(withJSONObject: sidecar, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
            .write(to: outURL.appendingPathExtension("json"), options: .atomic)
        print("wrote \(output): \([sources.count] + rowShape)")
        try failures.finish()
    }
}
