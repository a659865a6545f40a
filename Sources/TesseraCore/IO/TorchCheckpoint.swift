import Foundation

/// Reads PyTorch checkpoints written by `torch.save` (the zip format of PyTorch ≥ 1.6:
/// `pytorch_model.bin`, `.pt`, `.pth`) without running any Python: a restricted unpickler
/// that only builds containers, numbers, strings and tensors — like
/// `torch.load(weights_only=True)` — so a hostile file cannot execute anything; it fails with
/// an error naming the file.
///
/// The state dict is returned as an in-memory safetensors file (dtypes kept; views and
/// non-contiguous tensors copied out contiguously), so the rest of Tessera sees one format.
/// Nested dictionaries (`{"model": {...}}`, `{"state_dict": {...}}`) are flattened with dots.
public enum TorchCheckpoint {
    /// Largest `data.pkl` accepted (state-dict pickles are small; tensors live in other entries).
    public static let maxPickleSize = 256 << 20

    /// Reads the state dict of a `torch.save` zip checkpoint.
    ///
    /// The file is memory-mapped while it is read; the tensors are copied into the returned file.
    /// - Parameter url: A `pytorch_model.bin`, `.pt` or `.pth` file.
    /// - Returns: The state dict as an in-memory safetensors file named after `url`, dtypes kept and nested
    ///   dictionaries flattened with dots.
    /// - Throws: ``SafeTensorsError`` naming the file when it cannot be mapped, is not a zip checkpoint (a
    ///   legacy pre-1.6 pickle included) or the zip is corrupt, is big-endian, holds no tensors, has a
    ///   `data.pkl` above ``maxPickleSize`` or one that refers to anything but tensors and plain
    ///   containers, or has a tensor whose storage is missing or too short for its shape and strides.
    public static func read(_ url: URL) throws -> SafeTensorsFile {
        let mapping = try MappedBytes(path: url.path)
        return try withExtendedLifetime(mapping) { try read(bytes: mapping.bytes, path: url.path) }
    }

    static func read(bytes: UnsafeRawBufferPointer, path: String) throws -> SafeTensorsFile {
        func fail(_ reason: String) -> SafeTensorsError { SafeTensorsError(path: path, reason: reason) }
        guard bytes.count >= 4, bytes.load(as: UInt32.self) == 0x04034b50 else {
            if bytes.count >= 2, bytes[0] == 0x80 {
                throw fail(
                    "a legacy (pre-1.6) torch.save file; re-save it with a current PyTorch or convert it to safetensors"
                )
            }
            throw fail("not a PyTorch zip checkpoint")
        }
        let archive = try ZipDirectory(bytes: bytes, path: path)
        guard
            let pickleName = archive.entries.keys.filter({
                $0.hasSuffix("data.pkl") && $0.split(separator: "/").count == 2
            }).sorted().first
        else {
            throw fail("no <archive>/data.pkl entry: not a torch.save checkpoint")
        }
        let prefix = String(pickleName.dropLast("data.pkl".count))
        if let order = archive.entries[prefix + "byteorder"],
            String(decoding: try archive.data(order), as: UTF8.self) != "little"
        {
            throw fail("big-endian checkpoints are not supported")
        }
        let pickle = try archive.data(archive.entries[pickleName]!)
        guard pickle.count <= maxPickleSize else {
            throw fail("data.pkl is \(pickle.count) bytes, above the \(maxPickleSize)-byte limit")
        }
        var machine = Unpickler(bytes: pickle, path: path)
        let root = try machine.run()

        var tensors: [(String, TensorRef)] = []
        func collect(_ value: PickleValue, _ name: String) throws {
            switch value {
            case .dict(let pairs, _):
                for (key, v) in pairs {
                    let k: String
                    switch key {
                    case .string(let s): k = s
                    case .int(let i): k = String(i)
                    default: throw fail("dictionary key \(key) at '\(name)' is not a string")
                    }
                    try collect(v, name.isEmpty ? k : name + "." + k)
                }
            case .tensor(let t): tensors.append((name, t))
            default: break  // numbers, strings, optimizer state: not weights
            }
        }
        try collect(root, "")
        guard !tensors.isEmpty else { throw fail("no tensors in the checkpoint") }

        var payloads: [(String, SafeTensorsWriter.Payload)] = []
        for (name, t) in tensors {
            guard let entry = archive.entries[prefix + "data/" + t.storage.key] else {
                throw fail("tensor '\(name)': storage \(t.storage.key) missing")
            }
            let storage = try archive.data(entry)
            let size = t.storage.dtype.size
            guard t.storage.count <= storage.count / size else {
                throw fail("tensor '\(name)': storage \(t.storage.key) is truncated")
            }
            guard t.shape.count == t.stride.count, t.shape.allSatisfy({ $0 >= 0 }), t.stride.allSatisfy({ $0 >= 0 }),
                t.offset >= 0
            else {
                throw fail("tensor '\(name)': bad shape \(t.shape) / stride \(t.stride)")
            }
            var count = 1
            for d in t.shape {
                let (p, o) = count.multipliedReportingOverflow(by: d)
                guard !o, p <= 1 << 40 else { throw fail("tensor '\(name)': shape \(t.shape) is too large") }
                count = p
            }
            // The last element read, with overflow-checked arithmetic (shapes come from the file).
            var last = t.offset
            for (d, s) in zip(t.shape, t.stride) where d > 0 {
                let (step, o1) = (d - 1).multipliedReportingOverflow(by: s)
                let (next, o2) = last.addingReportingOverflow(step)
                guard !o1, !o2 else { throw fail("tensor '\(name)': strides \(t.stride) overflow") }
                last = next
            }
            guard t.offset <= t.storage.count, count == 0 || last < t.storage.count else {
                throw fail("tensor '\(name)' reads past its storage")
            }
            // Gather element by element in row-major order (a plain copy when contiguous).
            var out = [UInt8](repeating: 0, count: count * size)
            let contiguous = t.stride == contiguousStrides(t.shape)
            storage.withUnsafeBytes { src in
                out.withUnsafeMutableBytes { dst in
                    if contiguous {
                        dst.copyMemory(
                            from: UnsafeRawBufferPointer(rebasing: src[(t.offset * size)..<((t.offset + count) * size)])
                        )
                        return
                    }
                    var index = [Int](repeating: 0, count: t.shape.count)
                    for i in 0..<count {
                        var element = t.offset
                        for (k, v) in index.enumerated() { element += v * t.stride[k] }
                        (dst.baseAddress! + i * size).copyMemory(
                            from: src.baseAddress! + element * size, byteCount: size)
                        var axis = t.shape.count - 1
                        while axis >= 0 {
                            index[axis] += 1
                            if index[axis] < t.shape[axis] { break }
                            index[axis] = 0
                            axis -= 1
                        }
                    }
                }
            }
            payloads.append((name, .raw(out, shape: t.shape, t.storage.dtype)))
        }
        do {
            return try SafeTensorsFile(bytes: SafeTensorsWriter.serialize(payloads), path: path)
        } catch let e as SafeTensorsError {
            throw fail(e.reason)
        }
    }

    static func contiguousStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        for i in stride(from: shape.count - 2, through: 0, by: -1) {
            strides[i] = strides[i + 1] * max(1, shape[i + 1])
        }
        return strides
    }
}

// MARK: - Zip (stored entries, zip64)

/// The central directory of a zip archive whose entries torch.save stores uncompressed.
struct ZipDirectory {
    struct Entry { var offset: Int; var size: Int; var method: Int; var name: String }
    let bytes: UnsafeRawBufferPointer
    let path: String
    var entries: [String: Entry] = [:]

    init(bytes: UnsafeRawBufferPointer, path: String) throws {
        self.bytes = bytes
        self.path = path
        func fail(_ reason: String) -> SafeTensorsError { SafeTensorsError(path: path, reason: "zip: " + reason) }
        func u16(_ o: Int) -> Int { Int(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: o, as: UInt16.self))) }
        func u32(_ o: Int) -> Int { Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: o, as: UInt32.self))) }
        func u64(_ o: Int) -> Int {
            Int(truncatingIfNeeded: UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: o, as: UInt64.self)))
        }
        let n = bytes.count
        // End of central directory: the last 22 + up to 65535 comment bytes.
        var eocd = -1
        var p = n - 22
        while p >= max(0, n - 22 - 65535) {
            if u32(p) == 0x06054b50 { eocd = p; break }
            p -= 1
        }
        guard eocd >= 0 else { throw fail("no end-of-central-directory record (truncated file?)") }
        var count = u16(eocd + 10), dirOffset = u32(eocd + 16), dirSize = u32(eocd + 12)
        if count == 0xFFFF || dirOffset == 0xFFFF_FFFF, eocd >= 20, u32(eocd - 20) == 0x07064b50 {
            let record = u64(eocd - 20 + 8)
            guard record >= 0, record <= n - 56, u32(record) == 0x06064b50 else { throw fail("bad zip64 end record") }
            count = u64(record + 32); dirSize = u64(record + 40); dirOffset = u64(record + 48)
        }
        guard dirOffset >= 0, dirSize >= 0, dirOffset <= n, dirSize <= n - dirOffset, count >= 0,
            count <= dirSize / 46 + 1
        else {
            throw fail("central directory lies outside the file")
        }
        var q = dirOffset
        for _ in 0..<count {
            guard q + 46 <= n, u32(q) == 0x02014b50 else { throw fail("corrupt central directory entry at byte \(q)") }
            let method = u16(q + 10)
            var size = u32(q + 20), local = u32(q + 42)
            let nameLength = u16(q + 28), extraLength = u16(q + 30), commentLength = u16(q + 32)
            guard q + 46 + nameLength + extraLength + commentLength <= n else {
                throw fail("central directory entry runs past the file")
            }
            let name = String(
                decoding: UnsafeRawBufferPointer(rebasing: bytes[(q + 46)..<(q + 46 + nameLength)]), as: UTF8.self)
            // zip64 extra field: sizes and offset that did not fit 32 bits, in this order.
            var e = q + 46 + nameLength
            let extraEnd = e + extraLength
            while e + 4 <= extraEnd {
                let id = u16(e), length = u16(e + 2)
                guard e + 4 + length <= extraEnd else { throw fail("entry \(name): extra field runs past its end") }
                if id == 0x0001 {
                    var f = e + 4
                    if u32(q + 24) == 0xFFFF_FFFF, f + 8 <= e + 4 + length { f += 8 }  // uncompressed size
                    if size == 0xFFFF_FFFF, f + 8 <= e + 4 + length { size = u64(f); f += 8 }
                    if local == 0xFFFF_FFFF, f + 8 <= e + 4 + length { local = u64(f) }
                }
                e += 4 + length
            }
            guard local >= 0, local <= n - 30, u32(local) == 0x04034b50 else {
                throw fail("entry \(name): bad local header")
            }
            let start = local + 30 + u16(local + 26) + u16(local + 28)
            guard size >= 0, start <= n, size <= n - start else {
                throw fail("entry \(name) runs past the end of the file (truncated?)")
            }
            entries[name] = Entry(offset: start, size: size, method: method, name: name)
            q += 46 + nameLength + extraLength + commentLength
        }
    }

    func data(_ entry: Entry) throws -> [UInt8] {
        guard entry.method == 0 else {
            throw SafeTensorsError(
                path: path,
                reason:
                    "zip entry \(entry.name) is compressed (method \(entry.method)); torch.save stores entries "
                    + "uncompressed"
            )
        }
        return [UInt8](UnsafeRawBufferPointer(rebasing: bytes[entry.offset..<(entry.offset + entry.size)]))
    }
}

// MARK: - Restricted unpickler

struct StorageRef { var dtype: DType; var key: String; var count: Int }
struct TensorRef { var storage: StorageRef; var offset: Int; var shape: [Int]; var stride: [Int] }

indirect enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case bytes([UInt8])
    /// Containers carry their nesting depth, so hostile nesting is refused before it can
    /// overflow the stack.
    case tuple([PickleValue], depth: Int)
    case list([PickleValue], depth: Int)
    case dict([(PickleValue, PickleValue)], depth: Int)
    case global(String)  // "module.name", only allowlisted ones
    case storageType(DType)
    case storage(StorageRef)
    case tensor(TensorRef)
    case mark

    var depth: Int {
        switch self {
        case .tuple(_, let d), .list(_, let d), .dict(_, let d): return d
        default: return 0
        }
    }
}

/// The pickle opcodes torch.save emits (protocols 2–5), building plain values only.
struct Unpickler {
    let bytes: [UInt8]
    let path: String
    var position = 0
    var stack: [PickleValue] = []
    var memo: [Int: PickleValue] = [:]

    init(bytes: [UInt8], path: String) { self.bytes = bytes; self.path = path }

    static let storageTypes: [String: DType] = [
        "FloatStorage": .float32, "HalfStorage": .float16, "BFloat16Storage": .bfloat16, "DoubleStorage": .float64,
        "LongStorage": .int64, "IntStorage": .int32, "ShortStorage": .int16, "CharStorage": .int8,
        "ByteStorage": .uint8,
        "BoolStorage": .bool,
    ]
    static let callables: Set<String> = [
        "collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter",
        "torch._utils._rebuild_parameter_with_state", "torch._tensor._rebuild_from_type_v2", "torch.Tensor",
        "torch.nn.parameter.Parameter",
        "builtins.set", "builtins.frozenset", "_codecs.encode",
        // Training checkpoints' other entries (LlamaGen's `args`; metrics as numpy scalars): never
        // called, read as nothing, so the weights beside them load.
        "argparse.Namespace", "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar", "numpy.dtype",
    ]

    func fail(_ reason: String) -> SafeTensorsError { SafeTensorsError(path: path, reason: "data.pkl: \(reason)") }

    mutating func take(_ n: Int) throws -> ArraySlice<UInt8> {
        guard n >= 0, position + n <= bytes.count else { throw fail("truncated at byte \(position)") }
        defer { position += n }
        return bytes[position..<(position + n)]
    }
    mutating func uint(_ n: Int) throws -> Int { try take(n).reversed().reduce(0) { $0 << 8 | Int($1) } }
    mutating func pop() throws -> PickleValue {
        guard let v = stack.popLast() else { throw fail("stack underflow at byte \(position)") }
        return v
    }
    mutating func popMark() throws -> [PickleValue] {
        guard
            let m = stack.lastIndex(where: {
                if case .mark = $0 { return true }; return false
            })
        else { throw fail("no MARK at byte \(position)") }
        let items = Array(stack[(m + 1)...])
        stack.removeSubrange(m...)
        return items
    }
    mutating func string(_ n: Int) throws -> String {
        guard n <= 1 << 30 else { throw fail("string of \(n) bytes") }
        return String(decoding: try take(n), as: UTF8.self)
    }

    mutating func run() throws -> PickleValue {
        var steps = 0
        while true {
            steps += 1
            guard steps < 50_000_000 else { throw fail("too many opcodes") }
            let op = try take(1).first!
            switch op {
            case 0x80: _ = try take(1)  // PROTO
            case 0x95: _ = try take(8)  // FRAME
            case 0x2E: return try pop()  // STOP
            case 0x28: stack.append(.mark)  // MARK
            case 0x7D: stack.append(.dict([], depth: 1))  // EMPTY_DICT
            case 0x5D: stack.append(.list([], depth: 1))  // EMPTY_LIST
            case 0x29: stack.append(.tuple([], depth: 1))  // EMPTY_TUPLE
            case 0x4E: stack.append(.none)  // NONE
            case 0x88: stack.append(.bool(true))
            case 0x89: stack.append(.bool(false))
            case 0x4B: stack.append(.int(try uint(1)))  // BININT1
            case 0x4D: stack.append(.int(try uint(2)))  // BININT2
            case 0x4A: stack.append(.int(Int(Int32(truncatingIfNeeded: try uint(4)))))  // BININT
            case 0x8A:  // LONG1
                let n = try uint(1)
                guard n <= 8 else { throw fail("integer of \(n) bytes") }
                let raw = try take(n)
                var v = raw.reversed().reduce(0) { $0 << 8 | Int($1) }
                if n > 0 && n < 8 && raw.last! & 0x80 != 0 { v -= 1 << (8 * n) }
                stack.append(.int(v))
            case 0x47:  // BINFLOAT (big-endian)
                stack.append(.float(Double(bitPattern: UInt64(try take(8).reduce(0) { $0 << 8 | UInt64($1) }))))
            case 0x58: stack.append(.string(try string(try uint(4))))  // BINUNICODE
            case 0x8C: stack.append(.string(try string(try uint(1))))  // SHORT_BINUNICODE
            case 0x8D: stack.append(.string(try string(try uint(8))))  // BINUNICODE8
            case 0x43: stack.append(.bytes(Array(try take(try uint(1)))))  // SHORT_BINBYTES
            case 0x42: stack.append(.bytes(Array(try take(try uint(4)))))  // BINBYTES
            case 0x71: memo[try uint(1)] = stack.last  // BINPUT
            case 0x72: memo[try uint(4)] = stack.last  // LONG_BINPUT
            case 0x94: memo[memo.count] = stack.last  // MEMOIZE
            case 0x68, 0x6A:  // BINGET, LONG_BINGET
                let k = try uint(op == 0x68 ? 1 : 4)
                guard let v = memo[k] else { throw fail("memo \(k) is unset") }
                stack.append(v)
            case 0x74: stack.append(try tuple(try popMark()))  // TUPLE
            case 0x85: stack.append(try tuple([try pop()]))  // TUPLE1
            case 0x86: let b = try pop(), a = try pop(); stack.append(try tuple([a, b]))
            case 0x87: let c = try pop(), b = try pop(), a = try pop(); stack.append(try tuple([a, b, c]))
            case 0x6C: let items = try popMark(); stack.append(.list(items, depth: try nested(items)))  // LIST
            case 0x64:  // DICT
                let items = try popMark()
                guard items.count % 2 == 0 else { throw fail("odd DICT") }
                stack.append(
                    .dict(
                        stride(from: 0, to: items.count, by: 2).map { (items[$0], items[$0 + 1]) },
                        depth: try nested(items)))
            case 0x61:  // APPEND
                let v = try pop()
                guard case .list(var l, let d) = try pop() else { throw fail("APPEND to a non-list") }
                l.append(v); stack.append(.list(l, depth: max(d, try nested([v]))))
            case 0x65:  // APPENDS
                let items = try popMark()
                guard case .list(var l, let d) = try pop() else { throw fail("APPENDS to a non-list") }
                l += items; stack.append(.list(l, depth: max(d, try nested(items))))
            case 0x73:  // SETITEM
                let v = try pop(), k = try pop()
                guard case .dict(var d, let depth) = try pop() else { throw fail("SETITEM on a non-dict") }
                d.append((k, v)); stack.append(.dict(d, depth: max(depth, try nested([k, v]))))
            case 0x75:  // SETITEMS
                let items = try popMark()
                guard items.count % 2 == 0, case .dict(var d, let depth) = try pop() else { throw fail("bad SETITEMS") }
                for i in stride(from: 0, to: items.count, by: 2) { d.append((items[i], items[i + 1])) }
                stack.append(.dict(d, depth: max(depth, try nested(items))))
            case 0x63:  // GLOBAL "module\nname\n"
                let module = try line(), name = try line()
                stack.append(try global(module, name))
            case 0x93:  // STACK_GLOBAL
                guard case .string(let name) = try pop(), case .string(let module) = try pop() else {
                    throw fail("bad STACK_GLOBAL")
                }
                stack.append(try global(module, name))
            case 0x51:  // BINPERSID
                stack.append(try persistent(try pop()))
            case 0x52:  // REDUCE
                let args = try pop(), callable = try pop()
                stack.append(try reduce(callable, args))
            case 0x81:  // NEWOBJ
                let args = try pop(), cls = try pop()
                stack.append(try reduce(cls, args))
            case 0x62:  // BUILD: state of tensors/dicts is not weights
                _ = try pop()
            default:
                throw fail(String(format: "unsupported pickle opcode 0x%02x at byte %d", op, position - 1))
            }
            guard stack.count < 10_000_000 else { throw fail("stack too deep") }
        }
    }

    /// Depth of a container holding `items`; refuses nesting deeper than any state dict needs.
    func nested(_ items: [PickleValue]) throws -> Int {
        let d = 1 + (items.map(\.depth).max() ?? 0)
        guard d <= 64 else { throw fail("containers nested more than 64 deep") }
        return d
    }

    func tuple(_ items: [PickleValue]) throws -> PickleValue { .tuple(items, depth: try nested(items)) }

    mutating func line() throws -> String {
        guard let end = bytes[position...].firstIndex(of: 0x0A), end - position < 256 else { throw fail("bad GLOBAL") }
        defer { position = end + 1 }
        return String(decoding: bytes[position..<end], as: UTF8.self)
    }

    func global(_ module: String, _ name: String) throws -> PickleValue {
        if module == "torch", let dtype = Self.storageTypes[name] { return .storageType(dtype) }
        let full = module + "." + name
        guard Self.callables.contains(full) else {
            throw fail("refusing to load '\(full)': only tensors and plain containers are read from checkpoints")
        }
        return .global(full)
    }

    func persistent(_ pid: PickleValue) throws -> PickleValue {
        guard case .tuple(let t, _) = pid, t.count >= 5, case .string("storage") = t[0],
            case .storageType(let dtype) = t[1],
            case .string(let key) = t[2], case .int(let count) = t[4], count >= 0
        else {
            throw fail("unsupported persistent id \(pid)")
        }
        guard !key.contains("/"), !key.contains("..") else { throw fail("bad storage key \(key)") }
        return .storage(StorageRef(dtype: dtype, key: key, count: count))
    }

    func ints(_ v: PickleValue) throws -> [Int] {
        guard case .tuple(let items, _) = v else { throw fail("expected a tuple of ints, got \(v)") }
        return try items.map {
            guard case .int(let i) = $0 else { throw fail("expected an int, got \($0)") }; return i
        }
    }

    func reduce(_ callable: PickleValue, _ args: PickleValue) throws -> PickleValue {
        guard case .global(let name) = callable, case .tuple(let a, _) = args else {
            throw fail("cannot call \(callable)")
        }
        switch name {
        case "collections.OrderedDict":
            return .dict([], depth: 1)
        case "torch._utils._rebuild_tensor_v2":
            guard a.count >= 4, case .storage(let s) = a[0], case .int(let offset) = a[1] else {
                throw fail("bad _rebuild_tensor_v2 arguments")
            }
            return .tensor(TensorRef(storage: s, offset: offset, shape: try ints(a[2]), stride: try ints(a[3])))
        case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state":
            guard let t = a.first, case .tensor = t else { throw fail("bad _rebuild_parameter arguments") }
            return t
        case "torch._tensor._rebuild_from_type_v2":
            guard a.count >= 3, case .tuple = a[2] else { throw fail("bad _rebuild_from_type_v2 arguments") }
            return try reduce(a[0], a[2])
        default:
            return .none  // sets, encoded bytes, subclasses: not weights
        }
    }
}
