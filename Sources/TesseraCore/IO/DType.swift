/// The element types of every array format Tessera reads and writes (safetensors, `.npy`, `torch.save`
/// storages, LM token shards): one enum, with each format's own name for the type.
public enum DType: String, Sendable, CaseIterable {
    /// IEEE binary32.
    case float32
    /// IEEE binary64.
    case float64
    /// IEEE binary16.
    case float16
    /// bfloat16 (the high half of a binary32).
    case bfloat16
    /// OCP float8 E4M3 (read as NaN: Tessera does not compute in float8).
    case float8e4m3
    /// OCP float8 E5M2 (read as NaN).
    case float8e5m2
    /// Unsigned and signed integers of 8 to 64 bits.
    case uint8, int8, uint16, int16, uint32, int32, uint64, int64
    /// One-byte booleans.
    case bool

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .uint8, .int8, .bool, .float8e4m3, .float8e5m2: return 1
        case .float16, .bfloat16, .uint16, .int16: return 2
        case .float32, .uint32, .int32: return 4
        case .float64, .uint64, .int64: return 8
        }
    }

    /// The safetensors header's name (`F32`, `BF16`, `I64`, …).
    public var safetensorsName: String {
        switch self {
        case .float32: return "F32"
        case .float64: return "F64"
        case .float16: return "F16"
        case .bfloat16: return "BF16"
        case .float8e4m3: return "F8_E4M3"
        case .float8e5m2: return "F8_E5M2"
        case .uint8: return "U8"
        case .int8: return "I8"
        case .uint16: return "U16"
        case .int16: return "I16"
        case .uint32: return "U32"
        case .int32: return "I32"
        case .uint64: return "U64"
        case .int64: return "I64"
        case .bool: return "BOOL"
        }
    }

    /// The type a safetensors header names; nil for names Tessera does not know.
    public init?(safetensorsName: String) {
        guard let match = DType.allCases.first(where: { $0.safetensorsName == safetensorsName }) else { return nil }
        self = match
    }

    /// The numpy `descr` string (little-endian); nil for types numpy has no code for.
    var npyDescr: String? {
        switch self {
        case .float32: return "<f4"
        case .float64: return "<f8"
        case .float16: return "<f2"
        case .uint8: return "|u1"
        case .int8: return "|i1"
        case .uint16: return "<u2"
        case .int16: return "<i2"
        case .uint32: return "<u4"
        case .int32: return "<i4"
        case .uint64: return "<u8"
        case .int64: return "<i8"
        case .bool: return "|b1"
        case .bfloat16, .float8e4m3, .float8e5m2: return nil
        }
    }

    /// The type of a numpy `descr` (`<f4`, `|u1`, `=i8`, …); nil for others.
    init?(npyDescr: String) {
        var d = npyDescr
        if d.first == "=" { d = "<" + d.dropFirst() }
        guard
            let match = DType.allCases.first(where: { type in
                guard let code = type.npyDescr else { return false }
                return code == d || (type.size == 1 && code.dropFirst() == d.dropFirst())
            })
        else { return nil }
        self = match
    }
}

/// The element types of safetensors files: since v2 the one ``DType``.
@available(*, deprecated, renamed: "DType")
public typealias SafeTensorsDType = DType
