import Foundation
import TesseraTestSupport
import Testing

@testable import Tessera

/// ``MemoryLimit`` at each place a size comes from a file or an option: an image's header, a
/// checkpoint's tensors, a batch, a video clip held whole. Each limit is scoped to its test's task.
@Suite struct MemoryLimitPipelineTests {
    static let demo = Fixtures.repository.appendingPathComponent("Assets/models/titok-demo")

    /// A 512² JPEG needs 512² × 6 bytes to decode (samples, then RGB next to them): refused
    /// below that, before any pixel is allocated, naming the file; decoded at that.
    @Test func imageDecoding() throws {
        let url = Fixtures.repository.appendingPathComponent("Assets/images/astronaut.jpg")
        let error = try #require(throws: MemoryLimitError.self) {
            try MemoryLimit.withLimit(512 * 512 * 6 - 1) { _ = try Image(contentsOf: url) }
        }
        #expect(error.path == url.path && error.bytes == 512 * 512 * 6)
        #expect(error.description.contains("decoding the 512x512 image"))
        let image = try MemoryLimit.withLimit(512 * 512 * 6) { try Image(contentsOf: url) }
        #expect(image.width == 512)
    }

    /// The weights a model may bind are summed as float32 from the checkpoint's headers and
    /// refused before any tensor is read.
    @Test func weights() throws {
        let checkpoint = try Checkpoint(directory: Self.demo)
        let loader = try WeightLoader(checkpoint)
        #expect(
            loader.weightBytes == checkpoint.names.map { 4 * checkpoint.entry($0)!.shape.reduce(1, *) }.reduce(0, +))
        let error = try #require(throws: MemoryLimitError.self) {
            try MemoryLimit.withLimit(loader.weightBytes - 1) { _ = try TokenizerRegistry.load(Self.demo) }
        }
        #expect(error.description.contains("binding the weights as float32"))
        #expect(error.path.hasSuffix("titok-demo"))
    }

    /// A batch above the limit is refused with the largest batch that fits; the batch encoder
    /// checks before its first batch.
    @Test func batches() throws {
        let tokenizer = try TokenizerRegistry.load(Self.demo)
        let three = tokenizer.workingMemory(batch: 3, decoding: false)
        #expect(three > 3 << 20 && tokenizer.workingMemory(batch: 4, decoding: false) > three)
        try MemoryLimit.withLimit(three) {
            try tokenizer.checkBatchMemory(3, decoding: false)
            let error = try #require(throws: MemoryLimitError.self) {
                try tokenizer.checkBatchMemory(8, decoding: false)
            }
            #expect(error.description.hasPrefix("titok-demo: encoding a batch of 8 with titok-demo needs about"))
            #expect(error.description.contains("a batch of 3 fits (--batch)"))
            let images = ["astronaut.jpg", "coffee.jpg", "chelsea.png", "astronaut.jpg"].map {
                Fixtures.repository.appendingPathComponent("Assets/images/\($0)")
            }
            let job = BatchEncoder(tokenizer: tokenizer, inputs: images)
            job.options.batchSize = 4
            #expect(throws: MemoryLimitError.self) { _ = try job.encodeAll { _, _ in } }
            job.options.batchSize = 3
            #expect(try job.encodeAll { _, _ in }.allSatisfy { $0.failure == nil })
        }
    }

    /// A clip tokenizer holds a video's frames until its clip is full: a clip that would pass the
    /// limit fails that video (named, with how to need less), and the other inputs are encoded.
    @Test func clipsHeldWhole() throws {
        let video = Fixtures.url("media/videos/h264_bframes.mp4")  // 18 frames of 48×32
        let image = Fixtures.repository.appendingPathComponent("Assets/images/coffee.jpg")
        let clips = OneMegabytePerFrame()
        let job = BatchEncoder(tokenizer: clips, inputs: [video, image])
        job.sampling = .uniform(count: 8)
        // 6 frames fit (6 MiB and their pixels), a 7th does not.
        let results = try MemoryLimit.withLimit(7 << 20) { try job.encodeAll { _, _ in } }
        let failure = try #require(results.first?.failure)
        #expect(failure.hasPrefix("\(video.path): a clip of 7 frames needs about"), "\(failure)")
        #expect(failure.contains("--clip-frames"))
        #expect(results.first?.records.isEmpty == true)
        #expect(results.last?.failure == nil && results.last?.records.count == 1)
        // In clips of 4 it fits.
        job.clipFrames = 4
        let clipped = try MemoryLimit.withLimit(7 << 20) { try job.encodeAll { _, _ in } }
        #expect(
            clipped.first?.failure == nil && clipped.first?.records.map(\.tokens.shape) == [[1, 1, 1], [1, 1, 1]])
    }
}

/// A clip tokenizer whose only cost is its clips: 1 MiB of activations per frame. Codes are the
/// number of frames per 4, so what reached it can be read back.
private struct OneMegabytePerFrame: VideoClipTokenizer {
    var descriptor: TokenizerDescriptor {
        TokenizerDescriptor(
            family: "test", modelID: "clips", inputSize: PixelSize(32), tokenShape: [1, 1], vocabularySizes: [64],
            variableLength: false, outputRange: 0...1)
    }
    var preprocessing: Preprocessing { Preprocessing() }
    var temporalFactor: Int { 4 }
    func workingMemory(batch: Int, decoding: Bool) -> Int { 0 }
    func workingMemory(clipFrames frames: Int, height: Int, width: Int) -> Int { frames << 20 }
    func encode(clip frames: Tensor) throws -> Tokens {
        let steps = frames.shape[0] / 4
        return Tokens(
            ids: [Int](repeating: 4, count: steps), shape: [steps, 1, 1], vocabularySizes: [64], model: "clips")
    }
    func encode(preprocessed pixels: [Tensor], options: EncodeOptions) throws -> [Tokens] {
        pixels.map { _ in Tokens(ids: [1], shape: [1, 1], vocabularySizes: [64], model: "clips") }
    }
    func decode(_ tokens: [Tokens], options: DecodeOptions) throws -> [Tensor] { throw TokenizerError("encode only") }
    func decode(clip tokens: Tokens) throws -> Tensor { throw TokenizerError("encode only") }
}
