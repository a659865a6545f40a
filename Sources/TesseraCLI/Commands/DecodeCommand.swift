import ArgumentParser
import Foundation
import Tessera

struct Decode: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Reconstruct images from a token file, as PNG.",
        discussion: """
            Works with every tokenizer in `tessera models`; the token file's model should be the one given \
            (a warning says when it is not). Files are named after the record's source (and frame time); \
            a video clip's record ([T', h, w] codes of Emu3) decodes to its frames, NAME_frame000.png and on.

            Sampling decoders (FlexTok) take --steps, --guidance and --guidance-mode (upstream's README \
            settings by default: 20, 7.5, apg) and draw each record's initial noise from --seed and the \
            tokens themselves, so a record decodes the same in any batch; --noise noise.npy gives the noise \
            explicitly ([N, C, H/8, W/8], record i from noise[i]) to reproduce a reference run exactly.
            """)

    @OptionGroup var tokenizer: TokenizerOptions
    @Argument(help: "Token file (.jsonl, .npy or .safetensors).")
    var tokenFile: String
    @Option(name: .shortAndLong, help: "Output folder.")
    var output: String
    @OptionGroup var resources: ResourceOptions

    func run() throws {
        let loaded = try tokenizer.load("decode")
        let model = loaded.tokenizer
        let records = try TokenFile.read(URL(fileURLWithPath: tokenFile))
        let noise = try tokenizer.noiseTensors(for: model.descriptor, records: records.count)
        try model.checkBatchMemory(min(max(1, loaded.decode.batchSize), records.count), decoding: true, path: tokenFile)
        let sampling = model.descriptor.noiseShape != nil
        let started = Date()
        let out = try makeOutputDirectory(output)
        if let other = records.first(where: { !$0.tokens.model.isEmpty && $0.tokens.model != model.modelID }) {
            FileHandle.standardError.write(
                Data(
                    "warning: tokens were made by \(other.tokens.model), decoding with \(model.modelID)\n".utf8))
        }
        var used = Set<String>(), written = 0
        let batch = max(1, loaded.decode.batchSize)
        for start in stride(from: 0, to: records.count, by: batch) {
            let chunk = Array(records[start..<min(records.count, start + batch)])
            // Per record its image, or a clip's frames.
            let outputs: [[Image]]
            var options = loaded.decode
            options.noise = noise.map { Array($0[start..<(start + chunk.count)]) }
            do {
                if let clips = model as? any VideoClipTokenizer, chunk.contains(where: { $0.tokens.shape.count == 3 }) {
                    outputs = try chunk.map { record in
                        record.tokens.shape.count == 3
                            ? try clips.decodeFrames(record.tokens, rounding: options.rounding)
                            : try model.decodeImages([record.tokens], options: options)
                    }
                } else {
                    outputs = try model.decodeImages(chunk.map(\.tokens), options: options).map { [$0] }
                }
            } catch let e as TokenizerError {
                throw InputError("\(tokenFile): records \(start)..<\(start + chunk.count): \(e)")
            }
            if sampling && records.count > chunk.count {
                let done = start + chunk.count, elapsed = Date().timeIntervalSince(started)
                FileHandle.standardError.write(
                    Data(
                        String(
                            format: "decode: %d/%d records, %.1f s/record, about %.0f s left\n", done, records.count,
                            elapsed / Double(done), elapsed / Double(done) * Double(records.count - done)
                        ).utf8))
            }
            for (i, (record, images)) in zip(chunk, outputs).enumerated() {
                var name = URL(fileURLWithPath: record.source.isEmpty ? "tokens" : record.source)
                    .deletingPathExtension().lastPathComponent
                if let t = record.frameTimestamp { name += String(format: "_%.3fs", t) }
                if used.contains(name) { name += "_\(start + i)" }
                used.insert(name)
                let clip = record.tokens.shape.count == 3 && model is any VideoClipTokenizer
                for (j, image) in images.enumerated() {
                    let file = clip ? name + String(format: "_frame%03d", j) : name
                    try image.writePNG(to: out.appendingPathComponent(file + ".png"))
                }
                written += images.count
            }
        }
        print("decoded \(records.count) record(s) to \(written) image(s) in \(out.path)")
    }
}

struct Roundtrip: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Encode and decode images; write original|reconstruction PNGs and print PSNR and SSIM.",
        discussion: """
            Variable-length models take several budgets, `--tokens 1,4,16,64,256`: each image's strip is then \
            original | reconstruction from the first 1 | 4 | … tokens, and PSNR/SSIM are printed per budget \
            and averaged per budget at the end.
            """)

    @OptionGroup var tokenizer: TokenizerOptions
    @Argument(help: "Images or folders.")
    var inputs: [String]
    @Option(name: .shortAndLong, help: "Output folder.")
    var output: String
    @OptionGroup var resources: ResourceOptions

    func run() throws {
        let loaded = try tokenizer.load("roundtrip")
        let model = loaded.tokenizer
        let out = try makeOutputDirectory(output)
        var failures = FailureLog()
        let budgets: [Int?] = tokenizer.tokens?.values ?? [nil]
        var psnrs = [[Double]](repeating: [], count: budgets.count), ssims = psnrs
        let noVideo = try SamplingOptions.parse([])
        let scan = try Media.scan(inputs)
        reportSkipped(scan.skipped)
        let batch = min(max(1, loaded.encode.batchSize), scan.files.count)
        try model.checkBatchMemory(batch, decoding: false)
        try model.checkBatchMemory(batch, decoding: true)
        try forEachInputImage(
            imagesOnly(scan.files, command: "roundtrip"), sampling: noVideo, batch: loaded.encode.batchSize,
            failures: &failures
        ) { batch in
            let tokens = try model.encode(batch.map(\.2), options: loaded.encode)
            var reconstructions: [[Image]] = []
            for budget in budgets {
                var options = loaded.decode
                options.tokenLimit = budget
                reconstructions.append(try model.decodeImages(tokens, options: options))
            }
            for (i, item) in batch.enumerated() {
                let original = model.preprocessing.image(item.2).rgb()
                var strip = original
                for (b, budget) in budgets.enumerated() {
                    let rec = reconstructions[b][i]
                    let (p, s) = (ImageQuality.psnr(original, rec), ImageQuality.ssim(original, rec))
                    psnrs[b].append(p)
                    ssims[b].append(s)
                    strip = ImageQuality.sideBySide(strip, rec)
                    print(
                        String(
                            format: "%@: %d tokens  PSNR %.2f dB  SSIM %.4f",
                            URL(fileURLWithPath: item.0).lastPathComponent, budget ?? tokens[i].positions, p, s))
                }
                let name = URL(fileURLWithPath: item.0).deletingPathExtension().lastPathComponent + "_roundtrip.png"
                try strip.writePNG(to: out.appendingPathComponent(name))
                print("  -> \(name)")
            }
        }
        for (b, budget) in budgets.enumerated() where !psnrs[b].isEmpty {
            let n = Double(psnrs[b].count)
            print(
                String(
                    format: "mean over %d image(s)%@: PSNR %.2f dB  SSIM %.4f", psnrs[b].count,
                    budget.map { " at \($0) tokens" } ?? "", psnrs[b].reduce(0, +) / n, ssims[b].reduce(0, +) / n))
        }
        try failures.finish()
    }
}

/// The images of a scan; videos are reported and left out (for commands that take images only).
func imagesOnly(_ files: [URL], command: String) -> [URL] {
    let videos = files.filter { Media.videoExtensions.contains($0.pathExtension.lowercased()) }
    if !videos.isEmpty {
        FileHandle.standardError.write(
            Data(
                ("note: \(command) takes images; skipped \(videos.count) video(s) (sample frames with "
                    + "`tessera frames`): \(videos.prefix(3).map(\.lastPathComponent).joined(separator: ", "))\n").utf8)
        )
    }
    return files.filter { !videos.contains($0) }
}

/// Prints the folder files a scan left out (neither images nor videos).
func reportSkipped(_ skipped: [URL]) {
    guard !skipped.isEmpty else { return }
    let shown = skipped.prefix(5).map(\.path).joined(separator: ", ")
    let more = skipped.count > 5 ? ", … (\(skipped.count - 5) more)" : ""
    FileHandle.standardError.write(
        Data(
            "note: skipped \(skipped.count) file(s) that are neither images nor videos: \(shown)\(more)\n".utf8))
}
