import ArgumentParser
import Foundation
import Tessera

struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the bundled demo on Assets/ (no downloads): media info, preprocessing, video frames.")

    @Option(help: "The Assets folder (default: ./Assets).")
    var assets: String?
    @Option(name: .shortAndLong, help: "Output folder.")
    var output: String = "out/demo"
    @Option(help: "Model input size for the preprocessing step.")
    var size: Int = 256
    @OptionGroup var resources: ResourceOptions

    func run() throws {
        let assetsURL = try locateAssets(assets)
        let out = try makeOutputDirectory(output)
        let files = try Media.expand([
            assetsURL.appendingPathComponent("images").path,
            assetsURL.appendingPathComponent("video").path,
        ])
        print("== tessera info")
        try Info.parse(files.map(\.path)).run()

        let preprocessed = try makeOutputDirectory(out.appendingPathComponent("preprocessed").path)
        print("\n== preprocess: shorter side \(size), bicubic (Pillow-exact), centre crop \(size)x\(size)")
        let pipeline = Preprocessing(resize: .shorterSide(size), filter: .bicubic, centerCrop: PixelSize(size))
        var failures = FailureLog()
        for file in files {
            let stem = file.deletingPathExtension().lastPathComponent
            do {
                if Media.isImage(file) {
                    let start = Date()
                    let image = try Image(contentsOf: file)
                    let result = pipeline.image(image)
                    try result.writePNG(to: preprocessed.appendingPathComponent(stem + ".png"))
                    let tensor = result.tensor(.unit)
                    print(
                        String(
                            format: "%@: %dx%d -> %@ tensor %@ in %.1f ms", file.lastPathComponent, image.width,
                            image.height,
                            stem + ".png", "\(tensor.shape)", Date().timeIntervalSince(start) * 1000))
                } else {
                    let reader = try VideoReader(url: file)
                    var frames = try reader.frames(.uniform(count: 4))
                    while let frame = try frames.next() {
                        let name = String(format: "%@_%06d_%.3fs.png", stem, frame.index, frame.timestamp)
                        try pipeline.image(frame.image).writePNG(to: preprocessed.appendingPathComponent(name))
                        print(
                            "\(file.lastPathComponent): frame \(frame.index) at \(formatSeconds(frame.timestamp))s "
                                + "-> \(name)"
                        )
                    }
                }
            } catch {
                failures.record(error, input: file.path)
            }
        }
        print("\nwrote \(preprocessed.path)")

        let modelDir = assetsURL.appendingPathComponent("models/titok-demo")
        if FileManager.default.fileExists(atPath: modelDir.appendingPathComponent("config.json").path) {
            try tokenizerDemo(model: modelDir, files: files, out: out, failures: &failures)
        } else {
            print("\n(no bundled tokenizer at \(modelDir.path): skipping encode/decode)")
        }
        try failures.finish()
    }
}

extension Demo {
    /// encode → token file → decode → roundtrip with the bundled TiTok demo model.
    func tokenizerDemo(model: URL, files: [URL], out: URL, failures: inout FailureLog) throws {
        let d = try TokenizerOptions.parse(["--model", model.path]).load().descriptor
        print("\n== encode with \(d.modelID): \(d.positions) tokens of \(d.vocabularySizes) per \(d.inputSize) image")
        let tokensFile = out.appendingPathComponent("tokens.jsonl")
        let encode = try Encode.parse(
            ["--model", model.path, "--uniform", "3", "-o", tokensFile.path] + files.map(\.path))
        try encode.run()
        if let first = try TokenFile.read(tokensFile).first {
            print(
                "first record: \(URL(fileURLWithPath: first.source).lastPathComponent) ids "
                    + "\(first.tokens.ids.prefix(12).map(String.init).joined(separator: " ")) …"
            )
        }
        print("\n== decode \(tokensFile.lastPathComponent)")
        let decode = try Decode.parse([
            "--model", model.path, tokensFile.path, "-o", out.appendingPathComponent("decoded").path,
        ])
        try decode.run()
        print("\n== roundtrip (original | reconstruction)")
        let roundtrip = try Roundtrip.parse(
            ["--model", model.path, "-o", out.appendingPathComponent("roundtrip").path]
                + files.filter(Media.isImage).map(\.path))
        try roundtrip.run()
        print("\n== LM training shards (Chameleon-style ids, uint16 streams + offsets, manifest)")
        let shards = out.appendingPathComponent("shards")
        try? FileManager.default.removeItem(at: shards)
        let vocabulary = out.appendingPathComponent("vocabulary.json")
        guard let codebook = d.vocabularySizes.first else { throw ValidationError("\(d.modelID) has no codebook") }
        try VisualVocabulary.chameleon(codebookSize: codebook).write(to: vocabulary)
        let batch = try Encode.parse(
            [
                "--model", model.path, "--uniform", "3", "--format", "bin", "--vocabulary", vocabulary.path,
                "-o", shards.path,
            ] + files.map(\.path))
        try batch.run()
        if let first = try TokenFile.read(shards.appendingPathComponent("shard-00000.bin")).first {
            let stream = try VisualVocabulary(contentsOf: vocabulary).stream([first.tokens])
            print(
                "first stream: \(stream.prefix(8).map(String.init).joined(separator: " ")) … "
                    + "\(stream.last.map(String.init) ?? "") (\(stream.count) ids)")
        }
    }
}
