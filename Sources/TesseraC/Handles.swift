// The opaque handles of the ABI (tess_tokenizer*, tess_vision_encoder*, tess_quantizer*,
// tess_vocabulary*, tess_result*): each points to a retained Swift object until its *_free.
import Foundation

/// What a handle points to: one value, immutable once loaded, so threads may share it.
final class Handle<Value>: @unchecked Sendable {
    let value: Value
    private init(_ value: Value) { self.value = value }

    /// A new handle for the caller, who frees it with ``free(_:)``.
    static func make(_ value: Value) -> OpaquePointer {
        OpaquePointer(Unmanaged.passRetained(Handle(value)).toOpaque())
    }

    /// The value of a handle the caller passed in, checked to be a handle of this kind (a
    /// tokenizer passed where a quantizer is expected is an error, not a crash).
    static func borrow(_ pointer: OpaquePointer?, _ kind: String) throws -> Value {
        guard let pointer else { throw BoundaryError.argument("\(kind) is NULL") }
        let object = Unmanaged<AnyObject>.fromOpaque(UnsafeRawPointer(pointer)).takeUnretainedValue()
        guard let handle = object as? Handle<Value> else {
            throw BoundaryError.argument("not a \(kind) handle")
        }
        return handle.value
    }

    /// Releases a handle (NULL is ignored).
    static func free(_ pointer: OpaquePointer?) {
        guard let pointer else { return }
        Unmanaged<Handle<Value>>.fromOpaque(UnsafeRawPointer(pointer)).release()
    }
}

/// Stores a new handle of `value` in `out`. (An existential value would be opened here, giving a
/// handle of its concrete type: existentials use `Handle<any P>.make` directly.)
func deliver<Value>(handle value: Value, to out: UnsafeMutablePointer<OpaquePointer?>?) throws {
    try required(out, "out").pointee = Handle.make(value)
}
