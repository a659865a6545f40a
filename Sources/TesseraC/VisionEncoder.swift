// Vision towers and visual-token reduction over the C ABI.
import CTesseraABI
import Foundation
import Tessera

/// The encoder of a `tess_vision_encoder*`.
func borrowEncoder(_ pointer: OpaquePointer?) throws -> any VisionEncoder {
    try Handle<any VisionEncoder>.borrow(pointer, "vision encoder")
}

@c @implementation
public func tess_vision_encoder_load(
    _ directory: UnsafePointer<CChar>?, _ options: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<OpaquePointer?>?
) -> Int32 {
    guarded {
        let path = try string(directory, "directory")
        _ = try Options(options, call: "tess_vision_encoder_load", allowed: [])
        let out = try required(out, "out")
        _ = tuneAllocator
        out.pointee = Handle<any VisionEncoder>.make(try VisionEncoderRegistry.load(URL(fileURLWithPath: path)))
    }
}

@c @implementation
public func tess_vision_encoder_free(_ encoder: OpaquePointer?) {
    Handle<any VisionEncoder>.free(encoder)
}

@c @implementation
public func tess_vision_encoder_descriptor(
    _ encoder: OpaquePointer?, _ buffer: UnsafeMutablePointer<CChar>?, _ capacity: Int
) -> Int {
    let text = textOrEmpty {
        let d = try borrowEncoder(encoder).descriptor
        let object: [String: Any] = [
            "family": d.family, "model_id": d.modelID, "width": d.width, "depth": d.depth, "heads": d.heads,
            "input_size": [d.inputSize.height, d.inputSize.width], "patch_size": d.patchSize,
            "prefix_tokens": d.prefixTokens, "has_class_token": d.hasClassToken, "tokens": d.tokens,
            "grid": [d.gridRows, d.gridColumns],
        ]
        return jsonText(object)
    }
    return copyOut(text, buffer, capacity)
}

@c @implementation
public func tess_vision_encoder_features(
    _ encoder: OpaquePointer?, _ images: UnsafePointer<tess_image>?, _ count: Int64, _ options: UnsafePointer<CChar>?,
    _ out: UnsafeMutablePointer<OpaquePointer?>?
) -> Int32 {
    guarded {
        let tower = try borrowEncoder(encoder)
        let options = try Options(options, call: "tess_vision_encoder_features", allowed: ["layer", "pool", "batch"])
        let block = try options.int("layer").map(tower.block(forLayer:))
        let pooling = try options.choice("pool", FeaturePooling.self) ?? .none
        let batch = try options.int("batch", in: 1...4096) ?? 8
        try tower.checkPooling(block: block, pooling)
        let images = try inputImages(images, count)
        try checkMemory(tower, batch: min(batch, max(1, images.count)))
        var arrays: [ResultArray] = []
        for start in stride(from: 0, to: images.count, by: batch) {
            let chunk = Array(images[start..<min(images.count, start + batch)])
            let features = try tower.features(tower.pixels(chunk), block: block, pooling: pooling)
            let perImage = Array(features.shape.dropFirst()), size = perImage.reduce(1, *)
            let scalars = features.scalars
            for i in 0..<chunk.count {
                arrays.append(
                    ResultArray(storage: .float32(Array(scalars[(i * size)..<((i + 1) * size)])), shape: perImage))
            }
        }
        try deliver(ResultBox(arrays: arrays), to: out)
    }
}

@c @implementation
public func tess_reduce(
    _ encoder: OpaquePointer?, _ images: UnsafePointer<tess_image>?, _ count: Int64, _ options: UnsafePointer<CChar>?,
    _ out: UnsafeMutablePointer<OpaquePointer?>?
) -> Int32 {
    guarded {
        let tower = try borrowEncoder(encoder)
        let options = try Options(
            options, call: "tess_reduce",
            allowed: ["method", "keep", "layer", "seed", "r", "inflect", "budget_rate", "alpha"])
        guard let method = try options.choice("method", TokenReductionMethod.self) else {
            throw BoundaryError.argument(
                "tess_reduce: option method is required (one of "
                    + TokenReductionMethod.allCases.map(\.rawValue).joined(separator: ", ") + ")")
        }
        let request = TokenReductionOptions(
            method: method, keep: try options.int("keep", in: 1...1_000_000), layer: try options.int("layer") ?? -2,
            seed: try options.uint64("seed") ?? 0, r: try options.int("r", in: 0...1_000_000),
            inflect: try options.double("inflect") ?? 0, budgetRate: try options.double("budget_rate") ?? 0.2,
            alpha: try options.double("alpha") ?? 0.5)
        let reducer = try VisionTokenReducer(encoder: tower, options: request)
        let images = try inputImages(images, count)
        try checkMemory(tower, batch: 1)
        var arrays: [ResultArray] = [], entries: [[String: Any]] = []
        for image in images {
            let reduced = try reducer.reduce(image)
            arrays.append(.tensor(reduced.features))
            arrays.append(.ids(reduced.indices, shape: [reduced.indices.count]))
            arrays.append(.ids(reduced.positions.flatMap { $0 }, shape: [reduced.positions.count, 3]))
            var entry: [String: Any] = ["grid": reduced.grid, "input_tokens": reduced.inputTokens]
            entry["sizes"] = reduced.sizes.map { $0.map(Double.init) } ?? NSNull()
            entries.append(entry)
        }
        try deliver(ResultBox(arrays: arrays, json: jsonText(["method": method.rawValue, "images": entries])), to: out)
    }
}

/// Refuses a forward pass of `batch` images whose activations would exceed the memory limit (the
/// MLP taken as 4× the width, as in every ViT family here).
func checkMemory(_ tower: any VisionEncoder, batch: Int) throws {
    let d = tower.descriptor
    let bytes = batch * TransformerStack.activationBytes(tokens: d.tokens, width: d.width, mlpHidden: 4 * d.width)
    try MemoryLimit.check(bytes, for: "a forward pass of \(batch) images through \(d.modelID)", path: d.modelID)
}
