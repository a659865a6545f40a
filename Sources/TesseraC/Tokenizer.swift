// Image tokenizers over the C ABI: load, describe, encode pixels or files, decode token sets.
import CTesseraABI
import Foundation
import Tessera

/// The tokenizer of a `tess_tokenizer*`.
func borrowTokenizer(_ pointer: OpaquePointer?) throws -> any ImageTokenizer {
    try Handle<any ImageTokenizer>.borrow(pointer, "tokenizer")
}

extension TokenizerDescriptor {
    /// The descriptor as the ABI's JSON object.
    var json: [String: Any] {
        var object: [String: Any] = [
            "family": family, "model_id": modelID, "input_size": [inputSize.height, inputSize.width],
            "token_shape": tokenShape, "vocabulary_sizes": vocabularySizes, "variable_length": variableLength,
            "output_range": [Double(outputRange.lowerBound), Double(outputRange.upperBound)],
            "positions": positions, "continuous": isContinuous,
        ]
        object["latent_channels"] = latentChannels ?? NSNull()
        object["conditioning"] = conditioning ?? NSNull()
        object["noise_shape"] = noiseShape ?? NSNull()
        return object
    }
}

@c @implementation
public func tess_tokenizer_load(
    _ directory: UnsafePointer<CChar>?, _ options: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<OpaquePointer?>?
) -> Int32 {
    guarded {
        let path = try string(directory, "directory")
        let options = try Options(options, call: "tess_tokenizer_load", allowed: ["behaviour"])
        let behaviour = try options.choice("behaviour", ReferenceBehaviour.self) ?? .original
        let out = try required(out, "out")
        _ = tuneAllocator
        let tokenizer = try TokenizerRegistry.load(URL(fileURLWithPath: path), behaviour: behaviour)
        out.pointee = Handle<any ImageTokenizer>.make(tokenizer)
    }
}

@c @implementation
public func tess_tokenizer_free(_ tokenizer: OpaquePointer?) {
    Handle<any ImageTokenizer>.free(tokenizer)
}

@c @implementation
public func tess_tokenizer_descriptor(
    _ tokenizer: OpaquePointer?, _ buffer: UnsafeMutablePointer<CChar>?, _ capacity: Int
) -> Int {
    copyOut(textOrEmpty { jsonText(try borrowTokenizer(tokenizer).descriptor.json) }, buffer, capacity)
}

/// The encode options of the ABI, checked against the model.
func encodeOptions(_ pointer: UnsafePointer<CChar>?, for tokenizer: any ImageTokenizer, call: String) throws
    -> EncodeOptions
{
    let options = try Options(pointer, call: call, allowed: ["tokens", "batch", "seed"])
    let limit = try options.int("tokens")
    try limit.map(tokenizer.descriptor.checkTokenBudget)
    return EncodeOptions(
        tokenLimit: limit, batchSize: try options.int("batch", in: 1...4096) ?? 8, seed: try options.uint64("seed"))
}

/// Encodes decoded images into a result of one array per image.
func encodeResult(_ tokenizer: any ImageTokenizer, _ images: [Image], _ options: EncodeOptions) throws -> ResultBox {
    guard !images.isEmpty else { return ResultBox(arrays: []) }
    try tokenizer.checkBatchMemory(min(options.batchSize, images.count), decoding: false)
    let tokens = try tokenizer.encode(images, options: options)
    return ResultBox(
        arrays: tokens.map { t in
            if let latents = t.latents {
                let rows = t.positions
                return ResultArray(storage: .float32(latents.scalars), shape: [rows, latents.count / max(1, rows)])
            }
            return .ids(t.ids, shape: t.shape)
        })
}

/// The images of a `tess_image` array, checked before anything is copied, encoded ones decoded in
/// parallel (as the batch encoder's producer does).
func inputImages(_ images: UnsafePointer<tess_image>?, _ count: Int64) throws -> [Image] {
    guard count >= 0 else { throw BoundaryError.argument("count is negative (\(count))") }
    guard count > 0 else { return [] }
    let images = try required(images, "images")
    enum Source {
        case encoded([UInt8]?, String)
        case pixels(Image)
    }
    var sources: [Source] = []
    var bytes = 0
    for i in 0..<Int(count) {
        let item = images[i]
        let name = item.name.map { String(cString: $0) } ?? "<image \(i)>"
        if item.height == 0 {
            guard item.length >= 0 else { throw BoundaryError.argument("\(name): length is negative") }
            guard item.data != nil || item.name != nil else {
                throw BoundaryError.argument("image \(i): neither data nor a file name")
            }
            let data = item.data.map { Array(UnsafeBufferPointer(start: $0, count: Int(item.length))) }
            sources.append(.encoded(data, name))
            continue
        }
        guard item.height >= 1, item.width >= 1 else {
            throw BoundaryError.argument("\(name): pixels must be at least 1×1, got \(item.height)×\(item.width)")
        }
        guard let layout = Image.Layout(rawValue: Int(clamping: item.channels)) else {
            throw BoundaryError.argument("\(name): channels must be 3 (RGB) or 4 (RGBA), got \(item.channels)")
        }
        let size = try checkedProduct([Int(item.height), Int(item.width), Int(item.channels)], name)
        bytes = bytes.addingReportingOverflow(size).partialValue
        // The pixels are copied once (as RGB(A) bytes); the model's own preprocessing follows.
        try MemoryLimit.check(bytes, for: "copying \(i + 1) images", path: name)
        let data = try required(item.data, "\(name): data")
        sources.append(
            .pixels(
                Image(
                    width: Int(item.width), height: Int(item.height), layout: layout,
                    pixels: Array(UnsafeBufferPointer(start: data, count: size)))))
    }
    let decoded = parallelMap(sources) { source -> Result<Image, any Error> in
        switch source {
        case .pixels(let image): .success(image)
        case .encoded(let data, let name): Result { try decodeImage(data, name: name) }
        }
    }
    return try decoded.map { try $0.get() }
}

/// An encoded image, or (bytes nil) the file at `name`, decoded as `tessera` reads inputs.
func decodeImage(_ bytes: [UInt8]?, name: String) throws -> Image {
    if let bytes { return try Image(encoded: bytes, path: name) }
    return try Image(contentsOf: URL(fileURLWithPath: name))
}

@c @implementation
public func tess_tokenizer_encode(
    _ tokenizer: OpaquePointer?, _ images: UnsafePointer<tess_image>?, _ count: Int64,
    _ options: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<OpaquePointer?>?
) -> Int32 {
    guarded {
        let model = try borrowTokenizer(tokenizer)
        let options = try encodeOptions(options, for: model, call: "tess_tokenizer_encode")
        try deliver(try encodeResult(model, try inputImages(images, count), options), to: out)
    }
}

@c @implementation
public func tess_tokenizer_decode(
    _ tokenizer: OpaquePointer?, _ tokens: UnsafeRawPointer?, _ dtype: Int32, _ count: Int64,
    _ shape: UnsafePointer<Int64>?, _ ndim: Int32, _ noise: UnsafePointer<Float>?,
    _ conditioning: UnsafePointer<Float>?,
    _ conditioningSets: Int64, _ options: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<OpaquePointer?>?
) -> Int32 {
    guarded {
        let model = try borrowTokenizer(tokenizer)
        let d = model.descriptor
        let options = try decodeOptions(options, for: model)
        guard count >= 0 else { throw BoundaryError.argument("count is negative (\(count))") }
        guard (1...8).contains(ndim) else { throw BoundaryError.argument("ndim must be in 1...8, got \(ndim)") }
        let shape = try required(shape, "shape")
        let setShape = (0..<Int(ndim)).map { Int(shape[$0]) }
        let perSet = try checkedProduct(setShape, "token shape")
        let total = try checkedProduct([perSet, Int(count)], "tokens")
        guard count > 0 else { return try deliver(ResultBox(arrays: []), to: out) }
        let wanted = d.isContinuous ? TESS_DTYPE_FLOAT32 : TESS_DTYPE_INT32
        guard dtype == wanted else {
            throw BoundaryError.argument(
                "\(d.modelID) decodes \(d.isContinuous ? "float32 latents" : "int32 ids"), got dtype \(dtype)")
        }
        try MemoryLimit.check(total * 8, for: "reading \(count) token sets of \(setShape)", path: "<tokens>")
        let data = try required(tokens, "tokens")
        let sets: [Tokens] = (0..<Int(count)).map { i in
            if d.isContinuous {
                let values = Array(
                    UnsafeBufferPointer(start: data.assumingMemoryBound(to: Float.self) + i * perSet, count: perSet))
                return Tokens(
                    ids: [], shape: setShape, vocabularySizes: [], model: d.modelID,
                    latents: Tensor(shape: setShape, scalars: values))
            }
            let ids = UnsafeBufferPointer(start: data.assumingMemoryBound(to: Int32.self) + i * perSet, count: perSet)
            return Tokens(ids: ids.map(Int.init), shape: setShape, vocabularySizes: d.vocabularySizes, model: d.modelID)
        }
        var decode = options
        if let noise {
            guard let noiseShape = d.noiseShape else {
                throw BoundaryError.argument("noise: \(d.modelID) does not sample")
            }
            let perNoise = try checkedProduct(noiseShape, "noise shape")
            decode.noise = (0..<Int(count)).map { i in
                Tensor(
                    shape: noiseShape, scalars: Array(UnsafeBufferPointer(start: noise + i * perNoise, count: perNoise))
                )
            }
        }
        decode.conditioning = try conditioningTensor(conditioning, sets: conditioningSets, count: Int(count), for: d)
        try model.checkBatchMemory(min(decode.batchSize, sets.count), decoding: true, path: "<tokens>")
        let images = try model.decodeImages(sets, options: decode)
        try deliver(ResultBox(arrays: images.map(ResultArray.image)), to: out)
    }
}

/// The conditioning of a decode call: `[L, D]` shared by every token set, or `[N, L, D]` one each.
func conditioningTensor(_ data: UnsafePointer<Float>?, sets: Int64, count: Int, for d: TokenizerDescriptor) throws
    -> Tensor?
{
    guard let data else {
        guard sets == 0 else { throw BoundaryError.argument("conditioning is NULL but conditioning_sets is \(sets)") }
        return nil
    }
    guard let shape = d.conditioning else { throw BoundaryError.argument("conditioning: \(d.modelID) takes none") }
    guard sets == 1 || sets == count else {
        throw BoundaryError.argument(
            "conditioning_sets must be 1 (shared) or \(count) (one per token set), got \(sets)")
    }
    let per = try checkedProduct(shape, "conditioning shape")
    let total = try checkedProduct([per, Int(sets)], "conditioning")
    let values = Array(UnsafeBufferPointer(start: data, count: total))
    return Tensor(shape: sets == 1 ? shape : [Int(sets)] + shape, scalars: values)
}

/// The decode options of the ABI, checked against the model.
func decodeOptions(_ pointer: UnsafePointer<CChar>?, for tokenizer: any ImageTokenizer) throws -> DecodeOptions {
    let options = try Options(
        pointer, call: "tess_tokenizer_decode",
        allowed: ["tokens", "batch", "seed", "steps", "guidance", "guidance_mode", "round"])
    let d = tokenizer.descriptor
    let limit = try options.int("tokens")
    try limit.map(d.checkTokenBudget)
    try d.checkSamplingOptions(given: ["seed", "steps", "guidance", "guidance_mode"].filter(options.has))
    return DecodeOptions(
        tokenLimit: limit, batchSize: try options.int("batch", in: 1...4096) ?? 8, seed: try options.uint64("seed"),
        steps: try options.int("steps", in: 1...1000), guidanceScale: try options.double("guidance").map(Float.init),
        guidanceMode: try options.choice("guidance_mode", GuidanceMode.self),
        rounding: try options.bool("round") == true ? .nearest : .truncate)
}

@c @implementation
public func tess_image_decode(
    _ data: UnsafePointer<UInt8>?, _ length: Int64, _ name: UnsafePointer<CChar>?,
    _ out: UnsafeMutablePointer<OpaquePointer?>?
) -> Int32 {
    guarded {
        let path = try string(name, "name")
        guard length >= 0 else { throw BoundaryError.argument("length is negative (\(length))") }
        let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: Int(length))) }
        let images = [try decodeImage(bytes, name: path)]
        try deliver(
            ResultBox(
                arrays: images.map {
                    ResultArray(storage: .uint8($0.pixels), shape: [$0.height, $0.width, $0.channels])
                }), to: out)
    }
}
