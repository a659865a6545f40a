#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Pointwise activation functions, with PyTorch's definitions.
public enum Activation: String, Sendable, CaseIterable {
    /// Exact GELU: x · Φ(x) with erf (`nn.GELU()`).
    case gelu
    /// Tanh-approximated GELU (`nn.GELU(approximate="tanh")`, HF `gelu_pytorch_tanh`).
    case geluTanh
    /// x · sigmoid(1.702 x) (OpenAI CLIP).
    case quickGelu
    /// x · sigmoid(x) (`nn.SiLU`, "swish").
    case silu
    /// `max(0, x)`, `tanh(x)`, `1 / (1 + e^−x)` and `x` unchanged.
    case relu, tanh, sigmoid, identity

    /// Reads the activation names used in Hugging Face / timm configs.
    public init?(configName: String) {
        switch configName.lowercased() {
        case "gelu", "gelu_exact": self = .gelu
        case "gelu_pytorch_tanh", "gelu_new", "gelu_tanh", "gelu_fast": self = .geluTanh
        case "quick_gelu", "quickgelu": self = .quickGelu
        case "silu", "swish": self = .silu
        case "relu": self = .relu
        case "tanh": self = .tanh
        case "sigmoid": self = .sigmoid
        case "identity", "linear": self = .identity
        default: return nil
        }
    }

    /// The activation of one value.
    @inline(__always)
    public func apply(_ x: Float) -> Float {
        switch self {
        case .gelu: return 0.5 * x * (1 + erff(x * 0.70710678118654752440))
        case .geluTanh:
            let inner = 0.79788456080286535588 * (x + 0.044715 * x * x * x)
            return 0.5 * x * (1 + tanhf(inner))
        case .quickGelu: return x / (1 + expf(-1.702 * x))
        case .silu: return x / (1 + expf(-x))
        case .relu: return max(0, x)
        case .tanh: return tanhf(x)
        case .sigmoid: return 1 / (1 + expf(-x))
        case .identity: return x
        }
    }
}

extension Tensor {
    /// Applies an activation to every element.
    public func activated(_ activation: Activation) -> Tensor {
        var out = self
        out.activate(activation)
        return out
    }

    /// Applies an activation in place (vectorized for the GELU/SiLU family).
    public mutating func activate(_ activation: Activation) {
        guard activation != .identity else { return }
        scalars.withUnsafeMutableBufferPointer { buf in
            let p = UncheckedSendable(buf.baseAddress!)
            let chunks = (buf.count + 4095) / 4096
            parallelChunks(chunks, minChunk: 4) { range in
                let start = range.lowerBound * 4096, end = min(buf.count, range.upperBound * 4096)
                applyActivation(activation, p.value + start, end - start)
            }
        }
    }

    /// Elementwise combination with numpy broadcasting.
    public func broadcasting(_ other: Tensor, _ op: (Float, Float) -> Float) -> Tensor {
        if shape == other.shape {
            var out = self
            out.scalars.withUnsafeMutableBufferPointer { a in
                other.scalars.withUnsafeBufferPointer { b in
                    for i in 0..<a.count { a[i] = op(a[i], b[i]) }
                }
            }
            return out
        }
        let target = broadcastShapes(shape, other.shape)
        let sa = broadcastStrides(shape, to: target), sb = broadcastStrides(other.shape, to: target)
        let n = target.reduce(1, *)
        var out = [Float](repeating: 0, count: n)
        // Iterate over the target with the innermost axis in a tight loop.
        let inner = target.last ?? 1
        let ia = sa.last ?? 0, ib = sb.last ?? 0
        let outerShape = Array(target.dropLast())
        let outerA = Array(sa.dropLast()), outerB = Array(sb.dropLast())
        scalars.withUnsafeBufferPointer { a in
            other.scalars.withUnsafeBufferPointer { b in
                out.withUnsafeMutableBufferPointer { o in
                    for outer in 0..<(n / max(1, inner)) {
                        let oa = batchOffset(outer, outerShape, outerA), ob = batchOffset(outer, outerShape, outerB)
                        for j in 0..<inner { o[outer * inner + j] = op(a[oa + j * ia], b[ob + j * ib]) }
                    }
                }
            }
        }
        return Tensor(shape: target, scalars: out)
    }

    /// Elementwise sum with numpy broadcasting.
    /// - Precondition: The shapes broadcast against each other.
    public static func + (a: Tensor, b: Tensor) -> Tensor { a.broadcasting(b, +) }
    /// Elementwise difference with numpy broadcasting.
    /// - Precondition: The shapes broadcast against each other.
    public static func - (a: Tensor, b: Tensor) -> Tensor { a.broadcasting(b, -) }
    /// Elementwise product with numpy broadcasting.
    /// - Precondition: The shapes broadcast against each other.
    public static func * (a: Tensor, b: Tensor) -> Tensor { a.broadcasting(b, *) }
    /// Elementwise quotient with numpy broadcasting (IEEE division: `x / 0` is ±inf or NaN).
    /// - Precondition: The shapes broadcast against each other.
    public static func / (a: Tensor, b: Tensor) -> Tensor { a.broadcasting(b, /) }

    /// Every element combined with a scalar.
    public func map(_ f: (Float) -> Float) -> Tensor {
        Tensor(shape: shape, scalars: scalars.map(f))
    }

    /// Every element multiplied by `s`.
    public static func * (a: Tensor, s: Float) -> Tensor { a.map { $0 * s } }
    /// Every element plus `s`.
    public static func + (a: Tensor, s: Float) -> Tensor { a.map { $0 + s } }

    /// Adds `other` (same shape) in place.
    public mutating func add(_ other: Tensor) {
        precondition(shape == other.shape, "add: \(shape) vs \(other.shape)")
        scalars.withUnsafeMutableBufferPointer { a in
            other.scalars.withUnsafeBufferPointer { b in
                for i in 0..<a.count { a[i] += b[i] }
            }
        }
    }
}

extension Tensor {
    /// `activation(x[..., :H]) · x[..., H:]` for `[..., 2H]` → `[..., H]`: a gated linear unit from one
    /// projection whose halves are the gate and the value (SwiGLU with `.silu`: one GEMM for both
    /// halves, one pass over its output).
    public func gatedLinearUnit(_ activation: Activation) -> Tensor {
        precondition(rank >= 1 && shape[rank - 1] % 2 == 0, "gatedLinearUnit needs an even last axis, got \(shape)")
        let h = shape[rank - 1] / 2, rows = h == 0 ? 0 : count / (2 * h)
        let out = [Float](unsafeUninitializedCapacity: rows * h) { dst, initialized in
            scalars.withUnsafeBufferPointer { src in
                let p = UncheckedSendable((src.baseAddress, dst.baseAddress))
                parallelChunks(rows, minChunk: 8) { range in
                    guard let s = p.value.0, let d = p.value.1 else { return }
                    for r in range {
                        let gate = d + r * h, value = s + (2 * r + 1) * h
                        gate.update(from: s + 2 * r * h, count: h)
                        applyActivation(activation, gate, h)
                        for j in 0..<h { gate[j] *= value[j] }
                    }
                }
            }
            initialized = rows * h
        }
        return Tensor(shape: Array(shape.dropLast()) + [h], scalars: out)
    }
}

/// Applies an activation to `count` floats in place (vectorized for the GELU/SiLU family).
@inline(__always)
func applyActivation(_ activation: Activation, _ q: UnsafeMutablePointer<Float>, _ n: Int) {
    switch activation {
    case .identity: break
    case .gelu: mapVectorized(q, n) { x in 0.5 * x * (1 + verf(x * 0.70710678118654752440)) }
    case .quickGelu: mapVectorized(q, n) { x in x / (1 + vexp(-1.702 * x)) }
    case .silu: mapVectorized(q, n) { x in x / (1 + vexp(-x)) }
    case .sigmoid: mapVectorized(q, n) { x in 1 / (1 + vexp(-x)) }
    default: for i in 0..<n { q[i] = activation.apply(q[i]) }
    }
}
