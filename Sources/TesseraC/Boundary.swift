// What every entry point does at the C boundary: catch every error, turn it into a status code
// and a per-thread message, and copy strings out. Nothing may unwind or trap across it.
import CTesseraABI
import Foundation
import Tessera

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An error of the boundary itself: a bad argument, a buffer that is too small.
struct BoundaryError: Error, CustomStringConvertible {
    var status: Int32
    var description: String
    var path = ""

    static func argument(_ message: String) -> BoundaryError {
        BoundaryError(status: TESS_ERROR_ARGUMENT, description: message)
    }
}

/// The last error of each thread (pthread keys: the calling threads belong to the host).
enum LastError {
    final class State {
        var message = ""
        var path = ""
    }

    static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key) { pointer in
            #if canImport(Glibc)
                guard let pointer else { return }
            #endif
            Unmanaged<State>.fromOpaque(pointer).release()
        }
        return key
    }()

    static var current: State {
        if let raw = pthread_getspecific(key) { return Unmanaged<State>.fromOpaque(raw).takeUnretainedValue() }
        let state = State()
        pthread_setspecific(key, Unmanaged.passRetained(state).toOpaque())
        return state
    }

    static func set(_ message: String, path: String) {
        let state = current
        state.message = message
        state.path = path
    }
}

/// The status of an error, by what it is about.
func status(of error: any Error) -> Int32 {
    switch error {
    case let e as BoundaryError: return e.status
    case is MemoryLimitError: return TESS_ERROR_MEMORY
    case is MediaError, is TokenFileError, is ArrayFileError: return TESS_ERROR_INPUT
    case is ModelConfigError, is WeightLoadError, is UnknownModelError, is SafeTensorsError,
        is ConfigTreeError:
        return TESS_ERROR_MODEL
    case is TokenizerError, is VisionEncoderError, is TokenReductionError, is ReductionError, is QuantizerError:
        return TESS_ERROR_ARGUMENT
    case is CocoaError: return TESS_ERROR_INPUT  // files that cannot be read or written
    default: return TESS_ERROR_INTERNAL
    }
}

/// The file an error is about: its `path` property, when it has one.
func path(of error: any Error) -> String {
    if let e = error as? BoundaryError { return e.path }
    return Mirror(reflecting: error).children.first { $0.label == "path" }?.value as? String ?? ""
}

/// Runs `body`, returning TESS_OK, or the error's status with the thread's last error set.
func guarded(_ body: () throws -> Void) -> Int32 {
    do {
        try body()
        LastError.set("", path: "")
        return TESS_OK
    } catch {
        LastError.set(String(describing: error), path: path(of: error))
        return status(of: error)
    }
}

/// The text of a size-returning entry point (descriptors, JSON): `body`'s, or "{}" with the thread's
/// last error set when it fails (a NULL or wrong handle), as those calls return no status.
func textOrEmpty(_ body: () throws -> String) -> String {
    do {
        return try body()
    } catch {
        LastError.set(String(describing: error), path: path(of: error))
        return "{}"
    }
}

/// Copies `text` into `buffer` (NUL-terminated, truncated to `capacity`); returns its UTF-8 length.
func copyOut(_ text: String, _ buffer: UnsafeMutablePointer<CChar>?, _ capacity: Int) -> Int {
    let bytes = Array(text.utf8)
    if let buffer, capacity > 0 {
        let n = min(bytes.count, capacity - 1)
        bytes.withUnsafeBufferPointer { source in
            source.baseAddress.map { UnsafeMutableRawPointer(buffer).copyMemory(from: $0, byteCount: n) }
        }
        buffer[n] = 0
    }
    return bytes.count
}

/// A C string argument that must be present.
func string(_ pointer: UnsafePointer<CChar>?, _ name: String) throws -> String {
    guard let pointer else { throw BoundaryError.argument("\(name) is NULL") }
    return String(cString: pointer)
}

/// A pointer argument that must be present.
func required<T>(_ pointer: T?, _ name: String) throws -> T {
    guard let pointer else { throw BoundaryError.argument("\(name) is NULL") }
    return pointer
}

/// The product of sizes read from the caller, or an error when one is negative or it overflows.
func checkedProduct(_ values: [Int], _ what: String) throws -> Int {
    var product = 1
    for v in values {
        guard v >= 0 else { throw BoundaryError.argument("\(what): negative size \(v) in \(values)") }
        let (p, overflow) = product.multipliedReportingOverflow(by: v)
        guard !overflow else { throw BoundaryError.argument("\(what): \(values) overflows") }
        product = p
    }
    return product
}
