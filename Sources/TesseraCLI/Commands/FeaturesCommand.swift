import ArgumentParser
import Foundation
import Tessera

struct Features: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a vision encoder and write its hidden states as .npy.",
        discussion: """
            --model is any vision encoder of `tessera models`: a timm hub directory or a Hugging Face CLIP / SigLIP \
            (vision) directory (config.json + model.safetensors [+ preprocessor_config.json]). Images are preprocessed \
            as the model's own processor does. The output holds one row per image that decoded; OUT.json next to it \
            lists their sources in order.
            """)

    @Option(help: "Model directory.")
    var model: String
    @Argument(help: "Image files or folders.")
    var inputs: [String]
    @Option(
        parsing: .unconditional,
        help: "Block whose output to take (0-based; negative counts from the end, e.g. -2). Default: the final tokens.")
    var layer: Int?
    @Option(
        help: ArgumentHelp(
            "cls: the class token (SigLIP: the attention-pooled output); mean: mean of the patch tokens; none: every "
                + "token.")
    )
    var pool: FeaturePooling = .cls
    @Option(help: "Images per forward pass.")
    var batch: Int = 8
    @Option(name: .shortAndLong, help: "Output .npy file.")
    var output: String
    @OptionGroup var resources: ResourceOptions

    func validate() throws {
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
    }

    func run() throws {
        let encoder = try VisionEncoderRegistry.load(URL(fileURLWithPath: model))
        let d = encoder.descriptor
        let block: Int?
        do { block = try layer.map(encoder.block(forLayer:)) } catch let e as VisionEncoderError {
            throw ValidationError("--layer: \(e)")
        }
        do { try encoder.checkPooling(block: block, pool) } catch let e as VisionEncoderError {
            throw ValidationError("--pool \(pool.rawValue): \(e)")
        }
        var failures = FailureLog()
        let scan = try Media.scan(inputs)
        reportSkipped(scan.skipped)
        let files = imagesOnly(scan.files, command: "features")
        var rows: [Float] = []
        var rowShape: [Int] = []
        var sources: [String] = []
        for start in stride(from: 0, to: files.count, by: batch) {
            let chunk = Array(files[start..<min(files.count, start + batch)])
            let results = decodeInParallel(chunk) { encoder.preprocessing.tensor(try Image(contentsOf: $0)) }
            var tensors: [Tensor] = []
            for (i, r) in results.enumerated() {
                switch r {
                case .success(let t): tensors.append(t.reshaped([1] + t.shape)); sources.append(chunk[i].path)
                case .failure(let e): failures.record(e, input: chunk[i].path)
                }
            }
            guard !tensors.isEmpty else { continue }
            let pooled = try encoder.features(Tensor.concatenate(tensors, axis: 0), block: block, pooling: pool)
            rowShape = Array(pooled.shape.dropFirst())
            rows += pooled.scalars
            FileHandle.standardError.write(
                Data("features: \(min(files.count, start + batch))/\(files.count) images\n".utf8))
        }
        guard !sources.isEmpty else {
            try failures.finish()
            throw ValidationError("no input images")
        }
        let outURL = URL(fileURLWithPath: output)
        try NPYArray(Tensor(shape: [sources.count] + rowShape, scalars: rows)).write(to: outURL)
        let sidecar: [String: Any] = [
            "model": model, "family": d.family, "architecture": d.modelID,
            "layer": layer.map { $0 as Any } ?? "final", "pool": pool.rawValue,
            "shape": [sources.count] + rowShape, "sources": sources,
        ]
        try JSONSerialization.data(
            withJSONObject: sidecar, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        )
        .write(to: outURL.appendingPathExtension("json"), options: .atomic)
        print("wrote \(output): \([sources.count] + rowShape)")
        try failures.finish()
    }
}
