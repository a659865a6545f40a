import Dispatch
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Process-wide threading settings for Tessera's CPU loops.
public enum Threading {
    /// Number of worker threads for parallel loops. Defaults to `TESSERA_THREADS` when set,
    /// otherwise the number of active processor cores. Values below 1 are treated as 1.
    /// Safe to read and set from any thread (a lock guards it: ThreadSanitizer found a test setting
    /// it while another test's loops read it).
    public static var threadCount: Int {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = max(1, newValue) } }
    }

    nonisolated(unsafe) private static var stored = max(1, defaultThreadCount())
    private static let lock = NSLock()

    private static func defaultThreadCount() -> Int {
        if let raw = getenv("TESSERA_THREADS"), let n = Int(String(cString: raw)), n > 0 { return n }
        return ProcessInfoCores.active
    }
}

enum ProcessInfoCores {
    static var active: Int {
        #if canImport(Glibc)
            return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        #else
            return max(1, Int(sysconf(_SC_NPROCESSORS_ONLN)))
        #endif
    }
}

/// Runs `body(i)` for every `i` in `0..<count`, split into contiguous chunks across
/// `Threading.threadCount` threads. Runs inline when there is one thread or one item.
///
/// `body` receives a half-open range of indices so that per-chunk setup (scratch buffers)
/// happens once per chunk, not once per element.
@inlinable
public func parallelChunks(_ count: Int, minChunk: Int = 1, _ body: (Range<Int>) -> Void) {
    guard count > 0 else { return }
    let threads = min(Threading.threadCount, max(1, count / max(1, minChunk)))
    if threads <= 1 {
        body(0..<count)
        return
    }
    let chunk = (count + threads - 1) / threads
    withoutActuallyEscaping(body) { body in
        // The caller guarantees its chunks touch disjoint memory.
        let work = UncheckedSendable(body)
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            let start = t * chunk
            let end = min(count, start + chunk)
            if start < end { work.value(start..<end) }
        }
    }
}

/// Carries a value across a concurrency boundary the compiler cannot check
/// (disjoint-memory parallel loops).
public struct UncheckedSendable<Value>: @unchecked Sendable {
    /// The wrapped value.
    public let value: Value
    /// Wraps `value`; the caller vouches that sharing it across threads is safe.
    @inlinable public init(_ value: Value) { self.value = value }
}

/// `body` applied to every element across cores (one element per work item, for coarse work
/// such as decoding files); the results come back in input order.
public func parallelMap<Element, Result>(_ elements: [Element], _ body: (Element) -> Result) -> [Result] {
    let slots = UnsafeMutableBufferPointer<Result?>.allocate(capacity: elements.count)
    slots.initialize(repeating: nil)
    defer {
        _ = slots.deinitialize()
        slots.deallocate()
    }
    withoutActuallyEscaping(body) { body in
        let shared = UncheckedSendable((slots, elements, body))
        DispatchQueue.concurrentPerform(iterations: elements.count) { i in
            let (slots, elements, body) = shared.value
            slots[i] = body(elements[i])
        }
    }
    return slots.compactMap { $0 }  // every slot is filled
}
