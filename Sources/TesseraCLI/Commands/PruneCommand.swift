import ArgumentParser
import Foundation
import Tessera

struct Prune: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Run a vision encoder (CLIP, SigLIP, timm ViT) and keep or merge its patch tokens, LLaVA-style (images "
            + "and videos).",
        discussion: """
            Writes OUT.safetensors with, per input i: features.i [M, C] (hidden states of --layer, no CLS; \
            with --projector, mapped through LLaVA's mm_projector), indices.i [M'] (kept patch indices, sorted; \
            int64) and positions.i [M', 3] ((t, h, w) of each kept patch on the grid). Merging methods add \
            slots.i (the feature row of every patch) and sizes.i [M] (patches per row); their indices are the \
            smallest patch index of each merged row.

            Methods: divprune (k-center diversity), visionzip (dominant by CLS attention + contextual merges, \
            54:10 as upstream; indices/positions cover the dominant tokens, the last features are \
            the contextual merges), hiprune (anchors/buffers/registers from attention received), uniform, random, \
            prumerge / prumerge+ (IQR outliers of the last layer's CLS attention, each kept token \
            merged with its 32 nearest keys; --keep optional, adaptive when omitted; the last feature row sums \
            the pruned tokens and has no index), \
            transprune (token transition variation accumulated over the layers up to --layer, no text term), \
            hired (top --keep by --layer's CLS attention summed over heads; with --tiles RxC (or auto: \
            LLaVA-NeXT's best fit among 1x2, 2x1, 2x2, 3x1, 1x3) LLaVA-NeXT anyres views — the base view \
            (the image resized to S×S) and high-resolution tiles (the image scaled to fit C·S × R·S with its \
            aspect kept, centred on black, cut into S×S crops), each run through the tower — with HiRED's \
            budget allocation (--budget-rate, --alpha) from the base view's layer-0 CLS attention; selected tile \
            tokens on the padding are dropped as LLaVA-NeXT unpads; partitions.i says which view each index \
            belongs to (0 = base view), indices are local to that view and positions of tiles are on the \
            high-resolution grid), \
            tome (ToMe inside the tower's forward pass: after every layer's attention residual, --r tokens merge \
            by bipartite matching on the head-averaged keys, CLS protected, proportional attention, up to --layer; \
            --inflect ramps r as ToMe's parse_r; with --keep instead of --r the smallest constant r that leaves \
            at most --keep patch tokens), \
            tempme (videos: tome inside every frame's forward pass with --r, then TempMe merges neighbouring \
            clips across time in stages of --groups clips (default: the frame count's prime factors, 12 → 2,2,3) \
            with --cross and --intra proportions; CLS tokens are protected and dropped from the output).

            SigLIP has no CLS token: visionzip, prumerge(+) and hired then rank patches by the attention \
            they receive (mean over all query rows, summed over heads) in place of the CLS attention.

            Videos (by extension) are sampled with the options of `tessera frames`; every frame runs through \
            the tower. With tempme the frames are merged across time; with any other method every frame is \
            reduced on its own. Indices are frame·N + patch, positions (frame, h, w), timestamps.i [F] the \
            frame times in seconds.

            --visualize DIR writes DIR/<name>.png per image (the image the tower saw: merged groups tinted in \
            one colour each; otherwise kept patches outlined and pruned ones dimmed), <name>_tiles.png for \
            hired tiles and <name>_<frame>.png per video frame.
            """)

    @Option(help: "Vision encoder directory (any in `tessera models`: Hugging Face CLIP or SigLIP, timm ViT).")
    var encoder: String
    @Option(help: "Reduction method: \(TokenReductionMethod.allCases.map(\.rawValue).joined(separator: ", ")).")
    var method: TokenReductionMethod
    @Option(
        help: ArgumentHelp(
            "Tokens to keep per image (prumerge / prumerge+: optional, adaptive when omitted; tome: instead of --r; "
                + "not with hired --tiles or tempme).")
    )
    var keep: Int?
    @Option(
        parsing: .unconditional,
        help: "Layer whose hidden states are the features (negative counts from the end; LLaVA: -2).")
    var layer: Int = -2
    @Option(help: "Seed for --method random.")
    var seed: UInt64 = 0
    @Option(help: "tome / tempme: tokens merged in every layer.")
    var r: Int?
    @Option(parsing: .unconditional, help: "tome / tempme: ToMe schedule inflection (0: constant r; may be negative).")
    var inflect: Double = 0
    @Option(help: "hired: high-resolution tiles as ROWSxCOLUMNS (e.g. 2x2), or auto (LLaVA-NeXT's best fit per image).")
    var tiles: TileChoice?
    @Option(help: "hired with tiles: share of all tokens kept.")
    var budgetRate: Double = 0.2
    @Option(help: "hired with tiles: share of the budget for the full view.")
    var alpha: Double = 0.5
    @Option(help: "tempme: clips merged per stage, comma-separated (default: prime factors of the frame count).")
    var groups: IntegerList?
    @Option(help: "tempme: proportion merged across clips per stage.")
    var cross: Double = 0.3
    @Option(help: "tempme: proportion merged inside the merged clip per stage.")
    var intra: Double = 0.1
    @Option(
        help: ArgumentHelp(
            "LLaVA checkpoint (directory or .safetensors) whose mm_projector maps the kept features to the language "
                + "model's width.")
    )
    var projector: String?
    @Option(help: "Folder for PNG pictures of what was kept or merged.")
    var visualize: String?
    @OptionGroup var sampling: SamplingOptions
    @Argument(help: "Images, videos or folders.")
    var inputs: [String]
    @Option(name: .shortAndLong, help: "Output .safetensors.")
    var output: String
    @OptionGroup var resources: ResourceOptions

    func run() throws {
        let tower = try VisionEncoderRegistry.load(URL(fileURLWithPath: encoder))
        var options = TokenReductionOptions(
            method: method, keep: keep, layer: layer, seed: seed, r: r, inflect: inflect,
            budgetRate: budgetRate, alpha: alpha, groups: groups?.values ?? [],
            crossProportion: cross, intraProportion: intra)
        switch tiles {
        case .grid(let grid)?: options.tiles = grid
        case .auto?: options.tileChoices = TileGrid.llavaNext
        case nil: break
        }
        let reducer: VisionTokenReducer
        do { reducer = try VisionTokenReducer(encoder: tower, options: options) } catch let e as TokenReductionError {
            throw ValidationError(e.description)
        }
        let projection = try projector.map { try LLaVAProjector(directory: URL(fileURLWithPath: $0)) }
        if let projection {
            do { try reducer.check(projector: projection) } catch let e as TokenReductionError {
                throw ValidationError(e.description)
            }
        }
        let pictures = try visualize.map(makeOutputDirectory)
        var failures = FailureLog()
        var entries: [ReducedTokenFile.Entry] = []
        let scan = try Media.scan(inputs)
        reportSkipped(scan.skipped)
        for file in scan.files {
            do {
                var entry = try reduce(file, reducer, pictures: pictures)
                if let projection { entry.tokens.features = projection(entry.tokens.features) }
                entries.append(entry)
                print(
                    "\(file.lastPathComponent): \(entry.tokens.inputTokens) → "
                        + "\(entry.tokens.features.shape[0]) tokens "
                        + "(\(method.rawValue))")
            } catch {
                failures.record(error, input: file.path)
            }
        }
        guard !entries.isEmpty else { try failures.finish(); throw ValidationError("no input images") }
        let result = ReducedTokenFile(
            entries: entries, method: method.rawValue, layer: layer, encoder: encoder,
            rSchedule: reducer.mergingSchedule?.schedule)
        try result.write(to: URL(fileURLWithPath: output))
        print("wrote \(output)")
        try failures.finish()
    }

    /// One input's reduction (a video's sampled frames, or an image), with its pictures.
    func reduce(_ file: URL, _ reducer: VisionTokenReducer, pictures: URL?) throws -> ReducedTokenFile.Entry {
        let stem = file.deletingPathExtension().lastPathComponent
        guard Media.videoExtensions.contains(file.pathExtension.lowercased()) else {
            let image = try Image(contentsOf: file)
            let reduced = try reducer.reduce(image)
            if let pictures {
                let tiled = reducer.options.usesTiles
                let view = tiled ? reducer.baseViewImage(image) : reducer.view(image)
                try reduced.visualization(on: view).writePNG(to: pictures.appendingPathComponent(stem + ".png"))
                if tiled {
                    let tiles = reducer.tileGrid(for: image)
                    try reduced.tileVisualization(on: reducer.highResolutionView(image, tiles), tiles: tiles)
                        .writePNG(to: pictures.appendingPathComponent(stem + "_tiles.png"))
                }
            }
            return ReducedTokenFile.Entry(source: file.path, tokens: reduced)
        }
        var frames = try VideoReader(url: file).frames(sampling.sampling, from: sampling.start, to: sampling.end)
        var images: [Image] = [], times: [Double] = []
        while let frame = try frames.next() {
            images.append(frame.image)
            times.append(frame.timestamp)
        }
        guard !images.isEmpty else { throw MediaError(.invalidRequest, path: file.path, "no frames sampled") }
        let reduced = try reducer.reduce(frames: images)
        if let pictures {
            for (t, image) in images.enumerated() {
                try reduced.visualization(on: reducer.view(image), frame: t)
                    .writePNG(to: pictures.appendingPathComponent(String(format: "%@_%04d.png", stem, t)))
            }
        }
        return ReducedTokenFile.Entry(source: file.path, tokens: reduced, timestamps: times)
    }
}
