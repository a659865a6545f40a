import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One tensor's entry in a safetensors header.
public struct SafeTensorsEntry: Sendable, Equatable {
    /// Element type as declared in the header.
    public var dtype: DType
    /// Extent of each axis, outermost first (`[]` for a scalar).
    public var shape: [Int]
    /// Byte range within the data section (after the header).
    public var offsets: Range<Int>
}

/// A problem with a safetensors file or checkpoint, naming the file.
public struct SafeTensorsError: Error, CustomStringConvertible, Equatable {
    /// The file (or `"<memory>"`) the problem is in.
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

/// A memory-mapped, fully validated safetensors file.
///
/// Validation follows the format's rules: header length within bounds and the file, JSON
/// object header, known dtypes, shapes whose element count does not overflow, offsets
/// inside the data section, `end − begin = numel × size(dtype)`, and entries that cover the
/// data section without holes or overlaps.
public final class SafeTensorsFile: @unchecked Sendable {
    /// The file's path (or the name given to in-memory bytes, `"<memory>"` by default).
    public let path: String
    /// Every tensor in the file, by name (`__metadata__` excluded).
    public let entries: [String: SafeTensorsEntry]
    /// `__metadata__` (string → string), if present.
    public let metadata: [String: String]
    /// Names in file order (by data offset).
    public let names: [String]
    private let mapping: MappedBytes
    private let dataStart: Int

    /// Largest header accepted (the format's own limit).
    public static let maxHeaderSize = 100_000_000

    /// Opens and validates a file; tensor data is read lazily from the mapping.
    public convenience init(url: URL) throws {
        try self.init(mapping: try MappedBytes(path: url.path), path: url.path)
    }

    /// Parses safetensors bytes held in memory (for tests and downloads in memory).
    public convenience init(bytes: [UInt8], path: String = "<memory>") throws {
        try self.init(mapping: MappedBytes(bytes: bytes), path: path)
    }

    private init(mapping: MappedBytes, path: String) throws {
        self.path = path
        self.mapping = mapping
        func fail(_ reason: String) -> SafeTensorsError { SafeTensorsError(path: path, reason: reason) }
        let size = mapping.count
        guard size >= 8 else { throw fail("file too short for a safetensors header (\(size) bytes)") }
        let raw = mapping.bytes
        let headerLength = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        guard headerLength <= UInt64(Self.maxHeaderSize) else {
            throw fail("header length \(headerLength) exceeds the \(Self.maxHeaderSize)-byte limit")
        }
        guard Int(headerLength) <= size - 8 else {
            throw fail("header length \(headerLength) runs past the end of the file (\(size) bytes)")
        }
        let headerBytes = Data(UnsafeRawBufferPointer(rebasing: raw[8..<(8 + Int(headerLength))]))
        let header: RawHeader
        do {
            header = try JSONDecoder().decode(RawHeader.self, from: headerBytes)
        } catch let error as SafeTensorsError {
            throw fail(error.reason)
        } catch {
            throw fail("header is not a valid safetensors JSON object (\(Self.describe(error)))")
        }
        dataStart = 8 + Int(headerLength)
        let dataSize = size - dataStart
        var entries: [String: SafeTensorsEntry] = [:]
        for (name, info) in header.entries {
            guard let dtype = DType(safetensorsName: info.dtype) else {
                throw fail("entry '\(name)' has unknown dtype '\(info.dtype)'")
            }
            var count = 1
            for d in info.shape {
                guard d >= 0 else { throw fail("entry '\(name)' has a negative extent in shape \(info.shape)") }
                let (p, overflow) = count.multipliedReportingOverflow(by: d)
                guard !overflow else { throw fail("entry '\(name)': shape \(info.shape) overflows") }
                count = p
            }
            guard info.data_offsets.count == 2 else { throw fail("entry '\(name)' has invalid data_offsets") }
            let begin = info.data_offsets[0], end = info.data_offsets[1]
            guard begin >= 0, end >= begin, end <= dataSize else {
                throw fail(
                    "entry '\(name)': data_offsets [\(begin), \(end)] outside the data section (\(dataSize) bytes)")
            }
            let (bytes, overflow) = count.multipliedReportingOverflow(by: dtype.size)
            guard !overflow, bytes == end - begin else {
                throw fail("entry '\(name)': \(end - begin) bytes for shape \(info.shape) of \(info.dtype)")
            }
            entries[name] = SafeTensorsEntry(dtype: dtype, shape: info.shape, offsets: begin..<end)
        }
        let metadata = header.metadata
        // Entries must tile the data section exactly: no overlap, no hole, nothing trailing.
        let ordered = entries.sorted {
            ($0.value.offsets.lowerBound, $0.value.offsets.upperBound, $0.key) < (
                $1.value.offsets.lowerBound, $1.value.offsets.upperBound, $1.key
            )
        }
        var cursor = 0
        for (name, entry) in ordered {
            if entry.offsets.lowerBound < cursor { throw fail("entry '\(name)' overlaps the previous tensor") }
            if entry.offsets.lowerBound > cursor { throw fail("hole in the data section before entry '\(name)'") }
            cursor = entry.offsets.upperBound
        }
        guard cursor == dataSize else {
            throw fail("data section has \(dataSize - cursor) bytes not covered by any tensor")
        }
        self.entries = entries
        self.metadata = metadata
        self.names = ordered.map(\.key)
    }

    private static func describe(_ error: Error) -> String {
        switch error {
        case DecodingError.dataCorrupted(let c): return c.debugDescription
        case DecodingError.typeMismatch(_, let c), DecodingError.valueNotFound(_, let c):
            return c.codingPath.map(\.stringValue).joined(separator: ".") + ": " + c.debugDescription
        case DecodingError.keyNotFound(let k, let c):
            return (c.codingPath.map(\.stringValue) + [k.stringValue]).joined(separator: ".") + " is missing"
        default: return "\(error)"
        }
    }

    /// The JSON header: tensor entries plus optional `__metadata__`.
    private struct RawHeader: Decodable {
        struct Entry: Decodable {
            var dtype: String
            var shape: [Int]
            var data_offsets: [Int]
        }
        struct Key: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }
        var entries: [String: Entry] = [:]
        var metadata: [String: String] = [:]

        init(from decoder: Decoder) throws {
            let container = try decoder.container(keyedBy: Key.self)
            for key in container.allKeys {
                if key.stringValue == "__metadata__" {
                    metadata = try container.decode([String: String].self, forKey: key)
                } else {
                    entries[key.stringValue] = try container.decode(Entry.self, forKey: key)
                }
            }
        }
    }

    /// The raw little-endian bytes of a tensor.
    public func withUnsafeBytes<R>(of name: String, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        guard let entry = entries[name] else { throw SafeTensorsError(path: path, reason: "no tensor named '\(name)'") }
        let start = dataStart + entry.offsets.lowerBound
        return try body(UnsafeRawBufferPointer(rebasing: mapping.bytes[start..<(dataStart + entry.offsets.upperBound)]))
    }

    /// A tensor converted to Float32 (F16/BF16/F64 and integer types are converted).
    public func tensor(_ name: String) throws -> Tensor {
        guard let entry = entries[name] else { throw SafeTensorsError(path: path, reason: "no tensor named '\(name)'") }
        let n = entry.shape.reduce(1, *)
        var out = [Float](repeating: 0, count: n)
        try withUnsafeBytes(of: name) { raw in
            try out.withUnsafeMutableBufferPointer { dst in
                try convertToFloat(raw, dtype: entry.dtype, into: dst, name: name)
            }
        }
        // The bytes now live in `out`: drop the mapped pages from this process (they stay in the
        // page cache), so binding a checkpoint holds the weights once, not file + copy (2.7 → 1.5 GB
        // for FlexTok d12_d12).
        mapping.release(dataStart + entry.offsets.lowerBound..<dataStart + entry.offsets.upperBound)
        return Tensor(shape: entry.shape, scalars: out)
    }

    /// Integer tensors (I64/I32/…/U8/BOOL) as Int.
    public func integers(_ name: String) throws -> [Int] {
        guard let entry = entries[name] else { throw SafeTensorsError(path: path, reason: "no tensor named '\(name)'") }
        return try withUnsafeBytes(of: name) { raw in
            let n = entry.shape.reduce(1, *)
            switch entry.dtype {
            case .int64:
                return (0..<n).map {
                    Int(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self)))
                }
            case .uint64:
                return (0..<n).map {
                    Int(
                        truncatingIfNeeded: UInt64(
                            littleEndian: raw.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self)))
                }
            case .int32:
                return (0..<n).map {
                    Int(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self)))
                }
            case .uint32:
                return (0..<n).map {
                    Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)))
                }
            case .int16:
                return (0..<n).map {
                    Int(Int16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * $0, as: Int16.self)))
                }
            case .uint16:
                return (0..<n).map {
                    Int(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self)))
                }
            case .int8: return (0..<n).map { Int(Int8(bitPattern: raw[$0])) }
            case .uint8, .bool: return (0..<n).map { Int(raw[$0]) }
            default:
                throw SafeTensorsError(
                    path: path, reason: "tensor '\(name)' is \(entry.dtype.safetensorsName), not an integer type")
            }
        }
    }

    private func convertToFloat(
        _ raw: UnsafeRawBufferPointer, dtype: DType,
        into dst: UnsafeMutableBufferPointer<Float>, name: String
    ) throws {
        let n = dst.count
        switch dtype {
        case .float32:
            if n > 0 { _ = memcpy(dst.baseAddress!, raw.baseAddress!, n * 4) }
        case .float16:
            for i in 0..<n {
                dst[i] = Float(
                    halfBits: UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
            }
        case .bfloat16:
            for i in 0..<n {
                dst[i] = Float(
                    bitPattern: UInt32(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
                        << 16)
            }
        case .float64:
            for i in 0..<n {
                dst[i] = Float(
                    Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))))
            }
        case .float8e4m3, .float8e5m2:
            throw SafeTensorsError(path: path, reason: "tensor '\(name)': \(dtype.safetensorsName) is not supported")
        default:
            let ints = try integers(name)
            for i in 0..<n { dst[i] = Float(ints[i]) }
        }
    }
}

// MARK: - Writing

/// Serializes tensors to the safetensors format.
public enum SafeTensorsWriter {
    /// A tensor to write: Float32 values stored as `dtype` (F32, F16 or BF16), or raw bytes.
    public enum Payload: Sendable {
        /// Float32 values stored as the given dtype: F32 (the default), F16 or BF16 (round to nearest even).
        case float(Tensor, DType = .float32)
        /// Integers in row-major order over `shape`, stored as I64 (the default), I32, U16 or U8; narrower types
        /// keep the low bits.
        case integers([Int], shape: [Int], DType = .int64)
        /// Little-endian element bytes stored as they are.
        case raw([UInt8], shape: [Int], DType)
    }

    /// The file's bytes. Tensors are laid out in the given order.
    public static func serialize(_ tensors: [(String, Payload)], metadata: [String: String] = [:]) throws -> [UInt8] {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var data: [UInt8] = []
        var seen = Set<String>()
        for (name, payload) in tensors {
            guard seen.insert(name).inserted else {
                throw SafeTensorsError(path: "<writer>", reason: "duplicate tensor name '\(name)'")
            }
            let begin = data.count
            let shape: [Int], dtype: DType
            switch payload {
            case .float(let t, let dt):
                shape = t.shape; dtype = dt
                switch dt {
                case .float32: t.scalars.withUnsafeBytes { data += $0 }
                case .float16:
                    for v in t.scalars { let b = Float16(v).bitPattern; data += [UInt8(b & 0xFF), UInt8(b >> 8)] }
                case .bfloat16: for v in t.scalars { let b = bf16Bits(v); data += [UInt8(b & 0xFF), UInt8(b >> 8)] }
                default:
                    throw SafeTensorsError(
                        path: "<writer>",
                        reason: "float tensors are written as F32, F16 or BF16, not \(dt.safetensorsName)")
                }
            case .raw(let bytes, let s, let dt):
                shape = s; dtype = dt
                guard bytes.count == s.reduce(1, *) * dt.size else {
                    throw SafeTensorsError(path: "<writer>", reason: "'\(name)': bytes do not fill shape \(s)")
                }
                data += bytes
            case .integers(let values, let s, let dt):
                shape = s; dtype = dt
                guard values.count == s.reduce(1, *) else {
                    throw SafeTensorsError(path: "<writer>", reason: "'\(name)': values do not fill shape \(s)")
                }
                for v in values {
                    switch dt {
                    case .int64: withUnsafeBytes(of: Int64(v).littleEndian) { data += $0 }
                    case .int32: withUnsafeBytes(of: Int32(truncatingIfNeeded: v).littleEndian) { data += $0 }
                    case .uint16: withUnsafeBytes(of: UInt16(truncatingIfNeeded: v).littleEndian) { data += $0 }
                    case .uint8: data.append(UInt8(truncatingIfNeeded: v))
                    default:
                        throw SafeTensorsError(
                            path: "<writer>", reason: "integer tensors are written as I64, I32, U16 or U8")
                    }
                }
            }
            header[name] =
                ["dtype": dtype.safetensorsName, "shape": shape, "data_offsets": [begin, data.count]] as [String: Any]
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        // Pad with spaces so the data section starts 8-byte aligned.
        while (8 + json.count) % 8 != 0 { json.append(0x20) }
        var out: [UInt8] = []
        out.reserveCapacity(8 + json.count + data.count)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out += $0 }
        out += json
        out += data
        return out
    }

    /// Writes a safetensors file atomically (temporary file + rename).
    public static func write(_ tensors: [(String, Payload)], metadata: [String: String] = [:], to url: URL) throws {
        let bytes = try serialize(tensors, metadata: metadata)
        do {
            try Data(bytes).write(to: url, options: .atomic)
        } catch {
            throw SafeTensorsError(path: url.path, reason: "cannot write (\(error.localizedDescription))")
        }
    }

    /// Round-to-nearest-even Float32 → BF16 bits (as PyTorch's `.to(torch.bfloat16)`).
    static func bf16Bits(_ v: Float) -> UInt16 {
        let bits = v.bitPattern
        if v.isNaN { return UInt16(bits >> 16) | 0x40 }
        let rounded = bits &+ 0x7FFF &+ ((bits >> 16) & 1)
        return UInt16(rounded >> 16)
    }
}

// MARK: - Memory mapping

/// A read-only file mapping (or an owned buffer), unmapped when released.
final class MappedBytes: @unchecked Sendable {
    let bytes: UnsafeRawBufferPointer
    private let unmap: () -> Void

    var count: Int { bytes.count }

    init(path: String) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            let reason = errno == ENOENT ? "no such file" : "cannot open (\(String(cString: strerror(errno))))"
            throw SafeTensorsError(path: path, reason: reason)
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw SafeTensorsError(path: path, reason: "cannot stat") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw SafeTensorsError(path: path, reason: "not a regular file") }
        let size = Int(st.st_size)
        guard size > 0 else {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            unmap = {}
            return
        }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw SafeTensorsError(path: path, reason: "cannot map (\(String(cString: strerror(errno))))")
        }
        bytes = UnsafeRawBufferPointer(start: p, count: size)
        unmap = { munmap(p, size) }
        isFileMapping = true
    }

    /// Whether `bytes` maps a file (pages can be dropped and faulted back in) rather than owned memory.
    private var isFileMapping = false

    /// Drops the whole pages inside `range` from this process's resident set; a later read faults
    /// them back in from the file. A no-op for owned buffers and off Linux.
    func release(_ range: Range<Int>) {
        #if os(Linux)
            guard isFileMapping, let base = bytes.baseAddress, range.lowerBound >= 0, range.upperBound <= count
            else { return }
            let page = Int(sysconf(Int32(_SC_PAGESIZE)))
            let start = (range.lowerBound + page - 1) / page * page, end = range.upperBound / page * page
            guard end > start else { return }
            _ = madvise(UnsafeMutableRawPointer(mutating: base + start), end - start, MADV_DONTNEED)
        #endif
    }

    init(bytes source: [UInt8]) {
        let p = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, source.count), alignment: 16)
        source.withUnsafeBytes { p.copyMemory(from: $0) }
        bytes = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(p)[0..<source.count])
        unmap = { p.deallocate() }
    }

    deinit { unmap() }
}
