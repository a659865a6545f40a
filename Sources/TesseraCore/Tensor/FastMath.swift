// Vectorized transcendental functions for the activation and softmax hot loops; libm's scalar
// expf/erff would dominate those loops. Accuracy: exp within a few ulp (degree-7 polynomial
// after range reduction); erf is the Abramowitz–Stegun 7.1.26 form that PyTorch's vectorized
// CPU erf also uses (|error| ≤ 1.5e-7). 8 lanes: wider Swift SIMD types spill registers on
// baseline x86-64 and run several times slower.

/// The vector type of the hot loops.
public typealias FloatVector = SIMD8<Float>
/// e^x for each lane; 0 below −87.3, clamped (finite) above 88.7.
@_transparent
public func vexp(_ x: FloatVector) -> FloatVector {
    var clamped = x.replacing(with: 88.72283, where: x .> 88.72283)
    clamped = clamped.replacing(with: -87.33654, where: clamped .< -87.33654)
    let magic = FloatVector(repeating: 12_582_912)
    let shifted = clamped * 1.442695040888963 + magic
    let n = shifted - magic
    var r = clamped - n * 0.693145751953125
    r = r - n * 1.428606765330187e-06
    var p = FloatVector(repeating: 1.0 / 5040)
    p = p * r + 1.0 / 720
    p = p * r + 1.0 / 120
    p = p * r + 1.0 / 24
    p = p * r + 1.0 / 6
    p = p * r + 0.5
    p = p * r + 1
    p = p * r + 1
    let bits = (unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- 0x4B40_0000 &+ 127) &<< 23
    // Exactly 0 below the clamp (masked attention scores are −∞): the clamped value would be a
    // denormal, and denormals make every later multiply-add on the row (softmax scaling, the
    // probabilities × V GEMM) many times slower on x86.
    return (p * unsafeBitCast(bits, to: FloatVector.self)).replacing(with: 0, where: x .< -87.33654)
}
/// erf(x) for each lane (sign handled by copying the sign bit).
@inlinable @inline(__always)
public func verf(_ x: FloatVector) -> FloatVector {
    let signBits = unsafeBitCast(x, to: SIMD8<UInt32>.self) & 0x8000_0000
    let ax = unsafeBitCast(unsafeBitCast(x, to: SIMD8<UInt32>.self) & 0x7FFF_FFFF, to: FloatVector.self)
    let t = 1 / (1 + 0.3275911 * ax)
    var poly = FloatVector(repeating: 1.061405429)
    poly = poly * t - 1.453152027
    poly = poly * t + 1.421413741
    poly = poly * t - 0.284496736
    poly = poly * t + 0.254829592
    let y = 1 - poly * t * vexp(-ax * ax)
    return unsafeBitCast(unsafeBitCast(y, to: SIMD8<UInt32>.self) | signBits, to: FloatVector.self)
}
/// Applies `f` to `count` floats in place, a vector at a time (the tail is padded).
@inlinable
public func mapVectorized(_ p: UnsafeMutablePointer<Float>, _ count: Int, _ f: (FloatVector) -> FloatVector) {
    var i = 0
    let raw = UnsafeMutableRawPointer(p)
    while i + 8 <= count {
        let v = raw.loadUnaligned(fromByteOffset: i * 4, as: FloatVector.self)
        raw.storeBytes(of: f(v), toByteOffset: i * 4, as: FloatVector.self)
        i += 8
    }
    if i < count {
        var v = FloatVector(repeating: 0)
        for j in 0..<(count - i) { v[j] = p[i + j] }
        let r = f(v)
        for j in 0..<(count - i) { p[i + j] = r[j] }
    }
}
