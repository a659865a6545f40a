// Example: turn a folder of images and videos into LM training shards — token streams with
// image-begin/end markers in a language model's vocabulary, a manifest and an error report —
// and read one sample back.
//
//   swift run -c release write-shards Assets/models/titok-demo Assets out/shards
import Foundation
import Tessera

let arguments = CommandLine.arguments
guard arguments.count == 4 else {
    print("usage: write-shards <model-dir> <input-folder> <output-folder>")
    exit(2)
}
do {
    let tokenizer = try TokenizerRegistry.load(URL(fileURLWithPath: arguments[1]))
    let inputs = try Media.expand([arguments[2]])

    // Visual ids go after a 32,000-id text vocabulary, between <boi> and <eoi> tokens.
    let text = 32_000
    let vocabulary = VisualVocabulary(
        layout: "example", offset: text + 2, codebookSizes: tokenizer.descriptor.vocabularySizes,
        lmVocabularySize: text + 2 + tokenizer.descriptor.vocabularySizes.reduce(0, +),
        special: .init(imageStart: text, imageEnd: text + 1))

    let job = BatchEncoder(tokenizer: tokenizer, inputs: inputs)
    job.sampling = .uniform(count: 4)  // four frames from each video
    let output = URL(fileURLWithPath: arguments[3])
    let summary = try job.run(
        into: output, format: .bin, vocabulary: vocabulary, shardBytes: 1 << 20, resume: true,
        progress: { p in print("\r\(p.inputsDone)/\(p.inputsTotal) inputs, \(p.samples) samples", terminator: "") })
    print(
        "\n\(summary.samples) samples in \(summary.shards) shard(s), \(summary.failedInputs) failed input(s) -> "
            + "\(output.path)"
    )

    // Read the first shard back: LM streams → tokens → an image.
    let first = try TokenFile.read(output.appendingPathComponent("shard-00000.bin"))[0]
    print("first sample: \(first.source), stream of \(try vocabulary.stream([first.tokens]).count) LM ids")
    let image = try tokenizer.decodeImages([first.tokens])[0]
    try image.writePNG(to: output.appendingPathComponent("first-sample.png"))
    print("reconstruction -> \(output.appendingPathComponent("first-sample.png").path)")
} catch {
    print("error: \(error)")
    exit(1)
}
