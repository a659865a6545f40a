// Typed errors for impossible reduction requests (budgets larger than the token count, shapes
// that disagree, grids that do not tile). The older entry points (ToMe, TokenPruning) clamp or
// use preconditions; the methods added later throw these instead.
import TesseraCore

/// Why a reduction could not run.
public enum ReductionError: Error, Equatable, CustomStringConvertible {
    /// A budget (`k`, `keep`, `r`, …) outside what the input allows.
    case budget(String)
    /// Tensors or lists whose shapes do not fit together.
    case shape(String)
    /// A parameter outside its domain (ratios, strides, grid sizes).
    case parameter(String)

    /// The kind of problem, then the details, e.g. `shape mismatch: metric must be [N, C], got [2, 3, 4]`.
    public var description: String {
        switch self {
        case .budget(let s): "token budget: \(s)"
        case .shape(let s): "shape mismatch: \(s)"
        case .parameter(let s): "bad parameter: \(s)"
        }
    }
}

extension ReductionError {
    static func requireRank2(_ t: Tensor, _ name: String) throws {
        guard t.rank == 2 else { throw ReductionError.shape("\(name) must be [N, C], got \(t.shape)") }
    }
}
