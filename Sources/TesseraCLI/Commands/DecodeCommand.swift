import ArgumentParser
import Foundation
import Tessera

struct Decode: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Reconstruct images from a token file, as PNG.",
        discussion: """
            Works with every tokenizer in `tessera models`; the token file's model should be the one given \
            (a warning says when it is not). Files are named after the record's source (and frame time).
            """)

    @OptionGroup var tokenizer: TokenizerOptions
    @Argument(help: "Token file (.jsonl, .npy or .safetensors).")
    var tokenFile: String
    @Option(name: .shortAndLong, help: "Output folder.")
    var output: String

    func run() throws {
        let loaded = try tokenizer.load()
        let model = loaded.tokenizer
        let records = try TokenFile.read(URL(fileURLWithPath: tokenFile))
        let out = try makeOutputDirectory(output)
        if let other = records.first(where: { !$0.tokens.model.isEmpty && $0.tokens.model != model.modelID }) {
            FileHandle.standardError.write(
                Data(
                    "warning: tokens were made by \(other.tokens.model), decoding with \(model.modelID)\n".utf8))
        }
        var used = Set<String>()
        let batch = max(1, loaded.decode.batchSize)
        for start in stride(from: 0, to: records.count, by: batch) {
            let chunk = Array(records[start..<min(records.count, start + batch)])
            let images: [Image]
            do { images = try model.decodeImages(chunk.map(\.tokens), options: loaded.decode) } catch let e
                as TokenizerError
            {
                throw ValidationError("\(tokenFile): records \(start)..<\(start + chunk.count): \(e)")
            }
            for (i, (record, image)) in zip(chunk, images).enumerated() {
                var name = URL(fileURLWithPath: record.source.isEmpty ? "tokens" : record.source)
                    .deletingPathExtension().lastPathComponent
                if let t = record.frameTimestamp { name += String(format: "_%.3fs", t) }
                if used.contains(name) { name += "_\(start + i)" }
                used.insert(name)
                try image.writePNG(to: out.appendingPathComponent(name + ".png"))
            }
        }
        print("decoded \(records.count) image(s) to \(out.path)")
    }
}

struct Roundtrip: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Encode and decode images; write original|reconstruction PNGs and print PSNR and SSIM.")

    @OptionGroup var tokenizer: TokenizerOptions
    @Argument(help: "Images or folders.")
    var inputs: [String]
    @Option(name: .shortAndLong, help: "Output folder.")
    var output: String

    func run() throws {
        let loaded = try tokenizer.load()
        let model = loaded.tokenizer
        let out = try makeOutputDirectory(output)
        var failures = FailureLog()
        var psnrs: [Double] = [], ssims: [Double] = []
        let noVideo = try SamplingOptions.parse([])
        let scan = try Media.scan(inputs)
        reportSkipped(scan.skipped)
        try forEachInputImage(
            imagesOnly(scan.files, command: "roundtrip"), sampling: noVideo, batch: loaded.encode.batchSize,
            failures: &failures
        ) { batch in
            let tokens = try model.encode(batch.map(\.2), options: loaded.encode)
            let reconstructions = try model.decodeImages(tokens, options: loaded.decode)
            for (item, (rec, t)) in zip(batch, zip(reconstructions, tokens)) {
                let original = model.preprocessing.image(item.2).rgb()
                let (p, s) = (ImageQuality.psnr(original, rec), ImageQuality.ssim(original, rec))
                psnrs.append(p)
                ssims.append(s)
                let name = URL(fileURLWithPath: item.0).deletingPathExtension().lastPathComponent + "_roundtrip.png"
                try ImageQuality.sideBySide(original, rec).writePNG(to: out.appendingPathComponent(name))
                print(
                    String(
                        format: "%@: %d tokens  PSNR %.2f dB  SSIM %.4f  -> %@",
                        URL(fileURLWithPath: item.0).lastPathComponent,
                        t.positions, p, s, name))
            }
        }
        if !psnrs.isEmpty {
            print(
                String(
                    format: "mean over %d image(s): PSNR %.2f dB  SSIM %.4f", psnrs.count,
                    psnrs.reduce(0, +) / Double(psnrs.count), ssims.reduce(0, +) / Double(ssims.count)))
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
