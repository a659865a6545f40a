// Library-wide entry points: versions, the last error, threads, the memory limit.
import CTesseraABI
import Foundation
import Tessera

/// The library version (the Python package's and the wheel's).
let libraryVersion = "0.5.0"

@c @implementation
public func tess_abi_version() -> Int32 { TESS_ABI_VERSION }

@c @implementation
public func tess_version(_ buffer: UnsafeMutablePointer<CChar>?, _ capacity: Int) -> Int {
    copyOut(libraryVersion, buffer, capacity)
}

@c @implementation
public func tess_last_error(_ buffer: UnsafeMutablePointer<CChar>?, _ capacity: Int) -> Int {
    copyOut(LastError.current.message, buffer, capacity)
}

@c @implementation
public func tess_last_error_path(_ buffer: UnsafeMutablePointer<CChar>?, _ capacity: Int) -> Int {
    copyOut(LastError.current.path, buffer, capacity)
}

@c @implementation
public func tess_set_threads(_ threads: Int32) -> Int32 {
    guarded {
        guard (1...4096).contains(threads) else { throw BoundaryError.argument("threads must be in 1...4096") }
        Threading.threadCount = Int(threads)
    }
}

@c @implementation
public func tess_threads() -> Int32 { Int32(clamping: Threading.threadCount) }

@c @implementation
public func tess_set_memory_limit(_ bytes: Int64) -> Int32 {
    guarded { MemoryLimit.bytes = bytes > 0 ? Int(bytes) : MemoryLimit.defaultLimit() }
}

@c @implementation
public func tess_memory_limit() -> Int64 { Int64(MemoryLimit.bytes) }

/// Once per process, before the first model runs: the allocator policy of the `tessera` command
/// (freed tensor buffers are reused instead of returned to the kernel; ``MemoryPolicy``), so a
/// call from Python runs as fast as the command line. `TESSERA_MALLOC=default` leaves malloc alone.
let tuneAllocator: Void = {
    if ProcessInfo.processInfo.environment["TESSERA_MALLOC"] != "default" { MemoryPolicy.reuseFreedBuffers() }
}()
