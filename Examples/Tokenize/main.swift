// Example: load a tokenizer directory, turn an image into discrete tokens and back, and write
// the reconstruction — the library used the way a user's program would.
//
//   swift run -c release tokenize-image Assets/models/titok-demo Assets/images/coffee.jpg out.png
import Foundation
import Tessera

let arguments = CommandLine.arguments
guard arguments.count == 4 else {
    print("usage: tokenize-image <model-dir> <image> <output.png>")
    exit(2)
}
do {
    let tokenizer = try TokenizerRegistry.load(URL(fileURLWithPath: arguments[1]))
    let image = try Image(contentsOf: URL(fileURLWithPath: arguments[2]))

    let tokens = try tokenizer.encode([image])[0]
    print("\(tokenizer.modelID): \(tokens.positions) tokens, vocabulary \(tokens.vocabularySizes)")
    print("ids:", tokens.ids.map(String.init).joined(separator: " "))

    let reconstruction = try tokenizer.decodeImages([tokens])[0]
    try reconstruction.writePNG(to: URL(fileURLWithPath: arguments[3]))
    let original = tokenizer.preprocessing.image(image)
    print(
        String(
            format: "PSNR %.2f dB, SSIM %.4f -> %@", ImageQuality.psnr(original, reconstruction),
            ImageQuality.ssim(original, reconstruction), arguments[3]))
} catch {
    print("error: \(error)")
    exit(1)
}
