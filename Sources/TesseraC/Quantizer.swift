// Quantizers and LM vocabularies over the C ABI (`tessera quantize` / `tessera tokens to-lm`).
import CTesseraABI
import Foundation
import Tessera

/// What a `tess_quantizer*` holds: the quantizer and its description.
struct LoadedQuantizer {
    var spec: QuantizerSpec
    var text: String

    static func borrow(_ pointer: OpaquePointer?) throws -> LoadedQuantizer {
        try Handle<LoadedQuantizer>.borrow(pointer, "quantizer")
    }
}

@c @implementation
public func tess_quantizer_load(_ spec: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    guarded {
        let text = try string(spec, "spec")
        _ = try required(out, "out")
        try deliver(handle: LoadedQuantizer(spec: try QuantizerSpec(parsing: text), text: text), to: out)
    }
}

@c @implementation
public func tess_quantizer_free(_ quantizer: OpaquePointer?) {
    Handle<LoadedQuantizer>.free(quantizer)
}

@c @implementation
public func tess_quantizer_descriptor(
    _ quantizer: OpaquePointer?, _ buffer: UnsafeMutablePointer<CChar>?, _ capacity: Int
) -> Int {
    let text = textOrEmpty {
        let q = try LoadedQuantizer.borrow(quantizer)
        let d = q.spec.inputDimension
        let object: [String: Any] = [
            "spec": q.text, "vocabulary_size": q.spec.vocabularySize, "dimension": d ?? NSNull(),
            "ids_per_row": d.map { q.spec.idsPerRow(dimension: $0) } ?? NSNull(),
        ]
        return jsonText(object)
    }
    return copyOut(text, buffer, capacity)
}

@c @implementation
public func tess_quantizer_quantize(
    _ quantizer: OpaquePointer?, _ latents: UnsafePointer<Float>?, _ rows: Int64, _ dimension: Int64,
    _ out: UnsafeMutablePointer<OpaquePointer?>?
) -> Int32 {
    guarded {
        let q = try LoadedQuantizer.borrow(quantizer).spec
        guard rows >= 0, dimension >= 1 else {
            throw BoundaryError.argument("latents must be [rows ≥ 0, dimension ≥ 1], got [\(rows), \(dimension)]")
        }
        let count = try checkedProduct([Int(rows), Int(dimension)], "latents")
        try MemoryLimit.check(count * 8, for: "quantizing \(rows) rows of \(dimension)", path: "<latents>")
        let values = rows == 0 ? [] : Array(UnsafeBufferPointer(start: try required(latents, "latents"), count: count))
        let per = q.idsPerRow(dimension: Int(dimension))
        let ids = rows == 0 ? [] : try q.quantize(Tensor(shape: [Int(rows), Int(dimension)], scalars: values))
        try deliver(ResultBox(arrays: [.ids(ids, shape: [Int(rows), per])]), to: out)
    }
}

@c @implementation
public func tess_quantizer_dequantize(
    _ quantizer: OpaquePointer?, _ ids: UnsafePointer<Int32>?, _ rows: Int64, _ idsPerRow: Int64, _ dimension: Int64,
    _ out: UnsafeMutablePointer<OpaquePointer?>?
) -> Int32 {
    guarded {
        let q = try LoadedQuantizer.borrow(quantizer).spec
        guard rows >= 0, idsPerRow >= 1, dimension >= 0 else {
            throw BoundaryError.argument("ids must be [rows ≥ 0, ids per row ≥ 1], got [\(rows), \(idsPerRow)]")
        }
        let d = q.inputDimension ?? Int(dimension)
        guard d >= 1 else { throw BoundaryError.argument("this quantizer needs dimension (channels per row)") }
        let per = q.idsPerRow(dimension: d)
        guard Int(idsPerRow) == per else {
            throw BoundaryError.argument("this quantizer gives \(per) ids per row of \(d) channels, got \(idsPerRow)")
        }
        let count = try checkedProduct([Int(rows), per], "ids")
        try MemoryLimit.check(count * 16, for: "dequantizing \(rows) rows", path: "<ids>")
        guard rows > 0 else {
            return try deliver(ResultBox(arrays: [.tensor(Tensor(shape: [0, d], scalars: []))]), to: out)
        }
        let values = UnsafeBufferPointer(start: try required(ids, "ids"), count: count).map(Int.init)
        let codes = try q.dequantize(values, rows: Int(rows), dimension: d)
        // binary latents embed their bits: the output width can differ from the input's
        try deliver(ResultBox(arrays: [.tensor(codes.reshaped([Int(rows), codes.count / Int(rows)]))]), to: out)
    }
}

/// What a `tess_vocabulary*` holds: the vocabulary and its file.
struct LoadedVocabulary {
    var vocabulary: VisualVocabulary
    var path: String

    static func borrow(_ pointer: OpaquePointer?) throws -> LoadedVocabulary {
        try Handle<LoadedVocabulary>.borrow(pointer, "vocabulary")
    }
}

@c @implementation
public func tess_vocabulary_load(_ path: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    guarded {
        let path = try string(path, "path")
        _ = try required(out, "out")
        try deliver(
            handle: LoadedVocabulary(
                vocabulary: try VisualVocabulary(contentsOf: URL(fileURLWithPath: path)), path: path), to: out)
    }
}

@c @implementation
public func tess_vocabulary_free(_ vocabulary: OpaquePointer?) {
    Handle<LoadedVocabulary>.free(vocabulary)
}

@c @implementation
public func tess_vocabulary_json(
    _ vocabulary: OpaquePointer?, _ buffer: UnsafeMutablePointer<CChar>?, _ capacity: Int
) -> Int {
    let text = textOrEmpty {
        String(decoding: try LoadedVocabulary.borrow(vocabulary).vocabulary.jsonData(), as: UTF8.self)
    }
    return copyOut(text, buffer, capacity)
}

@c @implementation
public func tess_vocabulary_to_lm(
    _ vocabulary: OpaquePointer?, _ ids: UnsafePointer<Int32>?, _ count: Int64, _ shape: UnsafePointer<Int64>?,
    _ ndim: Int32, _ out: UnsafeMutablePointer<OpaquePointer?>?
) -> Int32 {
    guarded {
        let v = try LoadedVocabulary.borrow(vocabulary)
        guard count >= 0 else { throw BoundaryError.argument("count is negative (\(count))") }
        guard (1...8).contains(ndim) else { throw BoundaryError.argument("ndim must be in 1...8, got \(ndim)") }
        let shape = try required(shape, "shape")
        let setShape = (0..<Int(ndim)).map { Int(shape[$0]) }
        let perSet = try checkedProduct(setShape, "token shape")
        let total = try checkedProduct([perSet, Int(count)], "ids")
        try MemoryLimit.check(total * 16, for: "mapping \(count) token sets", path: v.path)
        let data = count == 0 ? nil : try required(ids, "ids")
        let sets = (0..<Int(count)).map { i in
            Tokens(
                ids: UnsafeBufferPointer(start: data.map { $0 + i * perSet }, count: perSet).map(Int.init),
                shape: setShape, vocabularySizes: v.vocabulary.codebookSizes, model: "")
        }
        let stream = try v.vocabulary.stream(sets)
        try deliver(ResultBox(arrays: [.ids(stream, shape: [stream.count])]), to: out)
    }
}

@c @implementation
public func tess_vocabulary_from_lm(
    _ vocabulary: OpaquePointer?, _ stream: UnsafePointer<Int32>?, _ length: Int64,
    _ out: UnsafeMutablePointer<OpaquePointer?>?
) -> Int32 {
    guarded {
        let v = try LoadedVocabulary.borrow(vocabulary)
        guard length >= 0 else { throw BoundaryError.argument("length is negative (\(length))") }
        try MemoryLimit.check(Int(length) * 16, for: "reading an LM stream of \(length) ids", path: v.path)
        let ids =
            length == 0
            ? [] : UnsafeBufferPointer(start: try required(stream, "stream"), count: Int(length)).map(Int.init)
        let sets = try v.vocabulary.tokens(fromStream: ids)
        try deliver(ResultBox(arrays: sets.map { .ids($0.ids, shape: $0.shape) }), to: out)
    }
}
