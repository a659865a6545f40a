import Foundation
import TesseraCore

/// The diagonal Gaussian posterior of a VAE bottleneck: the first half of the channels is
/// the mean, the second the log-variance (clamped to [−30, 20]).
public struct DiagonalGaussian: Sendable {
    /// The mean (the posterior's mode), `parameters` with the channel axis halved.
    public let mean: Tensor
    /// The clamped log-variance, same shape as ``mean``.
    public let logVariance: Tensor

    /// Splits `parameters` along `axis` into mean and log-variance.
    public init(parameters: Tensor, axis: Int) {
        let ax = parameters.axis(axis)
        let half = parameters.shape[ax] / 2
        let parts = parameters.split([half, half], axis: ax)
        mean = parts[0]
        logVariance = parts[1].map { Swift.min(Swift.max($0, -30), 20) }
    }

    /// `mean + std · ε`, ε ~ N(0, 1), one random stream per item of axis 0: item `i` draws from
    /// `SeededRandom(seed: seed, sample: keys[i])`, so its sample depends on the seed and its
    /// key only — not on the batch it came in or its place there.
    /// - Precondition: `keys.count` equals the size of axis 0.
    public func sample(seed: UInt64, keys: [UInt64]) -> Tensor {
        precondition(keys.count == mean.shape.first ?? 0, "one sample key per batch item")
        var out = mean
        let perItem = keys.isEmpty ? 0 : out.count / keys.count
        for (i, key) in keys.enumerated() {
            var random = SeededRandom(seed: seed, sample: key)
            for j in (i * perItem)..<((i + 1) * perItem) {
                let eps = random.normal()
                out.scalars[j] += Float(Foundation.exp(0.5 * Double(logVariance.scalars[j])) * eps)
            }
        }
        return out
    }
}
