// Results handed to the caller: a list of typed arrays plus a JSON text, freed by the caller.
import CTesseraABI
import Foundation
import Tessera

/// One array of a result.
struct ResultArray {
    enum Storage {
        case int32([Int32])
        case float32([Float])
        case uint8([UInt8])
    }
    var storage: Storage
    var shape: [Int]

    var dtype: Int32 {
        switch storage {
        case .int32: TESS_DTYPE_INT32
        case .float32: TESS_DTYPE_FLOAT32
        case .uint8: TESS_DTYPE_UINT8
        }
    }

    static func ids(_ ids: [Int], shape: [Int]) -> ResultArray {
        ResultArray(storage: .int32(ids.map { Int32(truncatingIfNeeded: $0) }), shape: shape)
    }

    static func tensor(_ t: Tensor) -> ResultArray { ResultArray(storage: .float32(t.scalars), shape: t.shape) }

    static func image(_ image: Image) -> ResultArray {
        let rgb = image.rgb()
        return ResultArray(storage: .uint8(rgb.pixels), shape: [rgb.height, rgb.width, 3])
    }
}

/// What a `tess_result*` points to.
struct ResultBox {
    var arrays: [ResultArray]
    var json = "{}"

    func array(_ index: Int64) throws -> ResultArray {
        guard index >= 0 && index < arrays.count else {
            throw BoundaryError.argument("array \(index) is outside the result's 0..<\(arrays.count)")
        }
        return arrays[Int(index)]
    }
}

/// Stores a new result in `out`.
func deliver(_ result: ResultBox, to out: UnsafeMutablePointer<OpaquePointer?>?) throws {
    try deliver(handle: result, to: out)
}

func borrowResult(_ pointer: OpaquePointer?) throws -> ResultBox { try Handle<ResultBox>.borrow(pointer, "result") }

@c @implementation
public func tess_result_count(_ result: OpaquePointer?) -> Int64 {
    do { return Int64(try borrowResult(result).arrays.count) } catch {
        LastError.set(String(describing: error), path: "")
        return 0
    }
}

@c @implementation
public func tess_result_array(
    _ result: OpaquePointer?, _ index: Int64, _ dtype: UnsafeMutablePointer<Int32>?,
    _ shape: UnsafeMutablePointer<Int64>?, _ maxDims: Int32, _ ndim: UnsafeMutablePointer<Int32>?
) -> Int32 {
    guarded {
        let array = try borrowResult(result).array(index)
        try required(dtype, "dtype").pointee = array.dtype
        try required(ndim, "ndim").pointee = Int32(array.shape.count)
        guard maxDims >= array.shape.count else {
            throw BoundaryError(
                status: TESS_ERROR_BUFFER,
                description: "array \(index) has \(array.shape.count) dimensions, "
                    + "max_dims is \(maxDims)")
        }
        let shape = try required(shape, "shape")
        for (i, extent) in array.shape.enumerated() { shape[i] = Int64(extent) }
    }
}

@c @implementation
public func tess_result_copy(
    _ result: OpaquePointer?, _ index: Int64, _ out: UnsafeMutableRawPointer?, _ capacity: Int64
) -> Int32 {
    guarded {
        let array = try borrowResult(result).array(index)
        let out = try required(out, "out")
        func copy<T>(_ values: [T]) throws {
            let bytes = values.count * MemoryLayout<T>.stride
            guard capacity >= bytes else {
                throw BoundaryError(
                    status: TESS_ERROR_BUFFER,
                    description: "array \(index) needs \(bytes) bytes, capacity is \(capacity)")
            }
            values.withUnsafeBytes { source in
                if let base = source.baseAddress { out.copyMemory(from: base, byteCount: bytes) }
            }
        }
        switch array.storage {
        case .int32(let v): try copy(v)
        case .float32(let v): try copy(v)
        case .uint8(let v): try copy(v)
        }
    }
}

@c @implementation
public func tess_result_json(_ result: OpaquePointer?, _ buffer: UnsafeMutablePointer<CChar>?, _ capacity: Int) -> Int {
    copyOut(textOrEmpty { try borrowResult(result).json }, buffer, capacity)
}

@c @implementation
public func tess_result_free(_ result: OpaquePointer?) {
    Handle<ResultBox>.free(result)
}
