// Example: load a vision encoder (CLIP, SigLIP or timm ViT), keep a few of an image's patch tokens with one
// reduction method, and print which patches were kept and where they sit on the grid — the
// LLaVA-style pipeline used the way a user's program would.
//
//   swift run -c release prune-tokens <tower-dir> <image> [method] [keep]
//   swift run -c release prune-tokens Tests/Fixtures/towers/clip \
//       Tests/Fixtures/towers/images/chelsea_100x67.png divprune 6
import Foundation
import Tessera

let arguments = CommandLine.arguments
guard arguments.count >= 3 else {
    print(
        "usage: prune-tokens <tower-dir> <image> [method: "
            + "\(TokenReductionMethod.allCases.map(\.rawValue).joined(separator: "|"))] [keep]"
    )
    exit(2)
}
do {
    let tower = try VisionEncoderRegistry.load(URL(fileURLWithPath: arguments[1]))
    let image = try Image(contentsOf: URL(fileURLWithPath: arguments[2]))
    guard let method = TokenReductionMethod(rawValue: arguments.count > 3 ? arguments[3] : "divprune") else {
        print("unknown method '\(arguments[3])'")
        exit(2)
    }
    let d = tower.descriptor
    let keep = arguments.count > 4 ? Int(arguments[4]) : max(1, d.patchTokens / 4)
    // ToMe merges inside the forward pass: ask for a budget at the last layer
    let options = TokenReductionOptions(method: method, keep: keep, layer: method == .tome ? -1 : -2)
    let reducer = try VisionTokenReducer(encoder: tower, options: options)
    let reduced = try reducer.reduce(image)

    print(
        "\(d.family) encoder: \(d.depth) layers, width \(d.width), \(d.gridRows)x\(d.gridColumns) patches of "
            + "\(d.patchSize) px"
    )
    print(
        "\(method.rawValue): \(reduced.inputTokens) patch tokens -> \(reduced.features.shape[0]) features "
            + "\(reduced.features.shape)"
    )
    for (i, (index, position)) in zip(reduced.indices, reduced.positions).enumerated() {
        let size = reduced.sizes.map { String(format: "  (merges %.0f patches)", $0[i]) } ?? ""
        print(
            String(format: "  patch %4d  at (t %d, h %2d, w %2d)%@", index, position[0], position[1], position[2], size)
        )
    }
    if reduced.features.shape[0] > reduced.indices.count {
        print(
            "  + \(reduced.features.shape[0] - reduced.indices.count) merged feature row(s) without a single position")
    }
} catch {
    print("error: \(error)")
    exit(1)
}
