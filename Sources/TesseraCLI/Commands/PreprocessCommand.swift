import ArgumentParser
import Foundation
import Tessera

struct Preprocess: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Decode, resize and crop images as a model's preprocessing does, and write them as PNG.",
        discussion: """
            Without --size the decoded image is written as it is (EXIF orientation applied). \
            Resizing is bit-exact with Pillow (and torchvision's resize of PIL images).
            """)

    enum ResizeMode: String, ExpressibleByArgument { case shorter, exact }
    enum CropMode: String, ExpressibleByArgument { case center, none }

    @Argument(help: "Image files or folders.")
    var inputs: [String]

    @Option(help: "Target size in pixels.")
    var size: Int?
    @Option(help: "shorter: shorter side to --size, aspect kept; exact: --size x --size.")
    var resizeMode: ResizeMode = .shorter
    @Option(help: "Resampling filter: nearest, box, bilinear, hamming, bicubic, lanczos.")
    var filter: ResizeFilter = .bicubic
    @Option(help: "center: crop the centre --size x --size after resizing; none: keep the whole image.")
    var crop: CropMode = .center

    @Option(name: .shortAndLong, help: "Output folder.")
    var output: String
    @OptionGroup var resources: ResourceOptions

    func validate() throws {
        if let size, size < 1 { throw ValidationError("--size must be positive") }
    }

    var preprocessing: Preprocessing {
        guard let size else { return Preprocessing() }
        return Preprocessing(
            resize: resizeMode == .shorter ? .shorterSide(size) : .exact(width: size, height: size),
            filter: filter,
            centerCrop: crop == .center ? PixelSize(size) : nil)
    }

    func run() throws {
        let out = try makeOutputDirectory(output)
        var failures = FailureLog()
        var used = Set<String>()
        let pipeline = preprocessing
        for file in try Media.expand(inputs) {
            // same-named inputs from different folders: stem.png, stem_1.png, stem_2.png, …
            let stem = file.deletingPathExtension().lastPathComponent
            var name = stem + ".png", copy = 0
            while used.contains(name) {
                copy += 1
                name = "\(stem)_\(copy).png"
            }
            used.insert(name)
            do {
                let image = pipeline.image(try Image(contentsOf: file))
                try image.writePNG(to: out.appendingPathComponent(name))
                print("\(file.path) -> \(name) (\(image.width)x\(image.height))")
            } catch {
                failures.record(error, input: file.path)
            }
        }
        try failures.finish()
    }
}
