// The one seeded random source of the toolkit. Everything stochastic (VAE posterior samples,
// flow-matching noise, random pruning, k-means seeding, benchmark inputs) draws from it, and a
// sample's randomness is a function of (seed, sample identity) only — never of the batch size
// or of the sample's position in a batch.
import Foundation

/// SplitMix64 (Steele, Lea & Flood 2014): small, fast, identical on every platform.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// A generator whose stream is determined by `seed`.
    public init(seed: UInt64) { state = seed }

    /// A generator for one sample: its stream depends on `seed` and `sample` (a key that
    /// identifies the sample, e.g. ``SampleKey/of(_:)-(Tensor)`` of its pixels) and on nothing else.
    public init(seed: UInt64, sample: UInt64) {
        var mixer = SeededRandom(seed: seed ^ 0x5851_F42D_4C95_7F2D)
        state = mixer.next() ^ sample.multipliedFullWidth(by: 0x9E37_79B9_7F4A_7C15).low
    }

    /// The next 64 random bits of the stream (SplitMix64's output function).
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in the open interval (0, 1), 53 random bits.
    public mutating func uniform() -> Double { (Double(next() >> 11) + 0.5) / Double(1 << 53) }

    /// A standard normal sample (Box–Muller; one uniform pair per value, so the stream
    /// position of every value is fixed).
    public mutating func normal() -> Double {
        let u = uniform(), v = uniform()
        return (-2 * Foundation.log(u)).squareRoot() * Foundation.cos(2 * .pi * v)
    }

    /// `count` standard normal values as Float32.
    public mutating func normals(_ count: Int) -> [Float] { (0..<max(0, count)).map { _ in Float(normal()) } }

    /// A tensor of uniform values in `range` (benchmark and test inputs).
    public mutating func uniformTensor(_ shape: [Int], in range: ClosedRange<Float> = -1...1) -> Tensor {
        let scale = Double(range.upperBound - range.lowerBound), low = Double(range.lowerBound)
        return Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in Float(low + scale * uniform()) })
    }
}

/// Keys that identify a sample by its content, so the same image (or token set) gets the same
/// random stream wherever it appears.
public enum SampleKey {
    /// FNV-1a over the tensor's shape and Float32 bit patterns.
    public static func of(_ tensor: Tensor) -> UInt64 {
        var h = fnv(0xCBF2_9CE4_8422_2325, tensor.shape.map { UInt64(bitPattern: Int64($0)) })
        tensor.scalars.withUnsafeBufferPointer { p in
            for v in p { h = (h ^ UInt64(v.bitPattern)) &* 0x0000_0100_0000_01B3 }
        }
        return h
    }

    /// FNV-1a over integer ids and their shape (token sets).
    public static func of(ids: [Int], shape: [Int]) -> UInt64 {
        fnv(
            fnv(0xCBF2_9CE4_8422_2325, shape.map { UInt64(bitPattern: Int64($0)) }),
            ids.map { UInt64(bitPattern: Int64($0)) })
    }

    private static func fnv(_ seed: UInt64, _ words: [UInt64]) -> UInt64 {
        var h = seed
        for w in words { h = (h ^ w) &* 0x0000_0100_0000_01B3 }
        return h
    }
}
