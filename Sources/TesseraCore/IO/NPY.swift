import Foundation

/// Errors reading or writing array files.
public struct ArrayFileError: Error, CustomStringConvertible, Equatable {
    /// The file (or "<memory>") the problem is in.
    public var path: String
    /// What is wrong.
    public var reason: String
    /// An error about the file at `path`.
    /// - Parameters:
    ///   - path: The file the problem is in, or `"<memory>"` for bytes held in memory.
    ///   - reason: What is wrong, in words.
    public init(path: String, reason: String) { self.path = path; self.reason = reason }
    /// `path: reason`.
    public var description: String { "\(path): \(reason)" }
}

/// An n-dimensional array as stored in a `.npy` file: element type, shape and the raw
/// little-endian bytes in C order.
public struct NPYArray: Sendable, Equatable {
    /// Element type.
    public var dtype: DType
    /// Extent of each axis, outermost first (`[]` for a scalar).
    public var shape: [Int]
    /// Raw element bytes, little-endian, C order.
    public var data: [UInt8]

    /// An array from raw bytes. - Precondition: `data.count == product(shape) * dtype.size`.
    public init(dtype: DType, shape: [Int], data: [UInt8]) {
        precondition(data.count == shape.reduce(1, *) * dtype.size, "data does not match shape and dtype")
        self.dtype = dtype
        self.shape = shape
        self.data = data
    }

    /// A float32 array holding a tensor's elements.
    public init(_ tensor: Tensor) {
        let bytes = tensor.scalars.withUnsafeBytes { [UInt8]($0) }
        self.init(dtype: .float32, shape: tensor.shape, data: bytes)
    }

    /// A uint8 array.
    public init(uint8 values: [UInt8], shape: [Int]) {
        self.init(dtype: .uint8, shape: shape, data: values)
    }

    /// Elements converted to Float (integers and halves widened; float64 narrowed).
    public func floats() -> [Float] {
        let n = shape.reduce(1, *)
        return data.withUnsafeBytes { raw -> [Float] in
            func load<T: FixedWidthInteger>(_: T.Type) -> [Float] {
                (0..<n).map {
                    Float(T(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * T.bitWidth / 8, as: T.self)))
                }
            }
            switch dtype {
            case .float32:
                return (0..<n).map {
                    Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self)))
                }
            case .float64:
                return (0..<n).map {
                    Float(
                        Double(
                            bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self))
                        ))
                }
            case .float16:
                return (0..<n).map {
                    Float(halfBits: UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 2, as: UInt16.self)))
                }
            case .bfloat16:
                return (0..<n).map {
                    Float(
                        bitPattern: UInt32(
                            UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 2, as: UInt16.self))) << 16)
                }
            case .float8e4m3, .float8e5m2: return [Float](repeating: .nan, count: n)
            case .uint8, .bool: return data.map { Float($0) }
            case .int8: return load(Int8.self)
            case .uint16: return load(UInt16.self)
            case .int16: return load(Int16.self)
            case .uint32: return load(UInt32.self)
            case .int32: return load(Int32.self)
            case .uint64: return load(UInt64.self)
            case .int64: return load(Int64.self)
            }
        }
    }

    /// Elements of an integer array as `Int`, exactly (nil for float arrays; uint64 above
    /// `Int.max` wraps).
    public func integers() -> [Int]? {
        let n = shape.reduce(1, *)
        return data.withUnsafeBytes { raw -> [Int]? in
            func load<T: FixedWidthInteger>(_: T.Type) -> [Int] {
                (0..<n).map {
                    Int(
                        truncatingIfNeeded: T(
                            littleEndian: raw.loadUnaligned(fromByteOffset: $0 * T.bitWidth / 8, as: T.self)))
                }
            }
            switch dtype {
            case .float32, .float64, .float16, .bfloat16, .float8e4m3, .float8e5m2: return nil
            case .uint8, .bool: return data.map { Int($0) }
            case .int8: return load(Int8.self)
            case .uint16: return load(UInt16.self)
            case .int16: return load(Int16.self)
            case .uint32: return load(UInt32.self)
            case .int32: return load(Int32.self)
            case .uint64: return load(UInt64.self)
            case .int64: return load(Int64.self)
            }
        }
    }

    /// The array as a Float32 tensor of the same shape.
    public func tensor() -> Tensor { Tensor(shape: shape, scalars: floats()) }

    // MARK: reading

    /// Reads a `.npy` file (format versions 1.0–3.0, little-endian, C order).
    public init(contentsOf url: URL) throws {
        let bytes: [UInt8]
        do {
            bytes = [UInt8](try Data(contentsOf: url))
        } catch {
            throw ArrayFileError(path: url.path, reason: "cannot read file (\(error.localizedDescription))")
        }
        try self.init(npyBytes: bytes, path: url.path)
    }

    /// Parses `.npy` bytes. `path` names the source in errors.
    public init(npyBytes bytes: [UInt8], path: String = "<memory>") throws {
        func fail(_ reason: String) -> ArrayFileError { ArrayFileError(path: path, reason: reason) }
        let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else { throw fail("not a .npy file (bad magic)") }
        let major = bytes[6]
        let headerLength: Int
        let headerStart: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw fail("truncated header") }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            headerStart = 12
        default:
            throw fail("unsupported .npy version \(major)")
        }
        guard headerLength <= bytes.count - headerStart else { throw fail("truncated header") }
        guard
            let header = String(
                bytes: bytes[headerStart..<(headerStart + headerLength)], encoding: major == 3 ? .utf8 : .isoLatin1)
        else { throw fail("header is not text") }
        guard let descr = Self.field("descr", in: header), let descrValue = Self.quoted(descr)
        else { throw fail("header has no descr") }
        guard let dtype = DType(npyDescr: descrValue) else { throw fail("unsupported dtype '\(descrValue)'") }
        guard let order = Self.field("fortran_order", in: header) else { throw fail("header has no fortran_order") }
        guard order.hasPrefix("False") else { throw fail("Fortran-order arrays are not supported") }
        guard let shapeText = Self.field("shape", in: header), shapeText.first == "(",
            let close = shapeText.firstIndex(of: ")")
        else { throw fail("header has no shape") }
        let dims = shapeText[shapeText.index(after: shapeText.startIndex)..<close]
            .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        var shape: [Int] = []
        var count = 1
        for d in dims {
            guard let v = Int(d), v >= 0 else { throw fail("bad shape entry '\(d)'") }
            let (product, overflow) = count.multipliedReportingOverflow(by: v)
            guard !overflow else { throw fail("shape \(shapeText) overflows") }
            shape.append(v)
            count = product
        }
        let dataStart = headerStart + headerLength
        let (byteCount, overflow) = count.multipliedReportingOverflow(by: dtype.size)
        guard !overflow, byteCount <= bytes.count - dataStart else {
            throw fail(
                "data is truncated: shape \(shape) of \(dtype) needs \(byteCount) bytes, file has "
                    + "\(bytes.count - dataStart)"
            )
        }
        var payload = Array(bytes[dataStart..<(dataStart + byteCount)])
        if descrValue.first == ">" && dtype.size > 1 {
            // big-endian input: swap to the little-endian layout this type stores
            for i in stride(from: 0, to: payload.count, by: dtype.size) { payload[i..<(i + dtype.size)].reverse() }
        }
        self.init(dtype: dtype, shape: shape, data: payload)
    }

    private static func field(_ key: String, in header: String) -> Substring? {
        guard let range = header.range(of: "'\(key)'") else { return nil }
        var rest = header[range.upperBound...].drop(while: { $0 == " " })
        guard rest.first == ":" else { return nil }
        rest = rest.dropFirst().drop(while: { $0 == " " })
        return rest
    }

    private static func quoted(_ s: Substring) -> String? {
        guard let q = s.first, q == "'" || q == "\"" else { return nil }
        let body = s.dropFirst()
        guard let end = body.firstIndex(of: q) else { return nil }
        return String(body[..<end])
    }

    // MARK: writing

    /// The array encoded as `.npy` (version 1.0) bytes.
    public func npyBytes() -> [UInt8] {
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        // numpy has no bfloat16 or float8: those are written as raw void elements of their size
        var header =
            "{'descr': '\(dtype.npyDescr ?? "|V\(dtype.size)")', 'fortran_order': False, 'shape': \(shapeText), }"
        // magic(6) + version(2) + length(2) + header + '\n', padded to a multiple of 64
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var out: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0]
        let length = header.utf8.count
        out += [UInt8(length & 0xFF), UInt8(length >> 8)]
        out += Array(header.utf8)
        out += data
        return out
    }

    /// Writes the array as a `.npy` file, atomically (temporary file + rename).
    public func write(to url: URL) throws {
        do {
            try Data(npyBytes()).write(to: url, options: .atomic)
        } catch {
            throw ArrayFileError(path: url.path, reason: "cannot write file (\(error.localizedDescription))")
        }
    }
}

extension Float {
    /// Widens IEEE half-precision bits to Float.
    @inlinable
    public init(halfBits: UInt16) {
        #if arch(x86_64) || arch(arm64)
            self = Float(Float16(bitPattern: halfBits))
        #else
            let sign = UInt32(halfBits & 0x8000) << 16
            var exponent = Int((halfBits >> 10) & 0x1F)
            var mantissa = UInt32(halfBits & 0x3FF)
            if exponent == 0x1F {
                self = Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
            } else if exponent == 0 {
                if mantissa == 0 { self = Float(bitPattern: sign); return }
                while mantissa & 0x400 == 0 { mantissa <<= 1; exponent -= 1 }
                mantissa &= 0x3FF
                self = Float(bitPattern: sign | UInt32(exponent + 113) << 23 | (mantissa << 13))
            } else {
                self = Float(bitPattern: sign | UInt32(exponent + 112) << 23 | (mantissa << 13))
            }
        #endif
    }
}
