import ArgumentParser
import Foundation
import Tessera

struct Prune: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a CLIP/SigLIP vision tower and keep N of its patch tokens, LLaVA-style.",
        discussion: """
        Writes OUT.safetensors with, per image i: features.i [N, C] (hidden states of --layer, no CLS; \
        with --projector, mapped through LLaVA's mm_projector), \
        indices.i [N] (kept patch indices, sorted; int64) and positions.i [N, 3] ((t, h, w) of each kept \
        patch on the grid). Methods: divprune (k-center diversity), visionzip (dominant by CLS attention + \
        contextual merges, 54:10 as upstream; CLIP only — indices/positions cover the dominant tokens, \
        the last features are the contextual merges), hiprune (anchors/buffers/registers from attention \
        received), uniform, random.
        """)

    enum Method: String, ExpressibleByArgument { case divprune, visionzip, hiprune, uniform, random }

    @Option(help: "Vision tower directory (Hugging Face CLIP or SigLIP).")
    var encoder: String
    @Option(help: "Reduction method.")
    var method: Method
    @Option(help: "Tokens to keep per image.")
    var keep: Int
    @Option(help: "Layer whose hidden states are the features (negative counts from the end; LLaVA: -2).")
    var layer: Int = -2
    @Option(help: "Seed for --method random.")
    var seed: UInt64 = 0
    @Option(help: "LLaVA checkpoint (directory or .safetensors) whose mm_projector maps the kept features to the language model's width.")
    var projector: String?
    @Argument(help: "Images or folders.")
    var inputs: [String]
    @Option(name: .shortAndLong, help: "Output .safetensors.")
    var output: String

    func run() throws {
        let dir = URL(fileURLWithPath: encoder)
        let config = try HFVisionConfig(directory: dir)
        let clip = config.modelType == "clip" ? try CLIPVisionTower(directory: dir) : nil
        let siglip = clip == nil ? try SigLIPVisionTower(directory: dir) : nil
        let processor = clip?.processor ?? siglip!.processor
        let prefix = clip != nil ? 1 : 0
        let grid = config.grid, patches = grid * grid
        let depth = config.layers
        let block = layer < 0 ? depth + layer : layer
        guard block >= 0 && block < depth else { throw ValidationError("--layer \(layer) outside the tower's \(depth) layers") }
        guard keep >= 1 && keep <= patches else { throw ValidationError("--keep must be in 1...\(patches)") }
        guard method != .visionzip || clip != nil else { throw ValidationError("visionzip needs a CLS token (CLIP)") }
        let projection = try projector.map { try LLaVAProjector(directory: URL(fileURLWithPath: $0)) }
        if let projection, projection.inputWidth != config.hiddenSize {
            throw ValidationError("the projector takes \(projection.inputWidth) channels; the tower gives \(config.hiddenSize)")
        }
        var failures = FailureLog()
        var tensors: [(String, SafeTensorsWriter.Payload)] = []
        var sources: [String] = []
        for file in try Media.expand(inputs) {
            do {
                let t = processor.tensor(try Image(contentsOf: file))
                let pixels = t.reshaped([1] + t.shape)
                let needsAttention = method == .visionzip || method == .hiprune
                let stats: AttentionStatistics = method == .visionzip ? .rows([0]) : (method == .hiprune ? .columnMeans : .none)
                let out = clip?.forward(pixels, layerCount: block + 1, statistics: needsAttention ? stats : .none)
                    ?? siglip!.forward(pixels, layerCount: block + 1, statistics: needsAttention ? stats : .none)
                let hidden = out.hiddenStates[block + 1].reshaped(Array(out.hiddenStates[block + 1].shape.dropFirst()))   // [T, C]
                let features = hidden.slice(axis: 0, prefix..<(prefix + patches))
                var kept: [Int]
                var reduced: Tensor? = nil
                switch method {
                case .uniform: kept = TokenPruning.uniform(n: patches, k: keep)
                case .random: kept = TokenPruning.random(n: patches, k: keep, seed: seed)
                case .divprune: kept = TokenPruning.divPrune(features, k: keep).kept
                case .hiprune:
                    // attention received per patch (mean over heads and queries), object layer = first
                    // third of the tower, deep layer = the feature layer
                    func received(_ probs: Tensor) -> [Float] {
                        let h = probs.shape[1], n = probs.shape[2]
                        return (prefix..<n).map { j in (0..<h).reduce(Float(0)) { $0 + probs.scalars[$1 * n + j] } / Float(h) }
                    }
                    let objectLayer = max(0, block / 3)
                    kept = TokenPruning.hiPrune(objectScores: received(out.attentions[objectLayer]), deepScores: received(out.attentions[block]),
                                                gridWidth: grid, budget: keep, anchorCount: max(1, Int((Double(keep) * 0.1 / 5).rounded())))
                case .visionzip:
                    let tower = clip!
                    let layerInput = out.hiddenStates[block]
                    let qkv = tower.layers[block].attention.qkv(tower.layers[block].norm1(layerInput))   // [1, T, 3D]
                    let d = config.hiddenSize, h = config.heads, hd = d / h
                    let k = qkv.slice(axis: 2, d..<(2 * d)).reshaped([qkv.shape[1], h, hd]).mean(axis: 1)   // head-averaged keys
                    let dominant = max(2, keep * 54 / 64), contextual = keep - dominant
                    let attn = out.attentions[block].reshaped([h, out.attentions[block].shape.last!])
                    let r = VisionZip.reduce(clsAttention: attn, hidden: hidden, keys: k, dominant: dominant + 1, contextual: contextual)
                    // drop the CLS row from the output features; indices are the dominant patches
                    reduced = r.tokens.slice(axis: 0, 1..<r.tokens.shape[0])
                    kept = r.dominantIndices.dropFirst().map { $0 - 1 }
                }
                let i = sources.count
                var feats = reduced ?? features.indexSelect(axis: 0, kept)
                if let projection { feats = projection(feats) }
                tensors.append(("features.\(i)", .float(feats)))
                tensors.append(("indices.\(i)", .integers(kept, shape: [kept.count])))
                tensors.append(("positions.\(i)", .integers(kept.flatMap { [0, $0 / grid, $0 % grid] }, shape: [kept.count, 3])))
                sources.append(file.path)
                print("\(file.lastPathComponent): \(patches) → \(feats.shape[0]) tokens (\(method.rawValue))")
            } catch let e as MediaError {
                failures.record(e, input: file.path)
            }
        }
        guard !sources.isEmpty else { try failures.finish(); throw ValidationError("no input images") }
        let meta = try JSONSerialization.data(withJSONObject: ["sources": sources, "method": method.rawValue, "layer": layer,
                                                                "grid": grid, "encoder": encoder])
        try SafeTensorsWriter.write(tensors, metadata: ["tessera": String(decoding: meta, as: UTF8.self)], to: URL(fileURLWithPath: output))
        print("wrote \(output)")
        try failures.finish()
    }
}
