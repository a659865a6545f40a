import ArgumentParser
import Foundation
import Tessera

struct Features: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a vision transformer and write its hidden states as .npy.",
        discussion: """
        --model is a timm hub directory or a Hugging Face CLIP / SigLIP (vision) directory \
        (config.json + model.safetensors [+ preprocessor_config.json]). Images are preprocessed as \
        the model's own processor does. The output holds one row per image that decoded; OUT.json \
        next to it lists their sources in order.
        """)

    enum Pool: String, ExpressibleByArgument { case cls, mean, none }

    @Option(help: "Model directory.")
    var model: String
    @Argument(help: "Image files or folders.")
    var inputs: [String]
    @Option(help: "Block whose output to take (0-based; negative counts from the end). Default: the final normalized tokens.")
    var layer: Int?
    @Option(help: "cls: the class token (SigLIP: the attention-pooled output); mean: mean of the patch tokens; none: every token.")
    var pool: Pool = .cls
    @Option(help: "Images per forward pass.")
    var batch: Int = 8
    @Option(name: .shortAndLong, help: "Output .npy file.")
    var output: String

    func validate() throws {
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
    }

    /// The three tower families behind one interface.
    enum Tower {
        case timm(TimmViT), clip(CLIPVisionTower), siglip(SigLIPVisionTower)

        init(directory: URL) throws {
            if let cfg = try? HFVisionConfig(directory: directory) {
                self = cfg.modelType == "clip" ? .clip(try CLIPVisionTower(directory: directory)) : .siglip(try SigLIPVisionTower(directory: directory))
            } else {
                self = .timm(try TimmViT(directory: directory))
            }
        }
        var depth: Int {
            switch self { case .timm(let m): return m.config.depth; case .clip(let m): return m.config.layers; case .siglip(let m): return m.config.layers }
        }
        var prefixTokens: Int {
            switch self { case .timm(let m): return m.config.prefixTokens; case .clip(let m): return m.prefixTokens; case .siglip(let m): return m.prefixTokens }
        }
        var name: String {
            switch self { case .timm(let m): return m.config.architecture; case .clip: return "clip"; case .siglip: return "siglip" }
        }
        func input(_ image: Image) -> Tensor {
            switch self {
            case .timm(let m): return m.config.preprocessing.tensor(image)
            case .clip(let m): return m.processor.tensor(image)
            case .siglip(let m): return m.processor.tensor(image)
            }
        }
        /// Hidden states after block `block` (nil: the model's final tokens), and the pooled vector.
        func run(_ pixels: Tensor, block: Int?) -> (tokens: Tensor, pooled: Tensor?) {
            switch self {
            case .timm(let m):
                let tokens = m.forward(pixels, upTo: block)
                return (tokens, block == nil ? m.pooled(tokens) : nil)
            case .clip(let m):
                let out = m.forward(pixels, layerCount: block.map { $0 + 1 })
                return (out.lastHiddenState, out.pooled)
            case .siglip(let m):
                let out = m.forward(pixels, layerCount: block.map { $0 + 1 })
                return (out.lastHiddenState, out.pooled)
            }
        }
    }

    func run() throws {
        let tower = try Tower(directory: URL(fileURLWithPath: model))
        let depth = tower.depth
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
        for start in stride(from: 0, to: files.count, by: batch) {
            let chunk = Array(files[start..<min(files.count, start + batch)])
            let results = decodeInParallel(chunk) { tower.input(try Image(contentsOf: $0)) }
            var tensors: [Tensor] = []
            for (i, r) in results.enumerated() {
                switch r {
                case .success(let t): tensors.append(t.reshaped([1] + t.shape)); sources.append(chunk[i].path)
                case .failure(let e): failures.record(e, input: chunk[i].path)
                }
            }
            guard !tensors.isEmpty else { continue }
            let (tokens, pooled) = tower.run(Tensor.concatenate(tensors, axis: 0), block: block)
            let (b, n, d) = (tokens.shape[0], tokens.shape[1], tokens.shape[2])
            var out: Tensor
            switch pool {
            case .cls:
                if let pooled, block == nil, tower.prefixTokens == 0 { out = pooled }          // SigLIP: the pooling head
                else if tower.prefixTokens > 0 { out = tokens.slice(axis: 1, 0..<1).reshaped([b, d]) }
                else { throw ValidationError("\(tower.name) has no class token; use --pool mean or none") }
            case .mean: out = tokens.slice(axis: 1, tower.prefixTokens..<n).mean(axis: 1)
            case .none: out = tokens
            }
            rowShape = Array(out.shape.dropFirst())
            rows += out.scalars
            FileHandle.standardError.write(Data("features: \(min(files.count, start + batch))/\(files.count) images\n".utf8))
        }
        guard !sources.isEmpty else {
            try failures.finish()
            throw ValidationError("no input images")
        }
        let outURL = URL(fileURLWithPath: output)
        try NPYArray(Tensor(shape: [sources.count] + rowShape, scalars: rows)).write(to: outURL)
        let sidecar: [String: Any] = ["model": model, "architecture": tower.name, "layer": layer.map { $0 as Any } ?? "final",
                                      "pool": pool.rawValue, "shape": [sources.count] + rowShape, "sources": sources]
        try JSONSerialization.data(withJSONObject: sidecar, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
            .write(to: outURL.appendingPathExtension("json"), options: .atomic)
        print("wrote \(output): \([sources.count] + rowShape)")
        try failures.finish()
    }
}
