// Coverage-guided fuzz targets (libFuzzer) for every kind of input Tessera reads. Built and run by
// `Scripts/fuzz.sh TARGET SECONDS`, which compiles the package with `-sanitize=fuzzer` and
// `-DTESSERA_FUZZ`; a plain build makes a stub that says so. A target passes when no input traps,
// hangs or exhausts memory: every input either works or throws.
import Foundation
import Tessera

#if TESSERA_FUZZ
    /// The inputs, by name (`TESSERA_FUZZ_TARGET`).
    let targets: [String: @Sendable ([UInt8]) throws -> Void] = [
        "image": { bytes in
            let image = try Image(encoded: bytes)
            _ = Preprocessing(resize: .shorterSide(32), centerCrop: PixelSize(32)).tensor(image)
        },
        "npy": { bytes in _ = try NPYArray(npyBytes: bytes).tensor() },
        "safetensors": { bytes in
            let file = try SafeTensorsFile(bytes: bytes)
            for name in file.entries.keys { refusesCleanly { _ = try file.tensor(name) } }
        },
        "torch": { bytes in
            let url = try Scratch.file("model.pt", bytes)
            let checkpoint = try Checkpoint(directory: url)
            for name in checkpoint.names { refusesCleanly { _ = try checkpoint.tensor(name) } }
        },
        "video": { bytes in
            let reader = try VideoReader(url: try Scratch.file("clip.mp4", bytes))
            var frames = try reader.frames()
            for _ in 0..<3 { guard try frames.next() != nil else { break } }
        },
        // The first byte picks the format: JSONL, npy (+ sidecar-free) or safetensors.
        "tokens": { bytes in
            guard let kind = bytes.first else { return }
            let ext = ["jsonl", "npy", "safetensors"][Int(kind) % 3]
            let records = try TokenFile.read(try Scratch.file("tokens.\(ext)", Array(bytes.dropFirst())))
            if let first = records.first, !first.tokens.isContinuous {
                refusesCleanly {
                    _ = try CodebookUsage(
                        ids: records.flatMap(\.tokens.ids),
                        vocabularySize: first.tokens.vocabularySizes.first ?? 1 << 20)
                }
            }
        },
        "vocabulary": { bytes in _ = try VisualVocabulary(contentsOf: try Scratch.file("vocab.json", bytes)) },
        "quantizer": { bytes in
            let spec = try QuantizerSpec(parsing: try Scratch.quantizerFile(bytes).path)
            let d = spec.idsPerRow(dimension: 16) > 0 ? 16 : 1
            refusesCleanly { _ = try spec.quantize(Tensor(repeating: 0.25, shape: [2, d])) }
        },
        "quantizer-spec": { bytes in _ = try QuantizerSpec(parsing: String(decoding: bytes, as: UTF8.self)) },
        // The first byte picks the model whose weights the config (the rest) is loaded with.
        "model-config": { bytes in
            guard let kind = bytes.first else { return }
            let models = Scratch.models
            let dir = try Scratch.model(models[Int(kind) % models.count], config: Array(bytes.dropFirst()))
            // A tokenizer, else a vision tower; the tower's refusal is the one checked.
            do { _ = try TokenizerRegistry.load(dir) } catch { _ = try VisionEncoderRegistry.load(dir) }
        },
    ]

    /// Scratch files, rewritten for every input (one fuzzing process per target).
    enum Scratch {
        static let root = FileManager.default.temporaryDirectory
            .appendingPathComponent("tessera-fuzz-\(ProcessInfo.processInfo.processIdentifier)")
        static let repository = URL(
            fileURLWithPath: ProcessInfo.processInfo.environment["TESSERA_REPO"]
                ?? FileManager.default.currentDirectoryPath)
        /// Model folders (relative to the repository) whose configs `model-config` mutates.
        static let models = [
            "Assets/models/titok-demo", "Tests/Fixtures/titok/vq_pixel", "Tests/Fixtures/titok/vae",
            "Tests/Fixtures/titok/tatitok", "Tests/Fixtures/vqgan/chameleon", "Tests/Fixtures/vqgan/janus",
            "Tests/Fixtures/vqgan/emu3", "Tests/Fixtures/flextok/vae_c16", "Tests/Fixtures/towers/clip",
            "Tests/Fixtures/towers/siglip", "Tests/Fixtures/vit/model",
        ]

        static func file(_ name: String, _ bytes: [UInt8]) throws -> URL {
            try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
            let url = root.appendingPathComponent(name)
            try Data(bytes).write(to: url)
            return url
        }

        /// A quantizer description next to a valid residual VQ's weights (3 × [1, 32, 16]).
        static func quantizerFile(_ bytes: [UInt8]) throws -> URL {
            let weights = root.appendingPathComponent("weights.safetensors")
            if !FileManager.default.fileExists(atPath: weights.path) {
                try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
                try SafeTensorsWriter.write(
                    (0..<3).map {
                        ("layers.\($0)._codebook.embed", .float(Tensor(repeating: 0.5, shape: [1, 32, 16])))
                    },
                    to: weights)
            }
            return try file("quantizer.json", bytes)
        }

        /// A folder holding `model`'s files, its config.json replaced by `config`.
        static func model(_ model: String, config: [UInt8]) throws -> URL {
            let source = repository.appendingPathComponent(model)
            let dir = root.appendingPathComponent("model-" + source.lastPathComponent)
            if !FileManager.default.fileExists(atPath: dir.path) {
                try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
                for name in try FileManager.default.contentsOfDirectory(atPath: source.path) where name != "config.json"
                {
                    try FileManager.default.createSymbolicLink(
                        at: dir.appendingPathComponent(name), withDestinationURL: source.appendingPathComponent(name))
                }
            }
            try Data(config).write(to: dir.appendingPathComponent("config.json"))
            return dir
        }
    }

    /// The selected target (nil: `TESSERA_FUZZ_TARGET` names none).
    let target = targets[ProcessInfo.processInfo.environment["TESSERA_FUZZ_TARGET"] ?? ""]

    /// Runs `body`; an error is a valid outcome for bad input, but it must be one of Tessera's
    /// typed errors, which say what is wrong. Anything else (a bare Foundation or decoding error)
    /// stops the fuzzer as a finding, like a trap.
    func refusesCleanly(_ body: () throws -> Void) {
        do { try body() } catch let error as CustomStringConvertible where !error.description.isEmpty {
            return
        } catch {
            fatalError("an error that does not describe itself: \(type(of: error)) \(error)")
        }
    }

    @_silgen_name("LLVMFuzzerRunDriver")
    func runDriver(
        _ argc: UnsafeMutablePointer<Int32>,
        _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
        _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
    ) -> Int32

    /// The executable's entry point under SwiftPM (which renames `main` to `<target>_main`):
    /// hands the arguments to libFuzzer's driver with the selected target.
    @_cdecl("tessera_fuzz_main")
    func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Int32 {
        guard target != nil else {
            FileHandle.standardError.write(
                Data("TESSERA_FUZZ_TARGET must be one of: \(targets.keys.sorted().joined(separator: ", "))\n".utf8))
            return 2
        }
        var count = argc
        var arguments: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
        return runDriver(&count, &arguments) { data, size in
            let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
            refusesCleanly { try target?(bytes) }
            return 0
        }
    }
#else
    @main struct FuzzStub {
        static func main() {
            print("tessera-fuzz runs under libFuzzer: use Scripts/fuzz.sh TARGET SECONDS")
        }
    }
#endif
