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
        received), uniform, random, \
        prumerge / prumerge+ (CLIP only: IQR outliers of the last layer's CLS attention, each kept token \
        merged with its 32 nearest keys; --keep optional, adaptive when omitted; the last feature row sums \
        the pruned tokens and has no index), \
        transprune (token transition variation accumulated over the layers up to --layer, no text term), \
        hired (CLIP only; single view: top --keep by --layer's CLS attention summed over heads — HiRED's \
        full-image rule; its tile budget allocation needs the anyres tiles of a VLM and is not done here), \
        tome (ToMe bipartite merging of the features until --keep remain, size-weighted; indices.i is the \
        smallest patch index of each merged token, slots.i [N] the output row of every patch, sizes.i [M]).
        """)

    enum Method: String, ExpressibleByArgument {
        case divprune, visionzip, hiprune, uniform, random, prumerge, transprune, hired, tome
        case prumergePlus = "prumerge+"
    }

    @Option(help: "Vision tower directory (Hugging Face CLIP or SigLIP).")
    var encoder: String
    @Option(help: "Reduction method.")
    var method: Method
    @Option(help: "Tokens to keep per image (optional for prumerge / prumerge+: adaptive when omitted).")
    var keep: Int?
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
        let adaptive = method == .prumerge || method == .prumergePlus
        guard keep != nil || adaptive else { throw ValidationError("--keep is required for \(method.rawValue)") }
        if let keep, !(keep >= 1 && keep <= patches) { throw ValidationError("--keep must be in 1...\(patches)") }
        let needsCLS: Set<Method> = [.visionzip, .prumerge, .prumergePlus, .hired]
        guard !needsCLS.contains(method) || clip != nil else { throw ValidationError("\(method.rawValue) needs a CLS token (CLIP)") }
        // PruMerge takes q, k from the last layer, whose input is hidden_states[-2]
        let layersToRun = adaptive ? max(block + 1, depth - 1) : block + 1
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
                let stats: AttentionStatistics = switch method {
                case .visionzip, .hired: .rows([0])
                case .hiprune: .columnMeans
                default: .none
                }
                let out = clip?.forward(pixels, layerCount: layersToRun, statistics: stats)
                    ?? siglip!.forward(pixels, layerCount: layersToRun, statistics: stats)
                let hidden = out.hiddenStates[block + 1].reshaped(Array(out.hiddenStates[block + 1].shape.dropFirst()))   // [T, C]
                let features = hidden.slice(axis: 0, prefix..<(prefix + patches))
                var kept: [Int]
                var reduced: Tensor? = nil
                var extra: [(String, SafeTensorsWriter.Payload)] = []
                let layerStack = clip?.layers ?? siglip!.layers
                let keep = self.keep ?? 0
                switch method {
                case .uniform: kept = TokenPruning.uniform(n: patches, k: keep)
                case .random: kept = TokenPruning.random(n: patches, k: keep, seed: seed)
                case .divprune: kept = TokenPruning.divPrune(features, k: keep).kept
                case .prumerge, .prumergePlus:
                    let last = depth - 1, d = config.hiddenSize
                    let x = out.hiddenStates[last]
                    let qkv = layerStack[last].attention.qkv(layerStack[last].norm1(x))        // [1, T, 3D]
                    let tokens = qkv.shape[1]
                    let q = qkv.slice(axis: 2, 0..<d).reshaped([tokens, d])
                    let k = qkv.slice(axis: 2, d..<(2 * d)).reshaped([tokens, d])
                    let attention = try PruMerge.clsAttention(queries: q, keys: k)
                    let r = try PruMerge.reduce(features: features, keys: k.slice(axis: 0, 1..<(1 + patches)), attention: attention,
                                                variant: method == .prumerge ? .pruMerge : .pruMergePlus, keep: self.keep)
                    reduced = r.tokens
                    kept = r.kept
                case .transprune:
                    // TTV per block: attention sublayer (norm1(x) → attention) and MLP sublayer (norm2(x + attn) → mlp)
                    var accumulator = TransPrune.Accumulator(tokens: hidden.shape[0])
                    for l in 0...block {
                        let x = out.hiddenStates[l], tokens = x.shape[1], d = x.shape[2]
                        let b1 = layerStack[l].norm1(x)
                        var (a1, _) = layerStack[l].attention(b1)
                        if let scale = layerStack[l].layerScale1 { a1 = a1 * scale }
                        var mid = x
                        mid.add(a1)
                        let b2 = layerStack[l].norm2(mid)
                        let a2 = layerStack[l].mlp(b2)
                        try accumulator.add(attentionInput: b1.reshaped([tokens, d]), attentionOutput: a1.reshaped([tokens, d]),
                                            mlpInput: b2.reshaped([tokens, d]), mlpOutput: a2.reshaped([tokens, d]))
                    }
                    kept = try TransPrune.select(variation: Array(accumulator.variation[prefix..<(prefix + patches)]), keep: keep)
                case .hired:
                    let attn = out.attentions[block]
                    let scores = try HiRED.clsScores(attn.reshaped([attn.shape[1], attn.shape.last!]), patches: patches)
                    kept = TokenPruning.topK(scores, k: keep)
                case .tome:
                    var map = MergeMap.identity(patches)
                    var x = features, sizes = [Float](repeating: 1, count: patches)
                    while x.shape[0] > keep {
                        let m = BipartiteMatching(metric: x, r: min(x.shape[0] - keep, x.shape[0] / 2))
                        (x, sizes) = m.mergeWeighted(x, sizes: sizes)
                        map = map.then(m.mergeMap)
                    }
                    // order the merged tokens by their smallest patch index, so indices are sorted
                    let members = map.members
                    let order = (0..<map.outputCount).sorted { members[$0][0] < members[$1][0] }
                    var rank = [Int](repeating: 0, count: order.count)
                    for (position, slot) in order.enumerated() { rank[slot] = position }
                    reduced = x.indexSelect(axis: 0, order)
                    kept = order.map { members[$0][0] }
                    extra = [("slots", .integers(map.slotOf.map { rank[$0] }, shape: [patches])),
                             ("sizes", .float(Tensor(shape: [order.count], scalars: order.map { sizes[$0] })))]
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
                for (name, payload) in extra { tensors.append(("\(name).\(i)", payload)) }
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
